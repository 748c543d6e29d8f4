"""OpenAI-format streams: ``chat.completion.chunk`` and ``text_completion`` events to
unified chunks, with what such endpoints do beyond OpenAI: usage repeated or partial on every
chunk, chunks with empty ``choices`` (Azure's prompt-filter results), tool-call deltas without
``index`` and tool-call ids and names repeated in every delta (llama.cpp).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from extmodels_integrations._exceptions import (
    APIError,
    EmptyStreamError,
    MalformedResponseError,
    ServerError,
)
from extmodels_integrations._types import (
    ChatChunk,
    ChatChunkChoice,
    CompletionChoice,
    CompletionChunk,
    ToolCallDelta,
    Usage,
    call_signature,
    normalize_finish_reason,
)
from extmodels_integrations._wire import SSEEvent
from extmodels_integrations.providers._base import loads
from extmodels_integrations.providers._openai_response import (
    chat_logprobs,
    created_at,
    message_reasoning,
    object_kind,
    parse_usage,
    split_content,
)

__all__ = ["ChatStreamParser", "CompletionStreamParser"]

_Chunk = TypeVar("_Chunk", ChatChunk, CompletionChunk)


def _stream_error(data: Mapping[str, Any], provider: str) -> APIError:
    error = data.get("error")
    if isinstance(error, Mapping):
        return ServerError(
            str(error.get("message") or error),
            provider=provider,
            code=error.get("code") or error.get("type"),
        )
    return ServerError(str(error), provider=provider)


class _StreamParser(Generic[_Chunk]):
    """The OpenAI stream rules both tasks share: ``[DONE]`` ends it, an ``error`` object
    raises, chunks with nothing in them are dropped, and a stream cut before any
    ``finish_reason`` or ``[DONE]`` raises instead of passing for a complete answer."""

    __slots__ = ("_done", "_events", "_finished", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._done = False
        self._finished = False
        self._events = False

    def parse(self, event: SSEEvent) -> _Chunk | None:
        self._events = True
        if event.data == "[DONE]":
            self._done = True
            return None
        data = loads(event.data, self._provider)
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"unexpected stream event: {event.data[:200]!r}", provider=self._provider
            )
        if data.get("error") and not data.get("choices"):
            raise _stream_error(data, self._provider)
        raw = data.get("choices")
        try:
            # One choice is nearly every chunk: skip the comprehension's frame (~0.2 µs).
            if type(raw) is list and len(raw) == 1:
                choices = [self._choice(0, raw[0])]
            else:
                choices = [self._choice(i, c) for i, c in enumerate(raw or ())]
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                f"unexpected chunk shape: {exc}", provider=self._provider
            ) from None
        usage = parse_usage(data.get("usage"))
        if not choices and usage is None:
            return None
        return self._chunk(data, choices, usage)

    def _finish_reason(self, choice: Mapping[str, Any]) -> str | None:
        finish = normalize_finish_reason(choice.get("finish_reason"))
        self._finished = self._finished or bool(finish)
        return finish

    def _choice(self, i: int, choice: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def _chunk(self, data: Mapping[str, Any], choices: list[Any], usage: Usage | None) -> _Chunk:
        raise NotImplementedError

    def finish(self) -> None:
        if not self._events:
            # llama.cpp's server does this when it cannot stream a request (tool_choice
            # "auto"): a cut connection is not the likely cause then.
            raise EmptyStreamError(
                "the server answered HTTP 200 and closed the stream without sending any event: "
                "it may not support streaming this request (some servers cannot stream tool "
                "calls); try streaming=False, and see the server's log",
                provider=self._provider,
            )
        if not (self._done or self._finished):
            raise MalformedResponseError(
                "stream ended before the model finished (no finish_reason, no [DONE]); "
                "the connection was probably cut",
                provider=self._provider,
            )


class ChatStreamParser(_StreamParser[ChatChunk]):
    """Parses ``chat.completion.chunk`` events.

    A tool call's ``id`` and ``name`` come once, in its first delta, on OpenAI; some servers
    (llama.cpp's) repeat them in every delta, and every consumer that concatenates deltas —
    LangChain's chunk merge, LlamaIndex's — would then call ``get_weatherget_weather``. A
    value repeated for a tool call that already has it is dropped here.
    """

    __slots__ = ("_calls",)

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        # (choice index, tool-call index) -> (id, name) already reported.
        self._calls: dict[tuple[int, int], tuple[str | None, str | None]] = {}

    def _choice(self, i: int, choice: Mapping[str, Any]) -> ChatChunkChoice:
        # The hot path of every OpenAI-format stream: a plain text delta skips the content-part
        # walk and the finish-reason lookup (measured ~1 µs per chunk).
        delta = choice.get("delta") or {}
        content = delta.get("content")
        reasoning = None
        if content is not None and type(content) is not str:
            content, reasoning = split_content(content)
        calls = delta.get("tool_calls")
        finish = choice.get("finish_reason")
        logprobs = choice.get("logprobs")
        return ChatChunkChoice(
            choice.get("index", i),
            content,
            [self._tool_delta(choice.get("index", i), j, call) for j, call in enumerate(calls)]
            if calls
            else None,
            None if finish is None else self._finish_reason(choice),
            message_reasoning(delta, reasoning),
            delta.get("role"),
            logprobs=None if logprobs is None else chat_logprobs(logprobs),
        )

    def _tool_delta(self, choice: int, j: int, call: Mapping[str, Any]) -> ToolCallDelta:
        index = call.get("index", j)
        function = call.get("function") or {}
        call_id, name = call.get("id"), function.get("name")
        seen_id, seen_name = self._calls.get((choice, index), (None, None))
        self._calls[(choice, index)] = (seen_id or call_id, seen_name or name)
        return ToolCallDelta(
            index=index,
            id=None if seen_id is not None and call_id == seen_id else call_id,
            name=None if seen_name is not None and name == seen_name else name,
            arguments=function.get("arguments"),
            signature=call_signature(call),  # as in parse_chat
        )

    def _chunk(
        self, data: Mapping[str, Any], choices: list[ChatChunkChoice], usage: Usage | None
    ) -> ChatChunk:
        return ChatChunk(
            data.get("id"),
            data.get("model"),
            choices,
            usage,
            self._provider,
            object=object_kind(data),
            created=created_at(data),
        )


class CompletionStreamParser(_StreamParser[CompletionChunk]):
    """Parses ``text_completion`` stream events."""

    __slots__ = ()

    def _choice(self, i: int, choice: Mapping[str, Any]) -> CompletionChoice:
        return CompletionChoice(
            choice.get("index", i),
            choice.get("text") or "",
            self._finish_reason(choice),
            choice.get("logprobs") or None,
        )

    def _chunk(
        self, data: Mapping[str, Any], choices: list[CompletionChoice], usage: Usage | None
    ) -> CompletionChunk:
        return CompletionChunk(
            data.get("id"),
            data.get("model"),
            choices,
            usage,
            self._provider,
            object=object_kind(data),
            created=created_at(data),
        )
