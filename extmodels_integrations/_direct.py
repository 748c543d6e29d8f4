"""The direct pipeline: one target (a serving endpoint or one ``external_model`` block), its
adapter built once, requests sent through the transport.

Every task is the same three steps — build the HTTP request with the adapter, send it (with
the transport's retries), parse with the adapter — so each has one plain and one stream shell,
sync and async; the pure steps around them live in :mod:`~extmodels_integrations._batching`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from extmodels_integrations import _signed
from extmodels_integrations._batching import (
    UsageOnce,
    as_chunks,
    by_prompts,
    merged,
    named,
    one_stream,
    refuses_prompt_lists,
)
from extmodels_integrations._embedding import EmbeddingCalls
from extmodels_integrations._exceptions import (
    EmptyStreamError,
    ExternalModelError,
    NotFoundError,
    ServerError,
)
from extmodels_integrations._reading import public_url
from extmodels_integrations._secrets import (
    SecretLookup,
    SecretResolver,
    decode_workspace_secret,
    workspace_secret_request,
)
from extmodels_integrations._transport import Transport
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
)
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations._workspace import (
    WorkspaceSettings,
    WorkspaceSignIn,
    find_workspace,
    sign_in,
    signed_in_to,
)
from extmodels_integrations.providers import build_adapter
from extmodels_integrations.providers._base import Adapter, ParsedStream
from extmodels_integrations.providers.databricks import TOKEN_FIELD, DatabricksAdapter

if TYPE_CHECKING:
    from extmodels_integrations._config import ExternalModel

__all__ = ["DirectTarget"]

_log = logging.getLogger(__name__)
_UNASKED = object()

_C = TypeVar("_C", ChatChunk, CompletionChunk)
_Q = TypeVar("_Q", ChatRequest, CompletionRequest)


class DirectTarget(EmbeddingCalls):
    """Calls one target: a serving endpoint (``external_model is None``) or a provider."""

    def __init__(
        self,
        *,
        transport: Transport,
        external_model: ExternalModel | None,
        endpoint: str | None,
        workspace: WorkspaceSignIn | None,
        workspace_arguments: Mapping[str, Any],
        stream_usage: bool,
        max_concurrency: int,
        secret_resolver: SecretLookup | None,
    ) -> None:
        self.transport = transport
        self._external_model = external_model
        self._endpoint = endpoint
        self._workspace = workspace
        self._workspace_arguments = dict(workspace_arguments)
        self._settings: WorkspaceSettings | None = None
        self._stream_usage = stream_usage
        self._max_concurrency = max_concurrency
        self._secret_resolver = secret_resolver
        self._built: Adapter | None = None
        self._build_lock = threading.Lock()
        self._sign_in_lock = threading.Lock()
        # Set once the target answered a prompt list with a server error (see complete).
        self._one_prompt = False
        self._empty_stream_seen = False
        self._context_window: object = _UNASKED

    # -- the adapter, built once -------------------------------------------------------------

    def adapter(self) -> Adapter:
        """The target's adapter; secrets are resolved on the first call."""
        if self._built is None:
            with self._build_lock:
                if self._built is None:
                    self._built = self._build()
        return self._built

    async def aadapter(self) -> Adapter:
        """Async twin of :meth:`adapter`."""
        if self._built is not None:
            return self._built
        import asyncio  # here: async code runs only once asyncio is loaded

        # Resolving secrets may call the workspace API: keep it off the event loop.
        return await asyncio.to_thread(self.adapter)

    def _build(self) -> Adapter:
        if self._external_model is None:
            assert self._endpoint is not None and self._workspace is not None
            return DatabricksAdapter(
                host=self._workspace.host,
                endpoint=self._endpoint,
                auth=self._workspace.auth,
                stream_usage=self._stream_usage,
            )
        resolver = SecretResolver(self._secret_resolver, workspace_fetch=self._workspace_fetch())
        return build_adapter(
            self._external_model,
            resolver,
            stream_usage=self._stream_usage,
            workspace=self._signed_in_to,
        )

    def _signed_in(self) -> WorkspaceSignIn:
        # Once per target, at the first need: the secrets fetch and a serving block without a
        # token then share one sign-in (one OAuth token cache).
        if self._workspace is None:
            with self._sign_in_lock:
                if self._workspace is None:
                    self._workspace = sign_in(self._settings_found())
        return self._workspace

    def _signed_in_to(self, host: str) -> WorkspaceSignIn:
        return signed_in_to(host, self._settings_found(), self._signed_in, field=TOKEN_FIELD)

    def workspace_host(self) -> str | None:
        """The workspace host the settings name, signed in or not."""
        return self._workspace.host if self._workspace else self._settings_found().text("host")

    def _settings_found(self) -> WorkspaceSettings:
        # Read when first needed: an external model without secret references never is.
        if self._settings is None:
            self._settings = find_workspace(self._workspace_arguments)
        return self._settings

    def _workspace_fetch(self) -> Callable[[str, str], str | None] | None:
        settings = self._settings_found()
        if self._workspace is None and not (settings.get("host") and settings.has_credentials()):
            return None

        def fetch(scope: str, key: str) -> str | None:
            # Signed in at the first secret read: a block without references never needs it.
            found = self._signed_in()
            workspace_ = DatabricksAdapter(host=found.host, endpoint="", auth=found.auth)
            url, params = workspace_secret_request(workspace_.host, scope, key)
            request = HttpRequest(url=url, method="GET", params=params)
            # No named local for the answer: it holds the secret, and tracebacks that capture
            # locals would print it if decoding failed.
            try:
                return decode_workspace_secret(
                    _signed.send(self.transport, found.auth, request, workspace_.error)[0]
                )
            except NotFoundError:
                return None

        return fetch

    def _prepare(self, adapter: Adapter, request: HttpRequest) -> HttpRequest:
        request.headers.update(adapter.auth.headers(self.transport, request))
        return request

    # -- the two shells every task goes through ----------------------------------------------

    def _send(self, adapter: Adapter, request: HttpRequest) -> tuple[Any, Mapping[str, str]]:
        return _signed.send(self.transport, adapter.auth, request, adapter.error)

    async def _asend(self, adapter: Adapter, request: HttpRequest) -> tuple[Any, Mapping[str, str]]:
        return await _signed.asend(self.transport, adapter.auth, request, adapter.error)

    def _stream(
        self,
        adapter: Adapter,
        request: _Q,
        build: Callable[[_Q], HttpRequest],
        parser: Callable[[], ParsedStream[Any, _C]],
        cls: type[_C],
    ) -> Iterator[_C]:
        http = build(request)
        usage = UsageOnce(request.model or adapter.model)
        for chunks in _signed.stream(self.transport, adapter.auth, http, adapter.error, parser):
            for chunk in chunks:
                if usage.take(chunk):
                    yield chunk
        final = usage.final(cls)
        if final is not None:
            yield final

    async def _astream(
        self,
        adapter: Adapter,
        request: _Q,
        build: Callable[[_Q], HttpRequest],
        parser: Callable[[], ParsedStream[Any, _C]],
        cls: type[_C],
    ) -> AsyncIterator[_C]:
        http = build(request)
        usage = UsageOnce(request.model or adapter.model)
        streamed = _signed.astream(self.transport, adapter.auth, http, adapter.error, parser)
        async for chunks in streamed:
            for chunk in chunks:
                if usage.take(chunk):
                    yield chunk
        final = usage.final(cls)
        if final is not None:
            yield final

    # -- chat --------------------------------------------------------------------------------

    def chat(self, request: ChatRequest) -> ChatResponse:
        """One chat completion."""
        adapter = self.adapter()
        data, headers = self._send(adapter, adapter.chat_request(request, stream=False))
        return named(adapter.parse_chat(data, headers), request.model or adapter.model)

    async def achat(self, request: ChatRequest) -> ChatResponse:
        """Async twin of :meth:`chat`."""
        adapter = await self.aadapter()
        data, headers = await self._asend(adapter, adapter.chat_request(request, stream=False))
        return named(adapter.parse_chat(data, headers), request.model or adapter.model)

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Stream chat chunks; usage comes once, on the last chunk. A server that answers the
        stream with no event at all is asked again without streaming (see _unstreamed)."""
        adapter = self.adapter()
        build = _streamed(adapter.chat_request)
        try:
            yield from self._stream(adapter, request, build, adapter.chat_stream, ChatChunk)
        except EmptyStreamError as error:
            yield from self._unstreamed(adapter, error, self.chat(request))

    async def astream_chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Async twin of :meth:`stream_chat`."""
        adapter = await self.aadapter()
        build = _streamed(adapter.chat_request)
        try:
            async for chunk in self._astream(
                adapter, request, build, adapter.chat_stream, ChatChunk
            ):
                yield chunk
        except EmptyStreamError as error:
            for chunk in self._unstreamed(adapter, error, await self.achat(request)):
                yield chunk

    def _unstreamed(
        self, adapter: Adapter, error: EmptyStreamError, response: ChatResponse
    ) -> list[ChatChunk]:
        # llama.cpp's server closes a stream it cannot serve (tools with tool_choice "auto")
        # without a byte: nothing was yielded, so the same request unstreamed is safe, and
        # agents that stream (LangChain create_agent, LlamaIndex FunctionAgent) keep working.
        level = logging.DEBUG if self._empty_stream_seen else logging.INFO
        self._empty_stream_seen = True
        _log.log(level, "%s sent an empty stream; answered without streaming", adapter.provider)
        return as_chunks(response)

    # -- completions -------------------------------------------------------------------------

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        """One completions call; a prompt list the target cannot take at once is split."""
        adapter = self.adapter()
        try:
            parts = [self._complete(adapter, r) for r in by_prompts(request, self._limit(adapter))]
        except ServerError as error:
            if not self._lists_refused(request, adapter, error):
                raise
            parts = [self._complete(adapter, r) for r in by_prompts(request, 1)]
        return named(merged(parts, request.n or 1), request.model or adapter.model)

    def _complete(self, adapter: Adapter, request: CompletionRequest) -> CompletionResponse:
        data, headers = self._send(adapter, adapter.completion_request(request, stream=False))
        return adapter.parse_completion(data, headers)

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        """Async twin of :meth:`complete`; the split requests go out concurrently."""
        import asyncio  # here: async code runs only once asyncio is loaded

        adapter = await self.aadapter()
        gate = asyncio.Semaphore(self._max_concurrency)

        async def one(part: CompletionRequest) -> CompletionResponse:
            async with gate:
                http = adapter.completion_request(part, stream=False)
                data, headers = await self._asend(adapter, http)
            return adapter.parse_completion(data, headers)

        try:
            split = by_prompts(request, self._limit(adapter))
            parts = await asyncio.gather(*(one(r) for r in split))
        except ServerError as error:
            if not self._lists_refused(request, adapter, error):
                raise
            parts = await asyncio.gather(*(one(r) for r in by_prompts(request, 1)))
        return named(merged(list(parts), request.n or 1), request.model or adapter.model)

    def _limit(self, adapter: Adapter) -> int | None:
        return 1 if self._one_prompt else adapter.prompts_per_request

    def _lists_refused(
        self, request: CompletionRequest, adapter: Adapter, error: Exception
    ) -> bool:
        """Whether to send the prompts one per request from now on (remembered per target)."""
        if self._one_prompt or not refuses_prompt_lists(request, self._limit(adapter), error):
            return False
        self._one_prompt = True
        _log.info(
            "%s refused a list of %d prompts (%s); sending one prompt per request from now on",
            adapter.provider,
            len(request.prompt),
            type(error).__name__,
        )
        return True

    def stream_complete(self, request: CompletionRequest) -> Iterator[CompletionChunk]:
        """Stream completion chunks; usage comes once, on the last chunk."""
        adapter = self.adapter()
        one_stream(request, adapter)
        build = _streamed(adapter.completion_request)
        yield from self._stream(adapter, request, build, adapter.completion_stream, CompletionChunk)

    async def astream_complete(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        """Async twin of :meth:`stream_complete`."""
        adapter = await self.aadapter()
        one_stream(request, adapter)
        build = _streamed(adapter.completion_request)
        async for chunk in self._astream(
            adapter, request, build, adapter.completion_stream, CompletionChunk
        ):
            yield chunk

    # -- what the server says about its model ------------------------------------------------

    def reported_context_window(self) -> int | None:
        """The context window the server states for the model (asked once), or ``None``."""
        if self._context_window is _UNASKED:
            self._context_window = self._ask_context_window()
        return cast("int | None", self._context_window)

    def _ask_context_window(self) -> int | None:
        try:
            adapter = self.adapter()
        except ExternalModelError:
            return None  # the first real call raises it, with its fix
        for request in adapter.context_window_requests():
            try:
                answer, _ = self.transport.send_json_once(
                    self._prepare(adapter, request), adapter.error
                )
            except ExternalModelError as error:
                _log.debug("%s: %s: %s", self._name, public_url(request.url), type(error).__name__)
                continue
            window = adapter.read_context_window(answer)
            if window is not None:
                _log.debug("%s: the server states a %d-token context window", self._name, window)
                return window
        return None

    @property
    def _provider(self) -> str:
        return "databricks" if self._external_model is None else self._external_model.provider

    @property
    def _name(self) -> str:
        name = self._endpoint if self._external_model is None else self._external_model.name
        return name or ""

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients the transport created."""
        self.transport.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await self.transport.aclose()


def _streamed(build: Callable[..., HttpRequest]) -> Callable[[Any], HttpRequest]:
    return lambda request: build(request, stream=True)
