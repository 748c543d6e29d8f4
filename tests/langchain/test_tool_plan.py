"""Text or reasoning streamed before tool calls, end to end on the loopback stub's Cohere wire
(every Cohere tool call comes after a ``tool_plan``, reported as reasoning).

With ``output_version="v1"`` langchain-core numbers the blocks without an index (reasoning,
text) itself and merges blocks of equal index: the tool-call fragments must be numbered past
them, or the plan swallows the call's block. The plan of an answer goes back to Cohere as that
turn's ``tool_plan`` whichever shape the history keeps it in.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage

from extmodels_integrations.langchain import ChatExternal
from tests.support.openai_server import OpenAIStubServer
from tests.support.wires.cohere import PLAN

QUESTION = HumanMessage("What is the value of magic_function(3)? Use the tool.")


def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


def _model(stub: OpenAIStubServer, **fields: Any) -> ChatExternal:
    return ChatExternal(
        external_model={
            "name": "command-a-03-2025",
            "provider": "cohere",
            "task": "llm/v1/chat",
            "cohere_config": {
                "cohere_api_key_plaintext": "test-key",
                "cohere_api_base": stub.base_url,
            },
        },
        **fields,
    )


async def _streamed(model: Any, messages: list[Any], sync: bool) -> AIMessageChunk:
    chunks = list(model.stream(messages)) if sync else [c async for c in model.astream(messages)]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    return total


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_v1_stream_keeps_the_plan_and_the_call_apart(
    server: OpenAIStubServer, sync: bool
) -> None:
    model = _model(server, output_version="v1").bind_tools([magic_function])
    total = await _streamed(model, [QUESTION], sync)
    kinds = [(b["type"], b.get("reasoning") or b.get("name")) for b in total.content_blocks]
    assert kinds == [("reasoning", PLAN), ("tool_call", "magic_function")]
    assert [c["args"] for c in total.tool_calls] == [{"input": 3}]


async def test_v0_stream_keeps_the_providers_tool_call_indexes(server: OpenAIStubServer) -> None:
    model = _model(server).bind_tools([magic_function])
    indexes = {c["index"] for chunk in model.stream([QUESTION]) for c in chunk.tool_call_chunks}
    assert indexes == {0}


@pytest.mark.parametrize("output_version", ["v0", "v1"])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_the_plan_goes_back_as_tool_plan(
    server: OpenAIStubServer, output_version: str, streamed: bool
) -> None:
    model = _model(server, output_version=output_version).bind_tools([magic_function])
    first = await _streamed(model, [QUESTION], True) if streamed else model.invoke([QUESTION])
    result = ToolMessage("5", tool_call_id=first.tool_calls[0]["id"])
    model.invoke([QUESTION, first, result])
    sent = server.last_json()["messages"][1]
    # v0 keeps the plan in additional_kwargs, which LangChain does not send back.
    expected = {"tool_plan": PLAN} if output_version == "v1" else {}
    assert {k: v for k, v in sent.items() if k == "tool_plan"} == expected
    assert "content" not in sent
