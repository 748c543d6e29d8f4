"""The OpenAI wire format, shared by every target that speaks it (OpenAI, Azure OpenAI,
Databricks serving endpoints and the ``databricks-model-serving`` provider).

It copes with what such endpoints do beyond OpenAI: message content as a list of parts
(including reasoning), usage repeated or partial on every stream chunk, chunks with empty
``choices`` (Azure's prompt-filter results), tool-call deltas without ``index``, and the
Databricks ``{"error_code", "message"}`` error body.
"""

from __future__ import annotations

import base64
import json
import sys
from array import array
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from extmodels_integrations._exceptions import (
    APIError,
    EmptyStreamError,
    MalformedResponseError,
    ServerError,
)
from extmodels_integrations._types import (
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ToolCall,
    ToolCallDelta,
    Usage,
    normalize_finish_reason,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import (
    Adapter,
    ParsedStream,
    body_error,
    error_json,
    header_value,
    loads,
    sse_stream,
)

__all__ = [
    "ChatStreamParser",
    "CompletionStreamParser",
    "OpenAIFormatAdapter",
    "map_error",
    "parse_chat",
    "parse_completion",
    "parse_embeddings",
    "parse_usage",
    "split_content",
]

_Chunk = TypeVar("_Chunk", ChatChunk, CompletionChunk)

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


def _kind(data: Mapping[str, Any]) -> str | None:
    """The answer's ``object``; a value of another type is a server's oddity, not a kind."""
    value = data.get("object")
    return value if type(value) is str else None


def _created(data: Mapping[str, Any]) -> int | None:
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


def _message_reasoning(message: Mapping[str, Any], from_parts: str | None) -> str | None:
    # vLLM, DeepSeek and others put reasoning in a sibling field rather than in parts.
    return from_parts or message.get("reasoning_content") or message.get("reasoning")


def _arguments(value: Any) -> str:
    if value is None:
        return "{}"
    return value if isinstance(value, str) else json.dumps(value)


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
                )
                for j, call in enumerate(message.get("tool_calls") or [])
            ]
            choices.append(
                ChatChoice(
                    index=choice.get("index", i),
                    content=content,
                    tool_calls=tool_calls,
                    finish_reason=normalize_finish_reason(choice.get("finish_reason")),
                    reasoning=_message_reasoning(message, reasoning),
                    role=_role(message.get("role")),
                )
            )
        return ChatResponse(
            id=data.get("id"),
            model=data.get("model"),
            choices=choices,
            usage=parse_usage(data.get("usage")),
            provider=provider,
            object=_kind(data),
            created=_created(data),
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
            object=_kind(data),
            created=_created(data),
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
            object=_kind(data),
        )
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected embeddings response shape: {exc!r}", provider=provider
        ) from None


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
        return ChatChunkChoice(
            choice.get("index", i),
            content,
            [self._tool_delta(choice.get("index", i), j, call) for j, call in enumerate(calls)]
            if calls
            else None,
            None if finish is None else self._finish_reason(choice),
            _message_reasoning(delta, reasoning),
            delta.get("role"),
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
            object=_kind(data),
            created=_created(data),
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
            object=_kind(data),
            created=_created(data),
        )


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


# Signed reasoning of earlier answers (see ``_types.Message``): the Chat Completions schema has
# no place for them, and OpenAI answers 400 to an unknown content part type.
_THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _has_thinking(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return (
        message.get("role") == "assistant"
        and isinstance(content, list)
        and any(isinstance(b, Mapping) and b.get("type") in _THINKING_BLOCKS for b in content)
    )


def _without_thinking(message: Mapping[str, Any]) -> Any:
    if not _has_thinking(message):
        return message
    kept = [b for b in message["content"] if b.get("type") not in _THINKING_BLOCKS]
    if all(b.get("type") == "text" for b in kept):
        # Text alone goes as a string, as an answer without reasoning would have.
        text = "".join(b.get("text") or "" for b in kept)
        return {**message, "content": text or None}
    return {**message, "content": kept}


class OpenAIFormatAdapter(Adapter):
    """Base of the adapters whose targets speak the OpenAI format: subclasses only say where
    a request goes (:meth:`_request`) and may adjust the chat body (:meth:`_chat_body`)."""

    stream_usage: bool = True
    prompts_per_request = None  # the OpenAI schema takes a list of prompts

    def _request(self, path: str, body: dict[str, Any], model: str | None) -> HttpRequest:
        """The request for ``path`` (``chat/completions``, ``completions``, ``embeddings``)."""
        raise NotImplementedError

    def _with_stream(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body.setdefault("stream_options", {"include_usage": True})
        return body

    def _chat_body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = request.to_payload()
        if any(_has_thinking(m) for m in request.messages):
            body["messages"] = [_without_thinking(m) for m in request.messages]
        return self._with_stream(body, stream)

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        return self._request("chat/completions", self._chat_body(request, stream), request.model)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return parse_chat(data, self.provider)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(ChatStreamParser(self.provider))

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        body = self._with_stream(request.to_payload(), stream)
        return self._request("completions", body, request.model)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return parse_completion(data, self.provider)

    def completion_stream(self) -> ParsedStream[SSEEvent, CompletionChunk]:
        return sse_stream(CompletionStreamParser(self.provider))

    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        return self._request("embeddings", request.to_payload(), request.model)

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        return parse_embeddings(data, self.provider)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(self.provider, status, headers, body)
