"""Anthropic extended thinking through the LlamaIndex classes on the loopback stub: signed
thinking arrives as ``ThinkingBlock`` s with their signature (in ``additional_information``,
where llama-index-llms-anthropic keeps it), streamed thinking and ``signature_delta`` join into
one block, and the block goes back, signature intact, on the turn after a tool call (the stub
refuses the turn otherwise, as the API does). Unsigned reasoning is never sent back."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.tools import FunctionTool

from extmodels_integrations.llama_index import ChatExternal
from tests.support.openai_server import OpenAIStubServer
from tests.support.wires.anthropic import signature


def _weather(location: str) -> str:
    """Get the weather at a location."""
    return "sunny"


WEATHER = FunctionTool.from_defaults(_weather)


def _claude(stub: OpenAIStubServer) -> ChatExternal:
    return ChatExternal(
        external_model={
            "name": "claude-sonnet-4-5-20250929",
            "provider": "anthropic",
            "task": "llm/v1/chat",
            "anthropic_config": {
                "anthropic_api_key_plaintext": "test-key",
                "anthropic_api_base": stub.base_url,
            },
        },
        max_tokens=2048,
        additional_kwargs={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )


async def _answer(llm: ChatExternal, streamed: bool, sync: bool, **call: Any) -> ChatResponse:
    if not streamed:
        return llm.chat_with_tools(**call) if sync else await llm.achat_with_tools(**call)
    if sync:
        return list(llm.stream_chat_with_tools(**call))[-1]
    return [r async for r in await llm.astream_chat_with_tools(**call)][-1]


def _signed(response: ChatResponse) -> ThinkingBlock:
    [block] = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert block.content
    assert block.additional_information == {"signature": signature(block.content)}
    return block


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_signed_thinking_goes_back_after_a_tool_call(
    stub: OpenAIStubServer, streamed: bool, sync: bool
) -> None:
    llm = _claude(stub)
    question = "Use the tool to get the weather in Paris"
    first = await _answer(llm, streamed, sync, tools=[WEATHER], user_msg=question)
    _signed(first)
    [call] = llm.get_tool_calls_from_response(first)
    result = ChatMessage(
        role=MessageRole.TOOL,
        content="sunny",
        additional_kwargs={"tool_call_id": call.tool_id, "name": call.tool_name},
    )
    history = [ChatMessage(role="user", content=question), first.message, result]
    second = await _answer(llm, streamed, sync, tools=[WEATHER], chat_history=history)
    sent = stub.last_json()["messages"][1]["content"]
    thinking = sent[0]
    assert thinking["type"] == "thinking" and set(thinking) == {"type", "thinking", "signature"}
    assert thinking["signature"] == signature(thinking["thinking"])
    assert second.message.content


def test_a_redacted_block_round_trips() -> None:
    from extmodels_integrations._types import ReasoningBlock
    from extmodels_integrations.llama_index._convert import _assistant, to_unified_messages

    message = _assistant("Hi", None, [], [ReasoningBlock("", redacted="ENC")])
    assert isinstance(message.blocks[0], ThinkingBlock)
    [unified] = to_unified_messages([message])
    assert unified["content"] == [
        {"type": "redacted_thinking", "data": "ENC"},
        {"type": "text", "text": "Hi"},
    ]


def test_unsigned_reasoning_is_not_sent_back(stub: OpenAIStubServer) -> None:
    from extmodels_integrations.llama_index._convert import to_unified_messages

    earlier = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[ThinkingBlock(content="hm"), TextBlock(text="Hi")],
    )
    assert to_unified_messages([earlier])[0]["content"] == "Hi"
    with_call = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[
            ThinkingBlock(content="x", additional_information={"signature": "s"}),
            ToolCallBlock(tool_call_id="t1", tool_name="f", tool_kwargs={}),
        ],
    )
    [unified] = to_unified_messages([with_call])
    assert unified["content"] == [{"type": "thinking", "thinking": "x", "signature": "s"}]
    assert unified["tool_calls"][0]["id"] == "t1"
