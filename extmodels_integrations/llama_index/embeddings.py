"""``ExternalEmbeddings``: LlamaIndex embeddings over any external-model target."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, ClassVar

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

from extmodels_integrations._events import observing
from extmodels_integrations._types import EMBEDDINGS, Task
from extmodels_integrations.llama_index._base import ExternalTarget
from extmodels_integrations.llama_index._events import observer

__all__ = ["ExternalEmbeddings"]

_MAX_BATCH = 2048  # BaseEmbedding's own upper bound for embed_batch_size


class ExternalEmbeddings(ExternalTarget, BaseEmbedding):
    """LlamaIndex embeddings for an external-model endpoint (``llm/v1/embeddings``).

    ``embed_batch_size`` texts go out per request, capped on first use by the target's
    per-request limit (2048 for OpenAI, 150 for serving endpoints, 96 for Cohere...), so
    LlamaIndex's own batching, progress bar (``show_progress``) and events match the requests
    actually sent. Async batches run concurrently, at most ``max_concurrency`` at a time, and
    come back in input order. Texts are sent as they are (no newline rewriting); queries and
    documents are marked as such for providers that embed them differently.
    """

    _task: ClassVar[Task] = EMBEDDINGS

    embed_batch_size: int = Field(default=_MAX_BATCH, gt=0, le=_MAX_BATCH)
    """Most texts per request; the default means "the target's limit"."""
    max_concurrency: int = Field(default=8, ge=1)
    """Most requests in flight at once in the async methods."""

    _capped: bool = PrivateAttr(default=False)
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = PrivateAttr(
        default_factory=weakref.WeakKeyDictionary
    )

    @classmethod
    def class_name(cls) -> str:
        """Serialization key."""
        return "ExternalEmbeddings"

    def _client_options(self) -> dict[str, Any]:
        return {"max_concurrency": self.max_concurrency}

    def _client_built(self) -> None:
        # LlamaIndex shows model_name in events and payloads: name the target.
        self.model_name = self.model or self.model_name

    # -- batching ----------------------------------------------------------------------------

    def _cap(self) -> None:
        if not self._capped:
            self.embed_batch_size = self.client.embedding_batch_size(self.embed_batch_size)
            self._capped = True

    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Embed ``texts`` in order, in batches no larger than the target takes."""
        self._cap()
        return super().get_text_embedding_batch(texts, show_progress=show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Async twin of :meth:`get_text_embedding_batch`; batches run concurrently."""
        if not self._capped:
            # The first call may resolve secrets through the workspace API: off the loop.
            await asyncio.to_thread(self._cap)
        return await super().aget_text_embedding_batch(texts, show_progress=show_progress, **kwargs)

    def _gate(self) -> asyncio.Semaphore:
        # LlamaIndex gathers every batch at once; one semaphore per event loop bounds them.
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_concurrency)
        return gate

    # -- the calls ---------------------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> Embedding:
        with observing(observer()):
            response = self.client.embed(
                [query], input_kind="query", extra_params=self.extra_params
            )
        return response.embeddings[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        async with self._gate():
            with observing(observer()):
                response = await self.client.aembed(
                    [query], input_kind="query", extra_params=self.extra_params
                )
        return response.embeddings[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with observing(observer()):
            response = self.client.embed(
                texts,
                input_kind="document",
                batch_size=self.embed_batch_size,
                extra_params=self.extra_params,
            )
        return response.embeddings

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        async with self._gate():
            with observing(observer()):
                response = await self.client.aembed(
                    texts,
                    input_kind="document",
                    batch_size=self.embed_batch_size,
                    extra_params=self.extra_params,
                )
        return response.embeddings
