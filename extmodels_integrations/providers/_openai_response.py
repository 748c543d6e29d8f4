"""OpenAI-format answers: chat, completions and embeddings bodies, usage, and error bodies
(including the Databricks ``{"error_code", "message"}`` shape), for every target that speaks
the format (see ``_openai_format``).

Content may be a list of parts (including reasoning) rather than a string; reasoning may sit
in a sibling field (vLLM, DeepSeek).
"""

from __future__ import annotations

import base64
import json
import sys
from array import array
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import APIError, MalformedResponseError
from extmodels_integrations._types import (
    ChatChoice,
    ChatResponse,
    CompletionChoice,
    CompletionResponse,
    EmbeddingsResponse,
    ToolCall,
    Usage,
    call_signature,
    normalize_finish_reason,
)
from extmodels_integrations.providers._base import body_error, error_json, header_value

__all__ = [
    "chat_logprobs",
    "created_at",
    "map_error",
    "message_reasoning",
    "object_kind",
    "parse_chat",
    "parse_completion",
    "parse_embeddings",
    "parse_usage",
    "split_content",
]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-databricks-request-id", "apim-request-id")


def parse_usage(data: Any) -> Usage | None:
    """Unified usage from an OpenAI-style ``usage`` object (cache and reasoning details too)."""
    # ``None`` first: most stream chunks carry no usage, and the ABC check costs ~0.5 µs.
    if data is None or not isinstance(data, Mapping):
        return None
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        total_tokens=int(data.get("total_tokens") or 0),
        # Databricks endpoints fronting Claude report Anthropic-style cache fields.
        cache_read_tokens=_int_or_none(
            prompt_details.get("cached_tokens", data.get("cache_read_input_tokens"))
        ),
        cache_creation_tokens=_int_or_none(
            prompt_details.get("cache_creation_tokens", data.get("cache_creation_input_tokens"))
        ),
        reasoning_tokens=_int_or_none(completion_details.get("reasoning_tokens")),
    ).completed()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _role(value: Any) -> str:
    return value if type(value) is str and value else "assistant"


def object_kind(data: Mapping[str, Any]) -> str | None:
    """The answer's ``object``; a value of another type is a server's oddity, not a kind."""
    value = data.get("object")
    return value if type(value) is str else None


def created_at(data: Mapping[str, Any]) -> int | None:
    """The answer's ``created`` timestamp, when it is an integer."""
    value = data.get("created")
    return value if type(value) is int else None


def split_content(content: Any) -> tuple[str | None, str | None]:
    """``(text, reasoning)`` from a string or a list of content parts."""
    if content is None or isinstance(content, str):
        return content, None
    if not isinstance(content, list):
        raise MalformedResponseError(
            f"message content has unexpected type {type(content).__name__}"
        )
    text: list[str] = []
    reasoning: list[str] = []
    for part in content:
        if isinstance(part, str):
            text.append(part)
            continue
        kind = part.get("type")
        if kind in ("text", "output_text"):
            text.append(part.get("text") or "")
        elif kind == "reasoning":
            for item in part.get("summary") or []:
                reasoning.append(item.get("text") or "")
            if part.get("text"):
                reasoning.append(part["text"])
    return ("".join(text) if text else None), ("".join(reasoning) if reasoning else None)


def message_reasoning(message: Mapping[str, Any], from_parts: str | None) -> str | None:
    """The reasoning of a message or delta: from its content parts, else its own field."""
    # vLLM, DeepSeek and others put reasoning in a sibling field rather than in parts.
    return from_parts or message.get("reasoning_content") or message.get("reasoning")


def _arguments(value: Any) -> str:
    if value is None:
        return "{}"
    return value if isinstance(value, str) else json.dumps(value)


def chat_logprobs(value: Any) -> dict[str, Any] | None:
    """A choice's or delta's ``logprobs`` in OpenAI's chat shape (``{"content": [...]}``), or
    ``None`` when not asked for. AI21's SDK models ``content`` as one entry, not a list: it
    becomes a list of one."""
    if not isinstance(value, Mapping):
        return None
    content = value.get("content")
    if isinstance(content, Mapping):
        return {**value, "content": [content]}
    return dict(value) if content or value.get("refusal") else None


