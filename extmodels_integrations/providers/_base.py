"""What every provider adapter offers: pure translation between the unified schema and a wire
format. Adapters build requests, parse responses and stream events, and map errors; they never
do I/O (the client and the transport do)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from extmodels_integrations._auth import Auth
from extmodels_integrations._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    ContextWindowExceededError,
    ExternalModelError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnsupportedParameterError,
)
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Task,
)
from extmodels_integrations._wire import HttpRequest, SSEDecoder, SSEEvent, StreamDecoder
from extmodels_integrations.providers._checks import (
    SHAPE_ERRORS,
    check_chunk,
    check_response,
    shape_error,
)

__all__ = [
    "Adapter",
    "EventParser",
    "ParsedStream",
    "body_error",
    "error_for_status",
    "error_json",
    "header_value",
    "loads",
    "provider_params",
    "sse_stream",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Ev = TypeVar("Ev")
Ev_contra = TypeVar("Ev_contra", contravariant=True)


class EventParser(Protocol[Ev_contra, T_co]):
    """Turns a provider's stream events into unified chunks; stateful per stream."""

    def parse(self, event: Ev_contra) -> T_co | None:
        """The unified chunk for ``event``, or ``None`` for events that carry nothing."""
        ...

    def finish(self) -> None:
        """Called when the byte stream ends; raises :class:`MalformedResponseError` if it was
        truncated."""
        ...


class ParsedStream(Generic[Ev, T]):
    """A byte-stream decoder that yields unified chunks: wire decoder + provider parser.

    Parsing inside the transport's decoder means an error event that arrives before anything
    was yielded (e.g. Anthropic ``overloaded_error`` after HTTP 200) is retried like an HTTP
    error, and one that arrives later is raised without replaying the stream.
    """

    __slots__ = ("_decoder", "_parser")

    def __init__(self, decoder: StreamDecoder[Ev], parser: EventParser[Ev, T]) -> None:
        self._decoder = decoder
        self._parser = parser

    def feed(self, chunk: bytes) -> list[T]:
        try:
            out = [c for c in map(self._parser.parse, self._decoder.feed(chunk)) if c is not None]
        except ExternalModelError:
            raise
        except SHAPE_ERRORS as exc:
            raise shape_error(exc, None) from None
        return [check_chunk(c) for c in out]

    def close(self) -> list[T]:
        try:
            out = [c for c in map(self._parser.parse, self._decoder.close()) if c is not None]
            self._parser.finish()
        except ExternalModelError:
            raise
        except SHAPE_ERRORS as exc:
            raise shape_error(exc, None) from None
        return [check_chunk(c) for c in out]


def loads(text: str | bytes, provider: str | None) -> Any:
    """``json.loads`` that raises our :class:`MalformedResponseError` with a short excerpt."""
    try:
        return json.loads(text)
    except ValueError:
        excerpt = text[:200] if isinstance(text, str) else text[:200].decode("utf-8", "replace")
        raise MalformedResponseError(
            f"provider sent malformed JSON: {excerpt!r}", provider=provider
        ) from None


_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "input is too long",
)
_FILTER_CODES = frozenset(
    {"content_filter", "content_policy_violation", "responsibleaipolicyviolation"}
)


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    code: str | None = None,
    request_id: str | None = None,
    body: bytes | None = None,
) -> APIError:
    """The typed error for an HTTP status, refined by the provider's error code and message."""
    lowered = f"{code or ''} {message}".lower()
    cls: type[APIError]
    retryable: bool | None = None
    if status in (400, 413, 422):
        if any(marker in lowered for marker in _CONTEXT_MARKERS):
            cls = ContextWindowExceededError
        elif (code or "").lower() in _FILTER_CODES:
            cls = ContentFilterError
        else:
            cls = BadRequestError
    elif status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 404:
        cls = NotFoundError
    elif status == 429:
        cls = RateLimitError
        # A spent quota or billing limit does not clear by waiting.
        retryable = not any(k in lowered for k in ("insufficient_quota", "billing"))
    elif status >= 500:
        cls = ServerError
    else:
        cls = APIError
        retryable = status in (408, 409)
    error = cls(
        message or f"HTTP {status}",
        provider=provider,
        status_code=status,
        code=code,
        request_id=request_id,
        body=body.decode("utf-8", "replace")[:2000] if body else None,
    )
    if retryable is not None:
        error.retryable = retryable
    return error


def error_json(body: bytes) -> Any:
    """An error body's JSON, or ``None`` when it is empty or not JSON (a proxy's HTML page)."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def header_value(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` present in ``headers`` (request-id headers differ by vendor)."""
    return next((headers[h] for h in names if h in headers), None)


def body_error(
    status: int,
    body: bytes,
    message: str,
    *,
    provider: str,
    code: object = None,
    request_id: str | None = None,
) -> APIError:
    """The skeleton of every provider's ``map_error``: what the provider's body says
    (``message``, ``code``, ``request_id``, read by its own rule) through
    :func:`error_for_status`, with the start of the body as the message when it says nothing."""
    return error_for_status(
        status,
        message or body[:500].decode("utf-8", "replace") or f"HTTP {status}",
        provider=provider,
        code=str(code) if code is not None else None,
        request_id=request_id,
        body=body,
    )


