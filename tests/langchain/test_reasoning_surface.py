"""Anthropic extended thinking end to end on the loopback stub: signed thinking blocks come back
as content (``model_provider="anthropic"`` so ``content_blocks`` translate them), streamed
thinking and ``signature_delta`` merge into one block, and the block is sent back, signature
intact, on the turn after a tool call (the stub refuses it otherwise, as the API does)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

from extmodels_integrations.langchain import ChatExternal
from tests.support.openai_server import OpenAIStubServer
from tests.support.wires.anthropic import signature

THINKING = {"type": "enabled", "budget_tokens": 1024}


def _model(stub: OpenAIStubServer, **fields: Any) -> ChatExternal:
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
        extra_params={"thinking": THINKING},
        **fields,
    )


def _weather(location: str) -> str:
    """Get the weather at a location."""
    return "sunny"


async def _answer(model: Any, messages: list[Any], streamed: bool, sync: bool) -> AIMessage:
    if not streamed:
        return model.invoke(messages) if sync else await model.ainvoke(messages)  # type: ignore[no-any-return]
    total: AIMessageChunk | None = None
    if sync:
        for chunk in model.stream(messages):
            total = chunk if total is None else total + chunk
    else:
        async for chunk in model.astream(messages):
            total = chunk if total is None else total + chunk
    assert total is not None
    return total


def _thinking(message: AIMessage) -> dict[str, Any]:
    assert isinstance(message.content, list)
    block = message.content[0]
    assert isinstance(block, dict) and block["type"] == "thinking"
    assert block["signature"] == signature(block["thinking"])
    return block


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_signed_thinking_is_content_and_translates(
    stub: OpenAIStubServer, streamed: bool, sync: bool
) -> None:
    message = await _answer(_model(stub), [HumanMessage("Hello there")], streamed, sync)
    block = _thinking(message)
    assert message.response_metadata["model_provider"] == "anthropic"
    assert message.text
    reasoning = message.content_blocks[0]
    assert reasoning["type"] == "reasoning"
    assert reasoning.get("reasoning") == block["thinking"]
    assert reasoning.get("extras", {}).get("signature") == block["signature"]


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("output_version", ["v0", "v1"])
async def test_thinking_is_sent_back_after_a_tool_call(
    stub: OpenAIStubServer, streamed: bool, sync: bool, output_version: str
) -> None:
    model = _model(stub, output_version=output_version).bind_tools([_weather])
    question = HumanMessage("Use the tool to get the weather in Paris")
    first = await _answer(model, [question], streamed, sync)
    assert first.tool_calls
    result = ToolMessage("sunny", tool_call_id=first.tool_calls[0]["id"])
    second = await _answer(model, [question, first, result], streamed, sync)
    sent = stub.last_json()["messages"][1]["content"]
    assert sent[0]["type"] == "thinking" and set(sent[0]) == {"type", "thinking", "signature"}
    assert second.response_metadata["model_provider"] == "anthropic"


async def test_thinking_is_left_out_for_openai(stub: OpenAIStubServer) -> None:
    earlier = AIMessage(
        content=[
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "text", "text": "Hi"},
        ]
    )
    model = ChatExternal(
        external_model={
            "name": "gpt-4o-mini",
            "provider": "openai",
            "task": "llm/v1/chat",
            "openai_config": {
                "openai_api_key_plaintext": "k",
                "openai_api_base": stub.base_url + "/v1",
            },
        }
    )
    reply = model.invoke([HumanMessage("a"), earlier, HumanMessage("b")])
    assert stub.last_json()["messages"][1]["content"] == "Hi"
    assert reply.response_metadata["model_provider"] == "openai"


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_cache_control_passes_and_cache_tokens_are_reported(
    stub: OpenAIStubServer, streamed: bool, sync: bool
) -> None:
    system = {
        "role": "system",
        "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    }
    message = await _answer(_model(stub), [system, HumanMessage("Hello there")], streamed, sync)
    assert stub.last_json()["system"][0]["cache_control"] == {"type": "ephemeral"}
    usage = message.usage_metadata
    assert usage is not None
    details = usage.get("input_token_details") or {}
    assert details.get("cache_read", 0) > 0 and "cache_creation" in details
    assert usage["input_tokens"] == 1 + details["cache_read"] + details["cache_creation"]
