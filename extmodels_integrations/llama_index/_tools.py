"""Tool-calling helpers for the LlamaIndex ChatExternal: the OpenAI ``tool_choice`` LlamaIndex's
arguments ask for, and an answer cut to its first tool call when parallel calls were not allowed
(providers without a switch for it may send several)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock

__all__ = ["first_call_only", "first_calls_only", "wire_tool_choice"]


def wire_tool_choice(choice: str | dict[str, Any] | None, required: bool) -> str | dict[str, Any]:
    """``tool_choice`` on the wire: a bare tool name becomes a named function choice."""
    if choice is None:
        return "required" if required else "auto"
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "function": {"name": choice}}
    return choice


def first_call_only(response: ChatResponse) -> ChatResponse:
    """``response`` with its tool calls (blocks and OpenAI-style dicts) cut to the first."""
    calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if len(calls) > 1:
        response.message.blocks = [
            b for b in response.message.blocks if not isinstance(b, ToolCallBlock)
        ] + calls[:1]
        dicts = response.message.additional_kwargs.get("tool_calls") or []
        response.message.additional_kwargs["tool_calls"] = dicts[:1]
    return response


async def first_calls_only(
    stream: AsyncIterator[ChatResponse],
) -> AsyncGenerator[ChatResponse, None]:
    """Each streamed response of ``stream`` cut to its first tool call."""
    async for response in stream:
        yield first_call_only(response)