class Adapter:
    """Base of the per-provider adapters. A task the provider lacks raises a clear error."""

    provider: str = ""
    #: Most inputs one embeddings request may carry for this target.
    embedding_batch_size: int = 2048
    #: Most prompts one completions request may carry (``None``: any number). The client
    #: splits longer prompt lists, so batching callers work on every provider.
    prompts_per_request: int | None = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every response parser an adapter defines is held to the unified types: provider
        # JSON of any shape gives a well-typed result or a MalformedResponseError (see _checks).
        super().__init_subclass__(**kwargs)
        for name in ("parse_chat", "parse_completion", "parse_embeddings"):
            if name in cls.__dict__:
                setattr(cls, name, _checked_parser(cls.__dict__[name]))
        # Likewise for request builders: a message or tool of the wrong shape is the
        # caller's to fix, so it is a ConfigurationError, never a KeyError from a converter.
        for name in ("chat_request", "completion_request", "embeddings_request"):
            if name in cls.__dict__:
                setattr(cls, name, _checked_builder(cls.__dict__[name]))

    def __init__(self, *, model: str, task: Task | None, auth: Auth) -> None:
        self.model = model
        self.task = task
        self.auth = auth

    def headers(self) -> dict[str, str]:
        """Static auth and identification headers added to every request."""
        return {}

    # chat
    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        raise self._unsupported("llm/v1/chat")

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        raise self._unsupported("llm/v1/chat")

    def chat_stream(self) -> ParsedStream[Any, ChatChunk]:
        raise self._unsupported("llm/v1/chat")

    # completions
    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        raise self._unsupported("llm/v1/completions")

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        raise self._unsupported("llm/v1/completions")

    def completion_stream(self) -> ParsedStream[Any, CompletionChunk]:
        raise self._unsupported("llm/v1/completions")

    # embeddings
    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        raise self._unsupported("llm/v1/embeddings")

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        raise self._unsupported("llm/v1/embeddings")

    # served limits
    def context_window_requests(self) -> tuple[HttpRequest, ...]:
        """Requests whose answers may state the served model's context window; none where the
        provider publishes its limits (the LlamaIndex classes' table knows those)."""
        return ()

    def read_context_window(self, data: Any) -> int | None:
        """The context window one answer to :meth:`context_window_requests` states, if any."""
        return None

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """:meth:`map_error` with this target's credentials masked: the client's error mapper."""
        error = self.map_error(status, headers, body)
        error.scrub(self.auth.secret_values())
        return error

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """The typed error for an error response."""
        return error_for_status(
            status, body[:500].decode("utf-8", "replace"), provider=self.provider
        )

    def _unsupported(self, task: str) -> ConfigurationError:
        return ConfigurationError(f"provider '{self.provider}' does not offer the task '{task}'")


def _checked_parser(
    parse: Callable[[Any, Any, Mapping[str, str]], T],
) -> Callable[[Any, Any, Mapping[str, str]], T]:
    @functools.wraps(parse)
    def checked(self: Adapter, data: Any, headers: Mapping[str, str]) -> T:
        return check_response(lambda: parse(self, data, headers), self.provider)

    return checked


def _checked_builder(build: Callable[..., HttpRequest]) -> Callable[..., HttpRequest]:
    @functools.wraps(build)
    def checked(self: Adapter, request: Any, **kwargs: Any) -> HttpRequest:
        try:
            return build(self, request, **kwargs)
        except ExternalModelError:
            raise
        except SHAPE_ERRORS as exc:
            raise ConfigurationError(
                f"the request cannot be sent to provider '{self.provider}': a message, tool or "
                f"parameter has an unexpected shape ({type(exc).__name__}: {exc}); messages "
                "and tools take the OpenAI chat format ({'role': ..., 'content': ...}, "
                "{'type': 'function', 'function': {'name': ..., 'parameters': {...}}})"
            ) from None

    return checked


def sse_stream(parser: EventParser[SSEEvent, T]) -> ParsedStream[SSEEvent, T]:
    """A :class:`ParsedStream` over server-sent events."""
    return ParsedStream(SSEDecoder(), parser)


def provider_params(
    provider: str,
    extra: Mapping[str, Any],
    *,
    renamed: Mapping[str, str] | None = None,
    rejected: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``extra_params`` for a provider's body: OpenAI-schema names the provider spells
    differently are renamed (``top_k`` -> ``k``), names it cannot take raise
    :class:`UnsupportedParameterError` with the fix, anything else is provider-native and passes
    through untouched."""
    renamed = renamed or {}
    rejected = rejected or {}
    out: dict[str, Any] = {}
    for key, value in extra.items():
        if key in rejected:
            raise UnsupportedParameterError(provider, key, rejected[key])
        out[renamed.get(key, key)] = value
    return out
