"""The routed pipeline: an endpoint config's served entities, one direct client each, every
call handed to :class:`~extmodels_integrations._routing.Router` (limits, traffic split,
fallbacks). It offers the same calls as the direct pipeline, so the client facade never asks
which kind of target it has."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from extmodels_integrations._client import ExternalClient
    from extmodels_integrations._routing import Router
    from extmodels_integrations._types import (
        BatchProgress,
        ChatChunk,
        ChatRequest,
        ChatResponse,
        CompletionChunk,
        CompletionRequest,
        CompletionResponse,
        EmbeddingsResponse,
    )

__all__ = ["RoutedTarget"]


class RoutedTarget:
    """Calls an endpoint config's served entities through its router."""

    def __init__(self, router: Router[ExternalClient]) -> None:
        self.router = router

    def chat(self, request: ChatRequest) -> ChatResponse:
        """One chat completion from the entity the split (or a fallback) picks."""
        return self.router.call(lambda c: c.chat(request))

    async def achat(self, request: ChatRequest) -> ChatResponse:
        """Async twin of :meth:`chat`."""
        return await self.router.acall(lambda c: c.achat(request))

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Stream chat chunks from one entity; a fallback happens only before the first."""
        return self.router.stream(lambda c: c.stream_chat(request))

    def astream_chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Async twin of :meth:`stream_chat`."""
        return self.router.astream(lambda c: c.astream_chat(request))

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        """One completions call, routed."""
        return self.router.call(lambda c: c.complete(request))

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        """Async twin of :meth:`complete`."""
        return await self.router.acall(lambda c: c.acomplete(request))

    def stream_complete(self, request: CompletionRequest) -> Iterator[CompletionChunk]:
        """Stream completion chunks, routed."""
        return self.router.stream(lambda c: c.stream_complete(request))

    def astream_complete(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        """Async twin of :meth:`stream_complete`."""
        return self.router.astream(lambda c: c.astream_complete(request))

    def reported_context_window(self) -> int | None:
        """The smallest window the served entities state; ``None`` unless every one does (a
        request may land on any of them)."""
        windows = [e.client.reported_context_window() for e in self.router.entities]
        known = [w for w in windows if w is not None]
        return min(known) if known and len(known) == len(windows) else None

    def embedding_batch_size(self, requested: int | None = None) -> int:
        """The smallest per-request limit of the served entities."""
        return min(e.client.embedding_batch_size(requested) for e in self.router.entities)

    def embed(
        self,
        texts: str | list[str],
        input_kind: Literal["query", "document"],
        batch_size: int | None,
        model: str | None,
        extra_params: Mapping[str, Any] | None,
        progress: BatchProgress | None = None,
    ) -> EmbeddingsResponse:
        """Embed ``texts`` on the entity the split picks."""
        options = _embed_options(input_kind, batch_size, model, extra_params, progress)
        return self.router.call(lambda c: c.embed(texts, **options))

    async def aembed(
        self,
        texts: str | list[str],
        input_kind: Literal["query", "document"],
        batch_size: int | None,
        model: str | None,
        extra_params: Mapping[str, Any] | None,
        progress: BatchProgress | None = None,
    ) -> EmbeddingsResponse:
        """Async twin of :meth:`embed`."""
        options = _embed_options(input_kind, batch_size, model, extra_params, progress)
        return await self.router.acall(lambda c: c.aembed(texts, **options))

    def close(self) -> None:
        """Close every served entity's client."""
        for entity in self.router.entities:
            entity.client.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        for entity in self.router.entities:
            await entity.client.aclose()


def _embed_options(
    input_kind: str,
    batch_size: int | None,
    model: str | None,
    extra: Mapping[str, Any] | None,
    progress: BatchProgress | None,
) -> dict[str, Any]:
    return {
        "input_kind": input_kind,
        "batch_size": batch_size,
        "model": model,
        "extra_params": extra,
        "progress": progress,
    }