def parse_chat(data: Any, provider: str) -> ChatResponse:
    """A unified chat response from an OpenAI-style ``chat.completion`` body."""
    try:
        choices = []
        for i, choice in enumerate(data.get("choices") or []):
            message = choice.get("message") or {}
            content, reasoning = split_content(message.get("content"))
            tool_calls = [
                ToolCall(
                    id=call.get("id") or f"call_{i}_{j}",
                    name=(call.get("function") or {}).get("name") or "",
                    arguments=_arguments((call.get("function") or {}).get("arguments")),
                    # Gemini's signature as OpenAI-format servers carry it (a serving endpoint
                    # or gateway in front of Gemini 3, Gemini's own OpenAI API): Gemini
                    # refuses the next turn if it does not come back.
                    signature=call_signature(call),
                )
                for j, call in enumerate(message.get("tool_calls") or [])
            ]
            choices.append(
                ChatChoice(
                    index=choice.get("index", i),
                    content=content,
                    tool_calls=tool_calls,
                    finish_reason=normalize_finish_reason(choice.get("finish_reason")),
                    reasoning=message_reasoning(message, reasoning),
                    role=_role(message.get("role")),
                    logprobs=chat_logprobs(choice.get("logprobs")),
                )
            )
        return ChatResponse(
            id=data.get("id"),
            model=data.get("model"),
            choices=choices,
            usage=parse_usage(data.get("usage")),
            provider=provider,
            object=object_kind(data),
            created=created_at(data),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected chat response shape: {exc}", provider=provider
        ) from None


def parse_completion(data: Any, provider: str) -> CompletionResponse:
    """A unified completions response from an OpenAI-style ``text_completion`` body."""
    try:
        choices = [
            CompletionChoice(
                index=choice.get("index", i),
                text=choice.get("text") or "",
                finish_reason=normalize_finish_reason(choice.get("finish_reason")),
                logprobs=choice.get("logprobs") or None,
            )
            for i, choice in enumerate(data.get("choices") or [])
        ]
        return CompletionResponse(
            id=data.get("id"),
            model=data.get("model"),
            choices=choices,
            usage=parse_usage(data.get("usage")),
            provider=provider,
            object=object_kind(data),
            created=created_at(data),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected completion response shape: {exc}", provider=provider
        ) from None


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):
        # encoding_format="base64": little-endian float32.
        floats = array("f", base64.b64decode(value))
        if sys.byteorder != "little":
            floats.byteswap()
        return floats.tolist()
    return value  # type: ignore[no-any-return]


def _check_pooled(items: list[Any], provider: str) -> None:
    vector = items[0].get("embedding") if items and isinstance(items[0], Mapping) else None
    if isinstance(vector, list) and vector and isinstance(vector[0], list):
        # llama.cpp's server with pooling "none" answers one vector per token of each input.
        raise MalformedResponseError(
            f"the server sent a list of {len(vector)} vectors for input 0 instead of one vector "
            "per input: token-level embeddings, without pooling; start the server with a "
            "pooling type (llama.cpp: --pooling mean) or use a model that pools",
            provider=provider,
        )


def parse_embeddings(data: Any, provider: str) -> EmbeddingsResponse:
    """Unified embeddings (in input order) from an OpenAI-style ``list`` of embeddings."""
    try:
        items = data["data"]
        if any("index" in item for item in items):
            items = sorted(items, key=lambda item: item["index"])
        _check_pooled(items, provider)
        usage = data.get("usage")
        return EmbeddingsResponse(
            embeddings=[_vector(item["embedding"]) for item in items],
            model=data.get("model"),
            usage=parse_usage(usage) if usage else None,
            provider=provider,
            object=object_kind(data),
        )
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected embeddings response shape: {exc!r}", provider=provider
        ) from None


def map_error(provider: str, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for an OpenAI-style or Databricks-style error body."""
    message, code = "", None
    data = error_json(body)
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            message = str(error.get("message") or "")
            code = error.get("code") or error.get("type")
            inner = error.get("innererror")
            if isinstance(inner, Mapping) and inner.get("code") == "ResponsibleAIPolicyViolation":
                code = "content_filter"
        else:
            message = str(data.get("message") or data.get("detail") or error or "")
            code = data.get("error_code")
    request_id = header_value(headers, _REQUEST_ID_HEADERS)
    return body_error(status, body, message, provider=provider, code=code, request_id=request_id)
