"""``ExternalClient``: the framework-free client every LangChain and LlamaIndex class sits on.

It picks the target (a serving endpoint, or an ``external_model`` block called directly),
resolves secrets once, and offers the three tasks sync and async, plain and streaming. Every
pure step (building requests, parsing, usage accounting, batching) is shared by the sync and
async paths; only the few lines that wait on I/O differ.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
from pydantic import SecretStr

from extmodels_integrations._auth import StaticAuth
from extmodels_integrations._exceptions import ConfigurationError, NotFoundError, StreamError
from extmodels_integrations._secrets import (
    SecretLookup,
    SecretResolver,
    decode_workspace_secret,
    workspace_secret_request,
)
from extmodels_integrations._transport import Transport
from extmodels_integrations._types import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Task,
    Usage,
)
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations.providers import build_adapter
from extmodels_integrations.providers._base import Adapter
from extmodels_integrations.providers.databricks import DatabricksAdapter, normalize_host

if TYPE_CHECKING:
    # Loaded when a client is given external_model= or endpoint_config=: a serving endpoint
    # needs neither, and their pydantic models are most of the core's own import time.
    from extmodels_integrations._config import ExternalModel
    from extmodels_integrations._endpoint_config import EndpointConfig, EndpointConfigSource
    from extmodels_integrations._routing import RateLimitBehavior, Router

__all__ = ["ExternalClient"]

_C = TypeVar("_C", ChatChunk, CompletionChunk)

_TASK_CLASSES = {
    CHAT: "ChatExternal",
    COMPLETIONS: "CompletionExternal",
    EMBEDDINGS: "ExternalEmbeddings",
}


class ExternalClient:
    """Sync and async access to one external-model target, returning unified types.

    Give exactly one target:

    * ``endpoint="name"`` (+ ``host``, ``token``; defaults ``DATABRICKS_HOST`` /
      ``DATABRICKS_TOKEN``): a serving endpoint that speaks the unified schema;
    * ``external_model={...}``: an ``external_model`` block, called on the provider directly;
    * ``endpoint_config=`` a serving-endpoint create body (a mapping, or a path to a JSON or
      YAML file): validated as the service does, each call routed by the traffic split over
      its served entities, its ``rate_limits`` applied in this process (``rate_limit_behavior``
      ``"wait"`` or ``"raise"``; ``rate_limit_user`` is who ``key: user`` means, by default
      the OS login name), and ``ai_gateway.fallback_config`` (or ``fallbacks=``) honoured.
      ``routing_seed`` makes the split repeat exactly. Results say in ``metadata`` which
      served entity and provider answered (see :mod:`extmodels_integrations._routing`).

    Secret references in ``external_model`` resolve through ``secret_resolver``, then
    ``EXTMODELS_SECRET__<SCOPE>__<KEY>`` environment variables, then the workspace secrets API
    when a host and token are known (see :class:`~extmodels_integrations.SecretResolver`).
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        host: str | None = None,
        token: str | SecretStr | None = None,
        external_model: Mapping[str, Any] | ExternalModel | None = None,
        timeout: float | None = 60.0,
        connect_timeout: float = 10.0,
        stall_timeout: float | None = 60.0,
        max_retries: int = 2,
        stream_usage: bool = True,
        max_concurrency: int = 8,
        secret_resolver: SecretLookup | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        endpoint_config: EndpointConfigSource | None = None,
        routing_seed: int | None = None,
        fallbacks: bool | None = None,
        rate_limit_behavior: RateLimitBehavior = "wait",
        rate_limit_user: str | None = None,
    ) -> None:
        if sum(t is not None for t in (endpoint, external_model, endpoint_config)) != 1:
            raise ConfigurationError(
                "give exactly one target: endpoint='<serving endpoint name>', "
                "external_model={...} (an external_model block) or endpoint_config=... "
                "(a serving-endpoint create body, or a path to one)"
            )
        if max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        if rate_limit_behavior not in ("wait", "raise"):
            raise ConfigurationError(
                f"rate_limit_behavior={rate_limit_behavior!r}: use 'wait' or 'raise'"
            )
        self.endpoint = endpoint
        self.external_model: ExternalModel | None = None
        if external_model is not None:
            from extmodels_integrations._config import parse_external_model

            self.external_model = parse_external_model(external_model)
        self.endpoint_config: EndpointConfig | None = None
        if endpoint_config is not None:
            from extmodels_integrations._endpoint_config import load_endpoint_config

            self.endpoint_config = load_endpoint_config(endpoint_config)
        self._host = host or os.environ.get("DATABRICKS_HOST")
        raw_token = token if token is not None else os.environ.get("DATABRICKS_TOKEN")
        self._token = SecretStr(raw_token) if isinstance(raw_token, str) else raw_token
        if endpoint is not None and not self._host:
            raise ConfigurationError(
                "host: no workspace host for endpoint "
                f"'{endpoint}': pass host='https://<workspace>' or set DATABRICKS_HOST"
            )
        if endpoint is not None and self._token is None:
            raise ConfigurationError(
                f"token: no token for endpoint '{endpoint}': pass token=... or set DATABRICKS_TOKEN"
            )
        self.max_concurrency = max_concurrency
        self._stream_usage = stream_usage
        self._secret_resolver = secret_resolver
        self.transport = Transport(
            provider=self.provider,
            timeout=timeout,
            connect_timeout=connect_timeout,
            stall_timeout=stall_timeout,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
        )
        self._built: Adapter | None = None
        self._build_lock = threading.Lock()
        self.router: Router[ExternalClient] | None = None
        if self.endpoint_config is not None:
            entity_options: dict[str, Any] = {
                "host": host,
                "token": token,
                "timeout": timeout,
                "connect_timeout": connect_timeout,
                "stall_timeout": stall_timeout,
                "max_retries": max_retries,
                "stream_usage": stream_usage,
                "max_concurrency": max_concurrency,
                "secret_resolver": secret_resolver,
                "http_client": http_client,
                "http_async_client": http_async_client,
            }
            from extmodels_integrations._routing import Router

            self.router = Router(
                self.endpoint_config,
                [
                    ExternalClient(external_model=e.external_model, **entity_options)
                    for e in self.endpoint_config.served_entities
                ],
                seed=routing_seed,
                fallbacks=fallbacks,
                rate_limit_behavior=rate_limit_behavior,
                rate_limit_user=rate_limit_user,
            )

    # -- description -------------------------------------------------------------------------

    @property
    def provider(self) -> str:
        """``databricks`` for a serving endpoint, else the external model's provider; for an
        endpoint config, its served entities' providers joined by ``+``."""
        if self.endpoint_config is not None:
            providers = [e.external_model.provider for e in self.endpoint_config.served_entities]
            return "+".join(dict.fromkeys(providers))
        return "databricks" if self.external_model is None else self.external_model.provider

    @property
    def model_name(self) -> str:
        """The endpoint name (also of an endpoint config) or the external model's ``name``."""
        if self.external_model is not None:
            return self.external_model.name
        if self.endpoint_config is not None:
            return self.endpoint_config.name
        assert self.endpoint is not None
        return self.endpoint

    @property
    def task(self) -> Task | None:
        """The configured task; ``None`` for a serving endpoint (it serves whatever it serves)."""
        if self.endpoint_config is not None:
            return self.endpoint_config.task
        return None if self.external_model is None else self.external_model.task

    @property
    def host(self) -> str | None:
        """The workspace host, normalized, if any."""
        return normalize_host(self._host) if self._host else None

    def check_task(self, task: Task, *, field: str | None = None) -> None:
        """Raise :class:`ConfigurationError` when the target is configured for another task.

        ``field`` names where the task is set in messages; by default ``external_model.task``
        or, for an endpoint config, the first served entity's ``external_model.task``.
        """
        if field is None:
            field = "external_model.task"
            if self.endpoint_config is not None:
                entity = self.endpoint_config.served_entities[0]
                field = f"{entity.path}.external_model.task"
        if self.task is not None and self.task != task:
            raise ConfigurationError(
                f"{field} is '{self.task}' but {_TASK_CLASSES[task]} needs '{task}': "
                f"use {_TASK_CLASSES[self.task]} for this model or set task to '{task}'"
            )

    def __repr__(self) -> str:
        return f"ExternalClient(provider={self.provider!r}, model={self.model_name!r})"

    # -- target ------------------------------------------------------------------------------

    def _adapter(self) -> Adapter:
        if self._built is None:
            with self._build_lock:
                if self._built is None:
                    self._built = self._build()
        return self._built

    async def _aadapter(self) -> Adapter:
        if self._built is not None:
            return self._built
        import asyncio  # here: async code runs only once asyncio is loaded

        # Resolving secrets may call the workspace API: keep it off the event loop.
        return await asyncio.to_thread(self._adapter)

    def _build(self) -> Adapter:
        if self.external_model is None:
            assert self.endpoint is not None and self._host and self._token is not None
            return DatabricksAdapter(
                host=self._host,
                endpoint=self.endpoint,
                auth=StaticAuth({"Authorization": ("Bearer ", self._token)}),
                stream_usage=self._stream_usage,
            )
        resolver = SecretResolver(self._secret_resolver, workspace_fetch=self._workspace_fetch())
        return build_adapter(self.external_model, resolver, stream_usage=self._stream_usage)

    def _workspace_fetch(self) -> Callable[[str, str], str | None] | None:
        if not self._host or self._token is None:
            return None
        host = normalize_host(self._host)
        workspace = DatabricksAdapter(
            host=host, endpoint="", auth=StaticAuth({"Authorization": ("Bearer ", self._token)})
        )

        def fetch(scope: str, key: str) -> str | None:
            url, params = workspace_secret_request(host, scope, key)
            request = HttpRequest(url=url, method="GET", params=params)
            try:
                data, _ = self.transport.send_json(
                    self._prepare(workspace, request), workspace.error
                )
            except NotFoundError:
                return None
            return decode_workspace_secret(data)

        return fetch

    def _prepare(self, adapter: Adapter, request: HttpRequest) -> HttpRequest:
        request.headers.update(adapter.auth.headers(self.transport, request))
        return request

    async def _aprepare(self, adapter: Adapter, request: HttpRequest) -> HttpRequest:
        request.headers.update(await adapter.auth.aheaders(self.transport, request))
        return request

    # -- chat --------------------------------------------------------------------------------

    def chat(self, request: ChatRequest | None = None, **fields: Any) -> ChatResponse:
        """One chat completion. Pass a :class:`ChatRequest` or its fields as keywords."""
        request = _request(ChatRequest, request, fields)
        self.check_task(CHAT)
        if self.router is not None:
            return self.router.call(lambda c: c.chat(request))
        adapter = self._adapter()
        http = self._prepare(adapter, adapter.chat_request(request, stream=False))
        data, headers = self.transport.send_json(http, adapter.error)
        return _named(adapter.parse_chat(data, headers), request.model or adapter.model)

    async def achat(self, request: ChatRequest | None = None, **fields: Any) -> ChatResponse:
        """Async twin of :meth:`chat`."""
        request = _request(ChatRequest, request, fields)
        self.check_task(CHAT)
        if self.router is not None:
            return await self.router.acall(lambda c: c.achat(request))
        adapter = await self._aadapter()
        http = await self._aprepare(adapter, adapter.chat_request(request, stream=False))
        data, headers = await self.transport.asend_json(http, adapter.error)
        return _named(adapter.parse_chat(data, headers), request.model or adapter.model)

    def stream_chat(self, request: ChatRequest | None = None, **fields: Any) -> Iterator[ChatChunk]:
        """Stream chat chunks; exactly the last chunk carries usage (when the target reports it)."""
        request = _request(ChatRequest, request, fields)
        self.check_task(CHAT)
        if self.router is not None:
            yield from self.router.stream(lambda c: c.stream_chat(request))
            return
        adapter = self._adapter()
        http = self._prepare(adapter, adapter.chat_request(request, stream=True))
        usage = _UsageOnce(request.model or adapter.model)
        for chunks in self.transport.stream(http, adapter.error, adapter.chat_stream):
            for chunk in chunks:
                if usage.take(chunk):
                    yield chunk
        final = usage.final(ChatChunk)
        if final is not None:
            yield final

    async def astream_chat(
        self, request: ChatRequest | None = None, **fields: Any
    ) -> AsyncIterator[ChatChunk]:
        """Async twin of :meth:`stream_chat`."""
        request = _request(ChatRequest, request, fields)
        self.check_task(CHAT)
        if self.router is not None:
            async for routed in self.router.astream(lambda c: c.astream_chat(request)):
                yield routed
            return
        adapter = await self._aadapter()
        http = await self._aprepare(adapter, adapter.chat_request(request, stream=True))
        usage = _UsageOnce(request.model or adapter.model)
        async for chunks in self.transport.astream(http, adapter.error, adapter.chat_stream):
            for chunk in chunks:
                if usage.take(chunk):
                    yield chunk
        final = usage.final(ChatChunk)
        if final is not None:
            yield final

    # -- completions -------------------------------------------------------------------------

    def complete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> CompletionResponse:
        """One completions call. Pass a :class:`CompletionRequest` or its fields as keywords."""
        request = _request(CompletionRequest, request, fields)
        self.check_task(COMPLETIONS)
        if self.router is not None:
            return self.router.call(lambda c: c.complete(request))
        adapter = self._adapter()
        parts = [self._complete_one(adapter, r) for r in _by_prompts(request, adapter)]
        return _named(_merged(parts, request.n or 1), request.model or adapter.model)

    def _complete_one(self, adapter: Adapter, request: CompletionRequest) -> CompletionResponse:
        http = self._prepare(adapter, adapter.completion_request(request, stream=False))
        data, headers = self.transport.send_json(http, adapter.error)
        return adapter.parse_completion(data, headers)

    async def acomplete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> CompletionResponse:
        """Async twin of :meth:`complete`."""
        request = _request(CompletionRequest, request, fields)
        self.check_task(COMPLETIONS)
        if self.router is not None:
            return await self.router.acall(lambda c: c.acomplete(request))
        import asyncio  # here: async code runs only once asyncio is loaded

        adapter = await self._aadapter()
        gate = asyncio.Semaphore(self.max_concurrency)

        async def one(part: CompletionRequest) -> CompletionResponse:
            async with gate:
                http = await self._aprepare(adapter, adapter.completion_request(part, stream=False))
                data, headers = await self.transport.asend_json(http, adapter.error)
            return adapter.parse_completion(data, headers)

        parts = await asyncio.gather(*(one(r) for r in _by_prompts(request, adapter)))
        return _named(_merged(list(parts), request.n or 1), request.model or adapter.model)

    def stream_complete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> Iterator[CompletionChunk]:
        """Stream completion chunks; exactly the last chunk carries usage."""
        request = _request(CompletionRequest, request, fields)
        self.check_task(COMPLETIONS)
        if self.router is not None:
            yield from self.router.stream(lambda c: c.stream_complete(request))
            return
        adapter = self._adapter()
        _one_stream(request, adapter)
        http = self._prepare(adapter, adapter.completion_request(request, stream=True))
        usage = _UsageOnce(request.model or adapter.model)
        for chunks in self.transport.stream(http, adapter.error, adapter.completion_stream):
            for chunk in chunks:
                if usage.take(chunk):
                    yield chunk
        final = usage.final(CompletionChunk)
        if final is not None:
            yield final

    async def astream_complete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> AsyncIterator[CompletionChunk]:
        """Async twin of :meth:`stream_complete`."""
        request = _request(CompletionRequest, request, fields)
        self.check_task(COMPLETIONS)
        if self.router is not None:
            async for routed in self.router.astream(lambda c: c.astream_complete(request)):
                yield routed
            return
        adapter = await self._aadapter()
        _one_stream(request, adapter)
        http = await self._aprepare(adapter, adapter.completion_request(request, stream=True))
        usage = _UsageOnce(request.model or adapter.model)
        async for chunks in self.transport.astream(http, adapter.error, adapter.completion_stream):
            for chunk in chunks:
                if usage.take(chunk):
                    yield chunk
        final = usage.final(CompletionChunk)
        if final is not None:
            yield final

    # -- embeddings --------------------------------------------------------------------------

    def embedding_batch_size(self, requested: int | None = None) -> int:
        """The batch size used: ``requested`` capped by the target's per-request limit (for an
        endpoint config, the smallest limit of its served entities)."""
        if self.router is not None:
            return min(e.client.embedding_batch_size(requested) for e in self.router.entities)
        limit = self._adapter().embedding_batch_size
        return min(requested, limit) if requested else limit

    def embed(
        self,
        texts: list[str],
        *,
        input_kind: Literal["query", "document"] = "document",
        batch_size: int | None = None,
        model: str | None = None,
        extra_params: Mapping[str, Any] | None = None,
    ) -> EmbeddingsResponse:
        """Embed ``texts`` in batches sized to the target's limit; order is preserved."""
        self.check_task(EMBEDDINGS)
        if self.router is not None:
            return self.router.call(
                lambda c: c.embed(
                    texts,
                    input_kind=input_kind,
                    batch_size=batch_size,
                    model=model,
                    extra_params=extra_params,
                )
            )
        texts = _texts(texts)
        if not texts:
            return EmbeddingsResponse(
                [], model=self.model_name, usage=Usage(), provider=self.provider
            )
        adapter = self._adapter()
        parts = []
        for batch in _batches(texts, self.embedding_batch_size(batch_size)):
            request = EmbeddingsRequest(batch, input_kind, model, dict(extra_params or {}))
            http = self._prepare(adapter, adapter.embeddings_request(request))
            data, headers = self.transport.send_json(http, adapter.error)
            parts.append(_checked(adapter.parse_embeddings(data, headers), len(batch)))
        return _joined(parts, model or adapter.model, self)

    async def aembed(
        self,
        texts: list[str],
        *,
        input_kind: Literal["query", "document"] = "document",
        batch_size: int | None = None,
        model: str | None = None,
        extra_params: Mapping[str, Any] | None = None,
    ) -> EmbeddingsResponse:
        """Async twin of :meth:`embed`; batches go out concurrently (``max_concurrency``)."""
        self.check_task(EMBEDDINGS)
        if self.router is not None:
            return await self.router.acall(
                lambda c: c.aembed(
                    texts,
                    input_kind=input_kind,
                    batch_size=batch_size,
                    model=model,
                    extra_params=extra_params,
                )
            )
        texts = _texts(texts)
        if not texts:
            return EmbeddingsResponse(
                [], model=self.model_name, usage=Usage(), provider=self.provider
            )
        import asyncio  # here: async code runs only once asyncio is loaded

        adapter = await self._aadapter()
        gate = asyncio.Semaphore(self.max_concurrency)

        async def one(batch: list[str]) -> EmbeddingsResponse:
            request = EmbeddingsRequest(batch, input_kind, model, dict(extra_params or {}))
            async with gate:
                http = await self._aprepare(adapter, adapter.embeddings_request(request))
                data, headers = await self.transport.asend_json(http, adapter.error)
            return _checked(adapter.parse_embeddings(data, headers), len(batch))

        batches = _batches(texts, self.embedding_batch_size(batch_size))
        parts = await asyncio.gather(*(one(b) for b in batches))
        return _joined(list(parts), model or adapter.model, self)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients this object created."""
        for entity in self.router.entities if self.router is not None else ():
            entity.client.close()
        self.transport.close()

    async def aclose(self) -> None:
        """Close the HTTP clients this object created, from async code."""
        for entity in self.router.entities if self.router is not None else ():
            await entity.client.aclose()
        await self.transport.aclose()

    def __enter__(self) -> ExternalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ExternalClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_R = TypeVar("_R", ChatRequest, CompletionRequest)


def _request(cls: type[_R], request: _R | None, fields: dict[str, Any]) -> _R:
    if request is None:
        return cls(**fields)
    if fields:
        raise TypeError("pass either a request object or keyword fields, not both")
    return request


class _UsageOnce:
    """Holds back usage from every chunk and reports it once, on a final usage-only chunk.

    Targets differ: OpenAI sends one usage chunk when asked, serving endpoints fronting other
    providers repeat partial usage on every chunk, some send none. Callers always see it once.
    """

    __slots__ = ("id", "model", "provider", "usage")

    def __init__(self, model: str) -> None:
        self.usage: Usage | None = None
        self.id: str | None = None
        self.model = model
        self.provider: str | None = None

    def take(self, chunk: ChatChunk | CompletionChunk) -> bool:
        """Strip usage from ``chunk``; whether the chunk still carries anything."""
        if chunk.usage is not None:
            self.usage = chunk.usage if self.usage is None else self.usage.merged_with(chunk.usage)
            chunk.usage = None
        self.id = chunk.id or self.id
        self.model = chunk.model or self.model
        self.provider = chunk.provider
        return bool(chunk.choices)

    def final(self, cls: type[_C]) -> _C | None:
        if self.usage is None:
            return None
        return cls(self.id, self.model, [], self.usage.completed(), self.provider)


_N = TypeVar("_N", ChatResponse, CompletionResponse)


def _named(response: _N, model: str) -> _N:
    """Name the model that was called when the response does not (serving endpoints often
    leave ``model`` out)."""
    if not response.model:
        response.model = model
    return response


def _by_prompts(request: CompletionRequest, adapter: Adapter) -> list[CompletionRequest]:
    """``request`` split into requests the target takes (``adapter.prompts_per_request``)."""
    limit = adapter.prompts_per_request
    prompts = request.prompt
    if isinstance(prompts, str) or limit is None or len(prompts) <= limit:
        return [request]
    return [
        dataclasses.replace(request, prompt=prompts[i : i + limit] if limit > 1 else prompts[i])
        for i in range(0, len(prompts), limit)
    ]


def _one_stream(request: CompletionRequest, adapter: Adapter) -> None:
    limit = adapter.prompts_per_request
    if limit is not None and not isinstance(request.prompt, str) and len(request.prompt) > limit:
        raise ConfigurationError(
            f"provider '{adapter.provider}' streams {limit} prompt(s) per request, got "
            f"{len(request.prompt)}; stream the prompts one at a time"
        )


def _merged(parts: list[CompletionResponse], n: int) -> CompletionResponse:
    """One response from the responses to consecutive prompt groups: choice indexes follow
    OpenAI's ``prompt_index * n + j`` over all prompts, usage is summed."""
    if len(parts) == 1:
        return parts[0]
    choices: list[CompletionChoice] = []
    usage = Usage()
    for part in parts:
        offset = len(choices)
        choices += [dataclasses.replace(c, index=offset + c.index) for c in part.choices]
        if part.usage is not None:
            usage.prompt_tokens += part.usage.prompt_tokens
            usage.completion_tokens += part.usage.completion_tokens
            usage.total_tokens += part.usage.completed().total_tokens
    first = parts[0]
    return CompletionResponse(first.id, first.model, choices, usage, first.provider)


def _texts(texts: list[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of strings; wrap a single text in a list")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"texts[{i}] is {type(text).__name__}: only strings are embedded "
                "(token-id inputs are not supported)"
            )
    return texts


def _batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def _checked(response: EmbeddingsResponse, expected: int) -> EmbeddingsResponse:
    if len(response.embeddings) != expected:
        raise StreamError(
            f"asked for {expected} embeddings, got {len(response.embeddings)}",
            provider=response.provider,
        )
    return response


def _joined(
    parts: list[EmbeddingsResponse], model: str, client: ExternalClient
) -> EmbeddingsResponse:
    if len(parts) == 1:
        parts[0].model = parts[0].model or model
        return parts[0]
    usage = Usage()
    for part in parts:
        if part.usage is not None:
            usage.prompt_tokens += part.usage.prompt_tokens
            usage.total_tokens += part.usage.total_tokens
    return EmbeddingsResponse(
        embeddings=[vector for part in parts for vector in part.embeddings],
        model=parts[0].model or model,
        usage=usage,
        provider=client.provider,
    )
