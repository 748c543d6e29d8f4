"""Pure conversions between LangChain objects and the unified schema (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk

from extmodels_integrations._types import ChatChoice, ChatChunkChoice, Message, Usage

__all__ = ["to_ai_message", "to_chunk_message", "to_unified_messages", "usage_metadata"]


# LangChain v1 content blocks that duplicate ``tool_calls``; no provider takes them as content.
_TOOL_CALL_BLOCKS = frozenset({"tool_call", "tool_call_chunk", "invalid_tool_call"})


def to_unified_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """OpenAI-style message dicts (tool calls, tool results and content blocks included)."""
    converted = cast("list[Message]", convert_to_openai_messages(list(messages)))
    for message in converted:
        content = message.get("content")
        if message.get("role") == "assistant" and isinstance(content, list):
            kept = [b for b in content if b.get("type") not in _TOOL_CALL_BLOCKS]
            if len(kept) != len(content):
                message["content"] = kept or None
    return converted


def usage_metadata(usage: Usage) -> UsageMetadata:
    """LangChain usage, with cache and reasoning details when the provider reports them."""
    result = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )
    input_details = InputTokenDetails()
    if usage.cache_read_tokens is not None:
        input_details["cache_read"] = usage.cache_read_tokens
    if usage.cache_creation_tokens is not None:
        input_details["cache_creation"] = usage.cache_creation_tokens
    if input_details:
        result["input_token_details"] = input_details
    if usage.reasoning_tokens is not None:
        result["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    return result


def to_ai_message(
    choice: ChatChoice,
    *,
    usage: Usage | None,
    metadata: dict[str, Any],
    message_id: str | None,
) -> AIMessage:
    """An ``AIMessage`` from one unified choice; unparseable tool arguments become
    ``invalid_tool_calls`` rather than an exception, as in the other partner packages."""
    tool_calls = []
    invalid = []
    for call in choice.tool_calls:
        try:
            args = json.loads(call.arguments) if call.arguments else {}
            if not isinstance(args, dict):
                raise ValueError("arguments are not a JSON object")
            tool_calls.append(tool_call(name=call.name, args=args, id=call.id))
        except ValueError as exc:
            invalid.append(
                invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=str(exc))
            )
    additional: dict[str, Any] = {}
    if choice.reasoning:
        additional["reasoning_content"] = choice.reasoning
    return AIMessage(
        content=choice.content or "",
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        additional_kwargs=additional,
        usage_metadata=usage_metadata(usage) if usage is not None else None,
        response_metadata={**metadata, "finish_reason": choice.finish_reason},
        id=message_id,
    )


def to_chunk_message(choice: ChatChunkChoice, message_id: str | None) -> AIMessageChunk:
    """An ``AIMessageChunk`` from one streamed delta, tool-call fragments included."""
    # Only the fields a delta carries are passed: every keyword costs a pydantic validation, and
    # a plain text delta (the common case) otherwise paid ~40% more per chunk.
    fields: dict[str, Any] = {}
    if choice.tool_calls:
        fields["tool_call_chunks"] = [
            tool_call_chunk(name=d.name, args=d.arguments, id=d.id, index=d.index)
            for d in choice.tool_calls
        ]
    if choice.reasoning:
        fields["additional_kwargs"] = {"reasoning_content": choice.reasoning}
    if message_id is not None:
        fields["id"] = message_id
    return AIMessageChunk(content=choice.content or "", **fields)
