"""What a new user hit against llama.cpp's OpenAI-compatible server (issue 22), reproduced on
the loopback stub that answers as that server does (tests/support/llamacpp_server.py): streamed
tool calls that repeat their name, a 200 stream without events, prompt lists refused with a
500, token-level embeddings; and errors and logs that say where a failure happened."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessageChunk, ToolMessage
from langchain_core.tools import tool
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool

from extmodels_integrations import (
    APIConnectionError,
    EmptyStreamError,
    ExternalClient,
    MalformedResponseError,
    NotFoundError,
)
from extmodels_integrations.langchain import ChatExternal
from extmodels_integrations.llama_index import ChatExternal as LlamaIndexChat
from extmodels_integrations.providers._openai_stream import ChatStreamParser
from tests.support.llamacpp_server import LlamaCppStubServer
from tests.support.openai_server import OpenAIStubServer


@pytest.fixture
def server() -> Iterator[LlamaCppStubServer]:
    with LlamaCppStubServer() as stub:
        yield stub


def _model(base: str, task: str = "llm/v1/chat") -> dict[str, Any]:
    return {
        "name": "smollm2",
        "provider": "openai",
        "task": task,
        "openai_config": {"openai_api_key_plaintext": "sk-local", "openai_api_base": base},
    }


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_langchain_streamed_tool_call_keeps_one_name_and_id(server: LlamaCppStubServer) -> None:
    llm = ChatExternal(external_model=_model(f"{server.base_url}/v1"))
    bound = llm.bind_tools([get_weather], tool_choice="get_weather")
    chunks = list(bound.stream("Use the tool to get the weather in Paris"))
    deltas = [c for c in chunks if isinstance(c, AIMessageChunk) and c.tool_call_chunks]
    assert len(deltas) > 2  # the server repeated the name in each of them
    merged = sum(chunks[1:], chunks[0])
    assert isinstance(merged, AIMessageChunk)
    [call] = merged.tool_calls
    assert call["name"] == "get_weather"
    assert call["args"] == {"city": "Paris"}
    assert call["id"] and call["id"].count(call["id"][:6]) == 1


def test_llama_index_streamed_tool_call_keeps_one_name(server: LlamaCppStubServer) -> None:
    llm = LlamaIndexChat(external_model=_model(f"{server.base_url}/v1"))
    weather = FunctionTool.from_defaults(fn=lambda city: f"sunny in {city}", name="get_weather")
    *_, last = llm.stream_chat_with_tools(
        [weather], user_msg="Use the tool to get the weather in Paris", tool_required=True
    )
    [call] = llm.get_tool_calls_from_response(last, error_on_no_tool_call=True)
    assert call.tool_name == "get_weather"
    assert call.tool_kwargs == {"city": "Paris"}


def test_a_200_stream_without_events_is_answered_unstreamed(
    server: LlamaCppStubServer, caplog: pytest.LogCaptureFixture
) -> None:
    llm = ChatExternal(external_model=_model(f"{server.base_url}/v1")).bind_tools([get_weather])
    with caplog.at_level(logging.INFO, logger="extmodels_integrations"):
        chunks = list(llm.stream("Use the tool to get the weather in Paris"))
    merged = sum(chunks[1:], chunks[0])
    assert isinstance(merged, AIMessageChunk)
    assert [c["name"] for c in merged.tool_calls] == ["get_weather"]
    assert [bool(r.json.get("stream")) for r in server.requests] == [True, False]
    assert "sent an empty stream; answered without streaming" in caplog.text


PARIS = {"messages": [{"role": "user", "content": "Use the tool to get the weather in Paris"}]}


def test_langchain_create_agent_streams_messages(server: LlamaCppStubServer) -> None:
    agent = create_agent(
        ChatExternal(external_model=_model(f"{server.base_url}/v1")), tools=[get_weather]
    )
    streamed = [message for message, _ in agent.stream(PARIS, stream_mode="messages")]
    calls = [c for m in streamed if isinstance(m, AIMessageChunk) for c in m.tool_call_chunks]
    assert [c["name"] for c in calls] == ["get_weather"]
    assert [m.content for m in streamed if isinstance(m, ToolMessage)] == ["sunny in Paris"]
    assert "sunny in Paris" in "".join(
        str(m.content) for m in streamed if isinstance(m, AIMessageChunk)
    )


async def test_llama_index_function_agent_streams_events(server: LlamaCppStubServer) -> None:
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    agent = FunctionAgent(
        tools=[weather], llm=LlamaIndexChat(external_model=_model(f"{server.base_url}/v1"))
    )
    handler = agent.run(user_msg=PARIS["messages"][0]["content"])
    events = [type(event).__name__ async for event in handler.stream_events()]
    result = await handler
    assert events.count("ToolCallResult") == 1
    assert "AgentStream" in events
    assert "sunny in Paris" in str(result)


def test_an_empty_stream_that_cannot_be_replayed_says_what_happened() -> None:
    parser = ChatStreamParser("openai")
    with pytest.raises(EmptyStreamError) as caught:
        parser.finish()
    message = str(caught.value)
    assert "closed the stream without sending any event" in message
    assert "streaming=False" in message
    assert "probably cut" not in message


def test_prompt_lists_fall_back_to_one_request_per_prompt_once(
    server: LlamaCppStubServer, caplog: pytest.LogCaptureFixture
) -> None:
    model = _model(f"{server.base_url}/v1", "llm/v1/completions")
    with ExternalClient(external_model=model, max_retries=0) as client:
        with caplog.at_level(logging.INFO, logger="extmodels_integrations"):
            first = client.complete(prompt=["one", "two", "three"])
        lists = [r for r in server.requests if isinstance(r.json.get("prompt"), list)]
        assert [len(r.json["prompt"]) for r in lists] == [3]
        assert len(server.requests) == 4
        assert [c.index for c in first.choices] == [0, 1, 2]
        assert "one prompt per request from now on" in caplog.text
        server.reset()
        second = client.complete(prompt=["four", "five"])
        assert [r.json["prompt"] for r in server.requests] == ["four", "five"]
        assert len(second.choices) == 2


async def test_prompt_lists_fall_back_in_async_too(server: LlamaCppStubServer) -> None:
    model = _model(f"{server.base_url}/v1", "llm/v1/completions")
    async with ExternalClient(external_model=model, max_retries=0) as client:
        answer = await client.acomplete(prompt=["one", "two"])
    assert [c.index for c in answer.choices] == [0, 1]
    assert sorted(str(r.json["prompt"]) for r in server.requests[1:]) == ["one", "two"]


def test_token_level_embeddings_say_what_came_and_what_to_set() -> None:
    with LlamaCppStubServer(pooling="none") as stub:
        model = _model(f"{stub.base_url}/v1", "llm/v1/embeddings")
        with (
            ExternalClient(external_model=model) as client,
            pytest.raises(MalformedResponseError) as caught,
        ):
            client.embed(["a sentence"])
    assert "list of 2 vectors for input 0" in str(caught.value)
    assert "--pooling mean" in str(caught.value)


def test_a_404_on_a_base_without_v1_hints_at_the_suffix() -> None:
    with OpenAIStubServer() as stub:
        base = stub.base_url
        stub.fail_next(404)
        with (
            ExternalClient(external_model=_model(base)) as client,
            pytest.raises(NotFoundError) as caught,
        ):
            client.chat(messages=[{"role": "user", "content": "hi"}])
    message = str(caught.value)
    assert f"try openai_api_base='{base}/v1'" in message
    assert f"url={base}/chat/completions" in message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_errors_name_the_served_entity_and_the_url(caplog: pytest.LogCaptureFixture) -> None:
    down = [f"http://127.0.0.1:{_closed_port()}/v1" for _ in range(2)]
    config = {
        "name": f"local-{uuid.uuid4().hex[:8]}",
        "config": {
            "served_entities": [
                {"name": name, "external_model": _model(base)}
                for name, base in zip(("first", "second"), down, strict=True)
            ],
            "traffic_config": {
                "routes": [
                    {"served_model_name": "first", "traffic_percentage": 100},
                    {"served_model_name": "second", "traffic_percentage": 0},
                ]
            },
        },
        "ai_gateway": {"fallback_config": {"enabled": True}},
    }
    with (
        caplog.at_level(logging.DEBUG, logger="extmodels_integrations"),
        ExternalClient(endpoint_config=config, max_retries=1) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        client.router.entities[0].client.transport.sleep = lambda _: None  # type: ignore[union-attr]
        client.router.entities[1].client.transport.sleep = lambda _: None  # type: ignore[union-attr]
        client.chat(messages=[{"role": "user", "content": "hi"}])
    error = caught.value
    assert error.served_entity == "second"
    assert error.url == f"{down[1]}/chat/completions"
    assert f"{down[1]}/chat/completions" in str(error)
    assert "served entity 'second'" in str(error)
    messages = [r.getMessage() for r in caplog.records]
    assert any("routed to served entity 'first'" in m for m in messages)
    assert any("retry 1 of 1" in m for m in messages)
    assert any(
        "'first' failed (APIConnectionError); falling back to 'second'" in m for m in messages
    )
    fallback = next(r for r in caplog.records if "falling back" in r.getMessage())
    assert fallback.levelno == logging.INFO
    assert "sk-local" not in caplog.text
