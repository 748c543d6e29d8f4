"""Messages API responses -> unified responses: content blocks, stop reasons and usage
(cache reads and writes counted in ``prompt_tokens``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import MalformedResponseError
from extmodels_integrations._types import (
    ChatChoice,
    ChatResponse,
    ReasoningBlock,
    ToolCall,
    Usage,
)

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def stop_reason(value: Any) -> str | None:
    """The unified finish reason for an Anthropic ``stop_reason``."""
    return None if value is None else _STOP_REASONS.get(str(value), str(value))


def parse_usage(data: Any) -> Usage | None:
    """Unified usage from an Anthropic ``usage`` object (see the module notes on
    ``prompt_tokens``)."""
    if not isinstance(data, Mapping):
        return None
    read = _int_or_none(data.get("cache_read_input_tokens"))
    created = _int_or_none(data.get("cache_creation_input_tokens"))
    return Usage(
        prompt_tokens=int(data.get("input_tokens") or 0) + (read or 0) + (created or 0),
        completion_tokens=int(data.get("output_tokens") or 0),
        cache_read_tokens=read,
        cache_creation_tokens=created,
    ).completed()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_message(data: Any, provider: str) -> ChatResponse:
    """A unified chat response from a Messages API ``message``."""
    try:
        text: list[str] = []
        reasoning: list[ReasoningBlock] = []
        calls: list[ToolCall] = []
        for block in data.get("content") or ():
            kind = block.get("type")
            if kind == "text":
                text.append(block.get("text") or "")
            elif kind == "thinking":
                reasoning.append(
                    ReasoningBlock(block.get("thinking") or "", block.get("signature"))
                )
            elif kind == "redacted_thinking":
                reasoning.append(ReasoningBlock("", redacted=block.get("data") or ""))
            elif kind == "tool_use":
                calls.append(
                    ToolCall(
                        id=block.get("id") or f"toolu_{len(calls)}",
                        name=block.get("name") or "",
                        arguments=json.dumps(block.get("input") or {}, ensure_ascii=False),
                    )
                )
        choice = ChatChoice(
            index=0,
            content="".join(text) if text or not calls else None,
            tool_calls=calls,
            finish_reason=stop_reason(data.get("stop_reason")),
            reasoning="".join(b.text for b in reasoning) or None,
            reasoning_blocks=reasoning,
        )
        return ChatResponse(
            id=data.get("id"),
            model=data.get("model"),
            choices=[choice],
            usage=parse_usage(data.get("usage")),
            provider=provider,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected message shape: {exc}", provider=provider
        ) from None
