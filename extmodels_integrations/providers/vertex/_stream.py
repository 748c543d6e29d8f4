"""The ``streamGenerateContent?alt=sse`` parsers: cumulative usage, call ordinals over the
whole stream, errors sent mid-stream, and the check that the stream was not cut."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import MalformedResponseError
from extmodels_integrations._types import (
    ChatChunk,
    ChatChunkChoice,
    CompletionChoice,
    CompletionChunk,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations._wire import SSEEvent
from extmodels_integrations.providers._base import loads
from extmodels_integrations.providers.vertex._errors import PROVIDER, _error_from
from extmodels_integrations.providers.vertex._logprobs import chat_logprobs, completion_logprobs
from extmodels_integrations.providers.vertex._response import (
    _Candidate,
    _candidates,
    _finish_reason,
    parse_usage,
    tool_call_id,
)


class _StreamParser:
    """Shared state of a ``streamGenerateContent`` stream.

    Usage is cumulative on every chunk that has it; the merged latest view is attached, and the
    client keeps the newest, so it is counted once. Call ordinals run over the whole stream per
    candidate so ids match the non-streamed ones.
    """

    __slots__ = ("_called", "_finished", "_id", "_model", "_ordinals", "_usage", "_with_usage")

    def __init__(self, with_usage: bool) -> None:
        self._with_usage = with_usage
        self._usage: dict[str, Any] = {}
        self._ordinals: dict[int, int] = {}
        self._called: set[int] = set()
        self._id: str | None = None
        self._model: str | None = None
        self._finished = False

    def _data(self, event: SSEEvent) -> Mapping[str, Any]:
        data = loads(event.data, PROVIDER)
        if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
            raise _error_from(
                data["error"], int(data["error"].get("code") or 500), event.data.encode()
            )
        if not isinstance(data, Mapping):
            raise MalformedResponseError(
                f"unexpected stream event: {event.data[:200]!r}", provider=PROVIDER
            )
        self._id = data.get("responseId") or self._id
        self._model = data.get("modelVersion") or self._model
        return data

    def _usage_of(self, data: Mapping[str, Any]) -> Usage | None:
        metadata = data.get("usageMetadata")
        if not self._with_usage or not isinstance(metadata, Mapping):
            return None
        self._usage.update(metadata)
        return parse_usage(self._usage)

    def _deltas(self, index: int, parsed: _Candidate) -> list[ToolCallDelta] | None:
        if not parsed.calls:
            return None
        self._called.add(index)
        deltas = []
        for call, signature in zip(parsed.calls, parsed.signatures, strict=True):
            ordinal = self._ordinals.get(index, 0)
            self._ordinals[index] = ordinal + 1
            call_id = tool_call_id(self._id, index, ordinal, call)
            deltas.append(
                ToolCallDelta(
                    ordinal,
                    call_id,
                    str(call.get("name")),
                    json.dumps(call.get("args") or {}),
                    signature,
                )
            )
        return deltas

    def _finish(self, index: int, candidate: Mapping[str, Any]) -> str | None:
        finish = _finish_reason(candidate.get("finishReason"), index in self._called)
        self._finished = self._finished or finish is not None
        return finish

    def finish(self) -> None:
        if not self._finished:
            raise MalformedResponseError(
                "stream ended before the model finished (no finishReason); the connection was "
                "probably cut",
                provider=PROVIDER,
            )


class ChatStreamParser(_StreamParser):
    """Parses ``streamGenerateContent`` events into chat chunks."""

    __slots__ = ()

    def parse(self, event: SSEEvent) -> ChatChunk | None:
        data = self._data(event)
        choices = []
        for index, candidate in _candidates(data):
            parsed = _Candidate(candidate)
            calls = self._deltas(index, parsed)
            finish = self._finish(index, candidate)
            choices.append(
                ChatChunkChoice(
                    index,
                    parsed.text,
                    calls,
                    finish,
                    parsed.reasoning,
                    "assistant",
                    logprobs=chat_logprobs(candidate),
                )
            )
        usage = self._usage_of(data)
        if not choices and usage is None:
            return None
        return ChatChunk(self._id, self._model, choices, usage, PROVIDER)


class CompletionStreamParser(_StreamParser):
    """Parses ``streamGenerateContent`` events into completion chunks; each candidate's
    ``text_offset`` runs on from its previous chunk's, as OpenAI's streamed ones do."""

    __slots__ = ("_offsets",)

    def __init__(self, with_usage: bool) -> None:
        super().__init__(with_usage)
        self._offsets: dict[int, int] = {}

    def parse(self, event: SSEEvent) -> CompletionChunk | None:
        data = self._data(event)
        choices = []
        for index, c in _candidates(data):
            logprobs, self._offsets[index] = completion_logprobs(c, self._offsets.get(index, 0))
            choices.append(
                CompletionChoice(index, _Candidate(c).text or "", self._finish(index, c), logprobs)
            )
        usage = self._usage_of(data)
        if not choices and usage is None:
            return None
        return CompletionChunk(self._id, self._model, choices, usage, PROVIDER)
