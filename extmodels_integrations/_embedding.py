"""Embeddings on a direct target: texts in batches sized to the target's limit, sent one after
another (sync) or concurrently up to ``max_concurrency`` (async), each checked to hold one
vector per text, joined in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from extmodels_integrations._batching import batches, checked, joined, text_list
from extmodels_integrations._types import (
    BatchProgress,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Usage,
)
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations.providers._base import Adapter

__all__ = ["EmbeddingCalls"]


class EmbeddingCalls:
    """The embeddings calls of :class:`~extmodels_integrations._direct.DirectTarget`, which
    provides the adapter, the two send shells and the target's names."""

    _max_concurrency: int

    def adapter(self) -> Adapter:
        raise NotImplementedError

    async def aadapter(self) -> Adapter:
        raise NotImplementedError

    def _send(self, adapter: Adapter, request: HttpRequest) -> tuple[Any, Mapping[str, str]]:
        raise NotImplementedError

    async def _asend(self, adapter: Adapter, request: HttpRequest) -> tuple[Any, Mapping[str, str]]:
        raise NotImplementedError

    @property
    def _provider(self) -> str:
        raise NotImplementedError

    @property
    def _name(self) -> str:
        raise NotImplementedError

    def embedding_batch_size(self, requested: int | None = None) -> int:
        """``requested`` capped by the target's per-request limit."""
        limit = self.adapter().embedding_batch_size
        return min(requested, limit) if requested else limit

    def embed(
        self,
        texts: str | list[str],
        input_kind: Literal["query", "document"],
        batch_size: int | None,
        model: str | None,
        extra_params: Mapping[str, Any] | None,
        progress: BatchProgress | None = None,
    ) -> EmbeddingsResponse:
        """Embed ``texts`` in batches sized to the target's limit; order is preserved."""
        texts = text_list(texts)
        if not texts:
            return self._no_embeddings()
        adapter = self.adapter()
        parts = []
        todo = batches(texts, self.embedding_batch_size(batch_size))
        if progress is not None:
            progress(0, len(todo))
        for batch in todo:
            request = EmbeddingsRequest(batch, input_kind, model, dict(extra_params or {}))
            data, headers = self._send(adapter, adapter.embeddings_request(request))
            parts.append(checked(adapter.parse_embeddings(data, headers), len(batch)))
            if progress is not None:
                progress(len(parts), len(todo))
        return joined(parts, model or adapter.model, self._provider)

    async def aembed(
        self,
        texts: str | list[str],
        input_kind: Literal["query", "document"],
        batch_size: int | None,
        model: str | None,
        extra_params: Mapping[str, Any] | None,
        progress: BatchProgress | None = None,
    ) -> EmbeddingsResponse:
        """Async twin of :meth:`embed`; batches go out concurrently (``max_concurrency``)."""
        texts = text_list(texts)
        if not texts:
            return self._no_embeddings()
        import asyncio  # here: async code runs only once asyncio is loaded

        adapter = await self.aadapter()
        gate = asyncio.Semaphore(self._max_concurrency)
        todo = batches(texts, self.embedding_batch_size(batch_size))
        done = 0

        async def one(batch: list[str]) -> EmbeddingsResponse:
            nonlocal done
            request = EmbeddingsRequest(batch, input_kind, model, dict(extra_params or {}))
            async with gate:
                data, headers = await self._asend(adapter, adapter.embeddings_request(request))
            part = checked(adapter.parse_embeddings(data, headers), len(batch))
            # Counted as batches finish, in any order: the results are still joined in order.
            done += 1
            if progress is not None:
                progress(done, len(todo))
            return part

        if progress is not None:
            progress(0, len(todo))
        parts = await asyncio.gather(*(one(b) for b in todo))
        return joined(list(parts), model or adapter.model, self._provider)

    def _no_embeddings(self) -> EmbeddingsResponse:
        return EmbeddingsResponse([], model=self._name, usage=Usage(), provider=self._provider)
