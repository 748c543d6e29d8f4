"""v2 chat and embed response parsing: text, thinking and tool calls, finish reasons and
usage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import MalformedResponseError
from extmodels_integrations._types import (
    ChatChoice,
    ChatResponse,
    CompletionResponse,
    EmbeddingsResponse,
    ToolCall,
    Usage,
)
from extmodels_integrations.providers._views import completion_from_chat
from extmodels_integrations.providers.cohere._errors import PROVIDER, _failed
from extmodels_integrations.providers.cohere._request import _tool_call

# One map for the v2 finish reasons (upper case in the API; one SDK version spelled them in
# lower case, so lookups are case-insensitive). ERROR and TIMEOUT are raised, not mapped
# (``_errors._failed``).
_FINISH_REASONS: Mapping[str, str] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "ERROR_LIMIT": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter",
    "CONTENT_BLOCKED": "content_filter",
}


def finish_reason(value: Any) -> str | None:
    """The unified finish reason for a Cohere one; unknown values are kept as they are."""
    if value is None:
        return None
    text = str(value)
    return _FINISH_REASONS.get(text.upper(), text)


def parse_usage(usage: Any) -> Usage | None:
    """Unified usage from a v2 ``usage`` (or embed ``meta``) object; see the package docstring
    for why ``tokens`` wins over ``billed_units``."""
    if not isinstance(usage, Mapping):
        return None
    counts = usage.get("tokens") or usage.get("billed_units")
    if not isinstance(counts, Mapping):
        return None
    return Usage(
        prompt_tokens=int(counts.get("input_tokens") or 0),
        completion_tokens=int(counts.get("output_tokens") or 0),
        cache_read_tokens=_int_or_none(usage.get("cached_tokens")),
    ).completed()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def chat_logprobs(items: Any) -> dict[str, Any] | None:
    """Cohere's ``logprobs`` (the response's list of ``{text, token_ids, logprobs}`` items, or
    a ``content-delta`` event's one item) in OpenAI's chat shape, one entry per token, or
    ``None`` when there are none (not asked for).

    An item's ``text`` belongs to all its tokens together (a character split over several
    byte tokens has no text per token): the first entry carries it and its UTF-8 bytes, the
    others an empty token with ``bytes`` None, so tokens still join to the answer's text and
    every logprob keeps its token. Cohere returns no alternatives: ``top_logprobs`` is empty.
    """
    if isinstance(items, Mapping):
        items = [items]
    content = []
    for item in items if isinstance(items, list) else ():
        text = str(item.get("text") or "")
        for j, logprob in enumerate(item.get("logprobs") or ()):
            token, raw = (text, list(text.encode())) if j == 0 else ("", None)
            content.append(
                {"token": token, "logprob": float(logprob), "bytes": raw, "top_logprobs": []}
            )
    return {"content": content} if content else None


def _content(parts: Any) -> tuple[str | None, str | None]:
    """``(text, thinking)`` of a v2 assistant ``content`` list."""
    if isinstance(parts, str):
        return parts, None
    text = [p.get("text") or "" for p in parts or () if p.get("type") == "text"]
    thinking = [p.get("thinking") or "" for p in parts or () if p.get("type") == "thinking"]
    return ("".join(text) if text else None), ("".join(thinking) if thinking else None)


def _chat_choice(data: Mapping[str, Any]) -> tuple[ChatChoice, Usage | None]:
    error = _failed(data.get("finish_reason"), data.get("error"))
    if error is not None:
        raise error
    message = data.get("message") or {}
    text, thinking = _content(message.get("content"))
    reasoning = "".join(r for r in (thinking, message.get("tool_plan")) if r) or None
    calls = [
        ToolCall(
            id=call.get("id") or f"call_{i}",
            name=(call.get("function") or {}).get("name") or "",
            arguments=_tool_call(call)["function"]["arguments"],
        )
        for i, call in enumerate(message.get("tool_calls") or [])
    ]
    choice = ChatChoice(
        index=0,
        content=text,
        tool_calls=calls,
        finish_reason=finish_reason(data.get("finish_reason")),
        reasoning=reasoning,
        logprobs=chat_logprobs(data.get("logprobs")),
    )
    return choice, parse_usage(data.get("usage"))


def parse_chat(data: Any) -> ChatResponse:
    """A unified chat response from a v2 chat response."""
    try:
        choice, usage = _chat_choice(data)
        return ChatResponse(data.get("id"), None, [choice], usage, PROVIDER)
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected chat response shape: {exc}", provider=PROVIDER
        ) from None


def parse_completion(data: Any) -> CompletionResponse:
    """A unified completions response from a v2 chat response."""
    return completion_from_chat(parse_chat(data))


def parse_embeddings(data: Any) -> EmbeddingsResponse:
    """Unified embeddings from a v2 embed response (``embeddings.float``; a bare list as in v1
    is accepted too)."""
    try:
        vectors = data["embeddings"]
        if isinstance(vectors, Mapping):
            vectors = vectors["float"]
        meta = data.get("meta") or {}
        return EmbeddingsResponse(
            embeddings=[list(v) for v in vectors], usage=parse_usage(meta), provider=PROVIDER
        )
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected embeddings response shape: {exc!r}", provider=PROVIDER
        ) from None
