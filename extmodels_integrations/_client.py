"""``ExternalClient``: the framework-free client every LangChain and LlamaIndex class sits on.

A thin facade: it checks the arguments, picks the target and hands every call to one of two
pipelines that offer the same calls — :class:`~extmodels_integrations._direct.DirectTarget`
(a serving endpoint, or an ``external_model`` block called directly) or
:class:`~extmodels_integrations._routed.RoutedTarget` (an endpoint config's served entities
behind its router) — so no method here asks which kind of target it has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
from pydantic import SecretStr

from extmodels_integrations._direct import DirectTarget
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._secrets import SecretLookup
from extmodels_integrations._transport import Transport
from extmodels_integrations._types import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    BatchProgress,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsResponse,
    Task,
)
from extmodels_integrations._workspace import (
    WorkspaceSignIn,
    find_workspace,
    normalized_host,
    sign_in,
)
from extmodels_integrations.providers._base import Adapter

if TYPE_CHECKING:
    # Loaded when a client is given external_model= or endpoint_config=: a serving endpoint
    # needs neither, and their pydantic models are most of the core's own import time.
    from extmodels_integrations._config import ExternalModel
    from extmodels_integrations._endpoint_config import EndpointConfig, EndpointConfigSource
    from extmodels_integrations._routed import RoutedTarget
    from extmodels_integrations._routing import RateLimitBehavior, Router

__all__ = ["ExternalClient"]

_TASK_CLASSES = {
    CHAT: "ChatExternal",
    COMPLETIONS: "CompletionExternal",
    EMBEDDINGS: "ExternalEmbeddings",
}


class ExternalClient:
    """Sync and async access to one external-model target, returning unified types.

    Give exactly one target:

    * ``endpoint="name"``: a serving endpoint that speaks the unified schema, on the workspace
      ``host`` / ``token`` / ``profile`` / ``client_id`` + ``client_secret`` / ``auth_type``
      sign in to (by default from the ``DATABRICKS_*`` environment variables and
      ``~/.databrickscfg``, see :mod:`extmodels_integrations._workspace`); signed in here,
      so a bad configuration fails now, OAuth tokens fetched at the first request;
    * ``external_model={...}``: an ``external_model`` block, called on the provider directly;
    * ``endpoint_config=`` a serving-endpoint create body (a mapping, or a path to a JSON or
      YAML file): validated as the service does, each call routed by the traffic split over
      its served entities, its ``rate_limits`` applied in this process (``rate_limit_behavior``
      ``"wait"`` or ``"raise"``; ``rate_limit_user`` is who ``key: user`` means, by default
      the OS login name), and ``ai_gateway.fallback_config`` (or ``fallbacks=``) honoured.
      ``routing_seed`` makes the split repeat exactly. Results say in ``metadata`` which
      served entity and provider answered (see :mod:`extmodels_integrations._routing`).

    Fields of ours that a real endpoint would refuse (``anthropic_api_base``,
    ``aws_session_token``...) in either block get one
    :class:`~extmodels_integrations.NotDeployableWarning`; ``strict_config=True`` refuses them
    with a ``ConfigurationError``, so what runs here also deploys.

    Secret references in ``external_model`` resolve through ``secret_resolver``, then
    ``EXTMODELS_SECRET__<SCOPE>__<KEY>`` environment variables, then the workspace secrets API
    when the workspace settings say how to sign in (see
    :class:`~extmodels_integrations.SecretResolver`).
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
        profile: str | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        auth_type: str | None = None,
        strict_config: bool = False,
    ) -> None:
        _check_arguments(endpoint, external_model, endpoint_config, max_concurrency)
        if rate_limit_behavior not in ("wait", "raise"):
            raise ConfigurationError(
                f"rate_limit_behavior={rate_limit_behavior!r}: use 'wait' or 'raise'"
            )
        self.endpoint = endpoint
        self.external_model = _external_model(external_model, strict_config)
        self.endpoint_config = _endpoint_config(endpoint_config, strict_config)
        workspace = {
            "host": host,
            "token": token,
            "profile": profile,
            "client_id": client_id,
            "client_secret": client_secret,
            "auth_type": auth_type,
        }
        self._workspace = self._sign_in(workspace) if endpoint is not None else None
        self.max_concurrency = max_concurrency
        transport = {
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "stall_timeout": stall_timeout,
            "max_retries": max_retries,
            "http_client": http_client,
            "http_async_client": http_async_client,
        }
        shared = {"stream_usage": stream_usage, "max_concurrency": max_concurrency}
        self._target: DirectTarget | RoutedTarget
        if self.endpoint_config is None:
            self._target = self._direct(transport, shared, secret_resolver, workspace)
        else:
            entity = {**transport, **shared, **workspace}
            self._target = _routed(
                self.endpoint_config,
                {**entity, "secret_resolver": secret_resolver},
                seed=routing_seed,
                fallbacks=fallbacks,
                rate_limit_behavior=rate_limit_behavior,
                rate_limit_user=rate_limit_user,
            )

    def _sign_in(self, workspace: dict[str, Any]) -> WorkspaceSignIn:
        try:
            return sign_in(find_workspace(workspace))
        except ConfigurationError as exc:
            raise ConfigurationError(f"endpoint '{self.endpoint}': {exc}") from None

    def _direct(
        self,
        transport: dict[str, Any],
        shared: dict[str, Any],
        resolver: SecretLookup | None,
        workspace: dict[str, Any],
    ) -> DirectTarget:
        return DirectTarget(
            transport=Transport(provider=self.provider, **transport),
            external_model=self.external_model,
            endpoint=self.endpoint,
            workspace=self._workspace,
            workspace_arguments=workspace,
            secret_resolver=resolver,
            **shared,
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
        if self._workspace is not None:
            return self._workspace.host
        found = self._target.workspace_host() if isinstance(self._target, DirectTarget) else None
        return normalized_host(found) if found else None

    @property
    def workspace(self) -> WorkspaceSignIn | None:
        """The sign-in of a serving endpoint's workspace (``None`` for other targets)."""
        return self._workspace

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

    # -- the pipelines -----------------------------------------------------------------------

    @property
    def router(self) -> Router[ExternalClient] | None:
        """The router of an endpoint config (``None`` for a single target)."""
        return None if isinstance(self._target, DirectTarget) else self._target.router

    @property
    def transport(self) -> Transport:
        """The HTTP transport of a single target (its timeouts, retries and httpx clients)."""
        if not isinstance(self._target, DirectTarget):
            raise AttributeError(
                "an endpoint-config client has one transport per served entity: "
                "use client.router.entities[i].client.transport"
            )
        return self._target.transport

    def _adapter(self) -> Adapter:
        # The provider adapter of a single target, built (and its secrets resolved) on first use.
        if not isinstance(self._target, DirectTarget):
            raise AttributeError("an endpoint-config client has one adapter per served entity")
        return self._target.adapter()

    # -- chat --------------------------------------------------------------------------------

    def chat(self, request: ChatRequest | None = None, **fields: Any) -> ChatResponse:
        """One chat completion. Pass a :class:`ChatRequest` or its fields as keywords."""
        return self._target.chat(self._checked(CHAT, _request(ChatRequest, request, fields)))

    async def achat(self, request: ChatRequest | None = None, **fields: Any) -> ChatResponse:
        """Async twin of :meth:`chat`."""
        checked = self._checked(CHAT, _request(ChatRequest, request, fields))
        return await self._target.achat(checked)

    def stream_chat(self, request: ChatRequest | None = None, **fields: Any) -> Iterator[ChatChunk]:
        """Stream chat chunks; exactly the last chunk carries usage (when the target reports it)."""
        return self._target.stream_chat(self._checked(CHAT, _request(ChatRequest, request, fields)))

    def astream_chat(
        self, request: ChatRequest | None = None, **fields: Any
    ) -> AsyncIterator[ChatChunk]:
        """Async twin of :meth:`stream_chat`."""
        checked = self._checked(CHAT, _request(ChatRequest, request, fields))
        return self._target.astream_chat(checked)

    # -- completions -------------------------------------------------------------------------

    def complete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> CompletionResponse:
        """One completions call. Pass a :class:`CompletionRequest` or its fields as keywords."""
        checked = self._checked(COMPLETIONS, _request(CompletionRequest, request, fields))
        return self._target.complete(checked)

    async def acomplete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> CompletionResponse:
        """Async twin of :meth:`complete`."""
        checked = self._checked(COMPLETIONS, _request(CompletionRequest, request, fields))
        return await self._target.acomplete(checked)

    def stream_complete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> Iterator[CompletionChunk]:
        """Stream completion chunks; exactly the last chunk carries usage."""
        checked = self._checked(COMPLETIONS, _request(CompletionRequest, request, fields))
        return self._target.stream_complete(checked)

    def astream_complete(
        self, request: CompletionRequest | None = None, **fields: Any
    ) -> AsyncIterator[CompletionChunk]:
        """Async twin of :meth:`stream_complete`."""
        checked = self._checked(COMPLETIONS, _request(CompletionRequest, request, fields))
        return self._target.astream_complete(checked)

    # -- embeddings --------------------------------------------------------------------------

    def reported_context_window(self) -> int | None:
        """The context window the server states for the model, asked once: vLLM, llama.cpp's
        ``llama-server``, OpenRouter, LM Studio and others behind an OpenAI-compatible
        ``openai_api_base`` do; providers that publish their limits are not asked (``None``)."""
        return self._target.reported_context_window()

    def embedding_batch_size(self, requested: int | None = None) -> int:
        """The batch size used: ``requested`` capped by the target's per-request limit (for an
        endpoint config, the smallest limit of its served entities)."""
        return self._target.embedding_batch_size(requested)

    def embed(
        self,
        texts: str | list[str],
        *,
        input_kind: Literal["query", "document"] = "document",
        batch_size: int | None = None,
        model: str | None = None,
        extra_params: Mapping[str, Any] | None = None,
        progress: BatchProgress | None = None,
    ) -> EmbeddingsResponse:
        """Embed ``texts`` (a string is one text) in batches sized to the target's limit; order
        is preserved.

        ``progress(done, total)`` counts batches: ``(0, total)`` before the first request, then
        once as each batch completes.
        """
        self.check_task(EMBEDDINGS)
        return self._target.embed(texts, input_kind, batch_size, model, extra_params, progress)

    async def aembed(
        self,
        texts: str | list[str],
        *,
        input_kind: Literal["query", "document"] = "document",
        batch_size: int | None = None,
        model: str | None = None,
        extra_params: Mapping[str, Any] | None = None,
        progress: BatchProgress | None = None,
    ) -> EmbeddingsResponse:
        """Async twin of :meth:`embed`; batches go out concurrently (``max_concurrency``)."""
        self.check_task(EMBEDDINGS)
        return await self._target.aembed(
            texts, input_kind, batch_size, model, extra_params, progress
        )

    def _checked(self, task: Task, request: _R) -> _R:
        self.check_task(task)
        return request

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients this object created."""
        self._target.close()

    async def aclose(self) -> None:
        """Close the HTTP clients this object created, from async code."""
        await self._target.aclose()

    def __enter__(self) -> ExternalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ExternalClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _check_arguments(
    endpoint: str | None, external_model: object, endpoint_config: object, max_concurrency: int
) -> None:
    if sum(t is not None for t in (endpoint, external_model, endpoint_config)) != 1:
        raise ConfigurationError(
            "give exactly one target: endpoint='<serving endpoint name>', "
            "external_model={...} (an external_model block) or endpoint_config=... "
            "(a serving-endpoint create body, or a path to one)"
        )
    if max_concurrency < 1:
        raise ConfigurationError("max_concurrency must be at least 1")


def _external_model(
    block: Mapping[str, Any] | ExternalModel | None, strict: bool
) -> ExternalModel | None:
    if block is None:
        return None
    from extmodels_integrations._config import parse_external_model

    return parse_external_model(block, strict=strict)


def _endpoint_config(source: EndpointConfigSource | None, strict: bool) -> EndpointConfig | None:
    if source is None:
        return None
    from extmodels_integrations._endpoint_config import load_endpoint_config

    return load_endpoint_config(source, strict=strict)


def _routed(config: EndpointConfig, entity_options: dict[str, Any], **routing: Any) -> RoutedTarget:
    """One direct client per served entity behind the config's router."""
    from extmodels_integrations._routed import RoutedTarget
    from extmodels_integrations._routing import Router

    clients = [
        ExternalClient(external_model=e.external_model, **entity_options)
        for e in config.served_entities
    ]
    return RoutedTarget(Router(config, clients, **routing))


_R = TypeVar("_R", ChatRequest, CompletionRequest)


def _request(cls: type[_R], request: _R | None, fields: dict[str, Any]) -> _R:
    if request is None:
        return cls(**fields)
    if fields:
        raise TypeError("pass either a request object or keyword fields, not both")
    if not isinstance(request, cls):
        # A list of messages or a prompt string here would otherwise fail deep in a provider
        # adapter with an error about shapes, far from the call that was wrong.
        raise TypeError(
            f"the request must be a {cls.__name__} or keyword fields, not "
            f"{type(request).__name__}: e.g. chat(messages=[...]), complete(prompt=...), "
            "embed(input=...)"
        )
    return request
