"""``GenerateContentResponse`` parsing: candidates, finish reasons, usage, prompt blocks and
the made-up tool call ids (shared with the stream parsers so both yield the same ids)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import ContentFilterError, MalformedResponseError
from extmodels_integrations._types import (
    ChatChoice,
    ChatResponse,
    CompletionChoice,
    CompletionResponse,
    ToolCall,
    Usage,
)
from extmodels_integrations.providers.vertex._errors import PROVIDER
from extmodels_integrations.providers.vertex._logprobs import chat_logprobs, completion_logprobs

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
    | {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}
)
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}


def _finish_reason(value: Any, called: bool) -> str | None:
    """Gemini reports STOP after function calls too; a candidate with calls ended for them."""
    if value is None:
        return None
    if called and value == "STOP":
        return "tool_calls"
    return "content_filter" if value in _FILTERED else _FINISH.get(value, value)


def parse_usage(metadata: Any) -> Usage | None:
    """Unified usage from ``usageMetadata``; completion tokens include thinking tokens, as
    OpenAI counts reasoning tokens, so prompt + completion matches ``totalTokenCount``."""
    if not isinstance(metadata, Mapping):
        return None
    thoughts = metadata.get("thoughtsTokenCount")
    cached = metadata.get("cachedContentTokenCount")
    return Usage(
        prompt_tokens=int(metadata.get("promptTokenCount") or 0),
        completion_tokens=int(metadata.get("candidatesTokenCount") or 0) + int(thoughts or 0),
        total_tokens=int(metadata.get("totalTokenCount") or 0),
        cache_read_tokens=None if cached is None else int(cached),
        reasoning_tokens=None if thoughts is None else int(thoughts),
    ).completed()


def tool_call_id(
    response_id: str | None, candidate: int, ordinal: int, call: Mapping[str, Any]
) -> str:
    """A made-up call id (Gemini gives none): a hash of the response id, the call's place and
    its content, so the same response always yields the same ids, streamed or not."""
    key = json.dumps(
        [response_id, candidate, ordinal, call.get("name"), call.get("args")], sort_keys=True
    )
    return "call_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _check_blocked(data: Mapping[str, Any]) -> None:
    feedback = data.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    if reason and not data.get("candidates"):
        detail = feedback.get("blockReasonMessage") or "the prompt was blocked"
        raise ContentFilterError(f"{detail} ({reason})", provider=PROVIDER, code=str(reason))


class _Candidate:
    """What one candidate part list holds: visible text, thought text and function calls, with
    the ``thoughtSignature`` of each call part (``None`` for an unsigned one: of parallel calls
    Gemini signs the first only)."""

    __slots__ = ("calls", "reasoning", "signatures", "text")

    def __init__(self, candidate: Mapping[str, Any]) -> None:
        text: list[str] = []
        reasoning: list[str] = []
        self.calls: list[Mapping[str, Any]] = []
        self.signatures: list[str | None] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if "functionCall" in part:
                self.calls.append(part["functionCall"])
                signature = part.get("thoughtSignature")
                self.signatures.append(signature if isinstance(signature, str) else None)
            elif isinstance(part.get("text"), str):
                (reasoning if part.get("thought") else text).append(part["text"])
        self.text = "".join(text) or None
        self.reasoning = "".join(reasoning) or None


def _candidates(data: Any) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(data, Mapping):
        raise MalformedResponseError(
            f"unexpected Vertex AI response: {str(data)[:200]!r}", provider=PROVIDER
        )
    _check_blocked(data)
    return [(c.get("index", i), c) for i, c in enumerate(data.get("candidates") or [])]


def parse_chat(data: Any) -> ChatResponse:
    """A unified chat response from a ``GenerateContentResponse``."""
    response_id = data.get("responseId") if isinstance(data, Mapping) else None
    choices = []
    for index, candidate in _candidates(data):
        parsed = _Candidate(candidate)
        calls = [
            ToolCall(
                tool_call_id(response_id, index, k, c),
                str(c.get("name")),
                json.dumps(c.get("args") or {}),
                signature,
            )
            for k, (c, signature) in enumerate(zip(parsed.calls, parsed.signatures, strict=True))
        ]
        finish = _finish_reason(candidate.get("finishReason"), bool(calls))
        choices.append(
            ChatChoice(
                index,
                parsed.text,
                calls,
                finish,
                parsed.reasoning,
                logprobs=chat_logprobs(candidate),
            )
        )
    return ChatResponse(
        response_id,
        data.get("modelVersion"),
        choices,
        parse_usage(data.get("usageMetadata")),
        PROVIDER,
    )


def parse_completion(data: Any) -> CompletionResponse:
    """A unified completions response from a ``GenerateContentResponse``."""
    choices = [
        CompletionChoice(
            index,
            _Candidate(c).text or "",
            _finish_reason(c.get("finishReason"), False),
            completion_logprobs(c)[0],
        )
        for index, c in _candidates(data)
    ]
    return CompletionResponse(
        data.get("responseId"),
        data.get("modelVersion"),
        choices,
        parse_usage(data.get("usageMetadata")),
        PROVIDER,
    )
