"""``ExternalEmbeddings``: LangChain embeddings over any external-model target."""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.embeddings import Embeddings
from langchain_core.load.serializable import Serializable
from pydantic import Field, field_validator

from extmodels_integrations._progress import batch_bar, require_tqdm
from extmodels_integrations._types import EMBEDDINGS, Task
from extmodels_integrations.langchain._base import ExternalTarget
from extmodels_integrations.langchain._errors import translated

__all__ = ["ExternalEmbeddings"]


class ExternalEmbeddings(ExternalTarget, Serializable, Embeddings):
    """Embeddings for an external-model endpoint (``llm/v1/embeddings``).

    Texts go out in batches of ``batch_size`` capped by the target's per-request limit (2048 for
    OpenAI, 150 for serving endpoints, 96 for Cohere...), concurrently in the async methods,
    and come back in input order. Texts are sent as they are: no token-id conversion, no
    rewriting. Queries and documents are marked as such for providers that embed them
    differently. ``show_progress=True`` draws a tqdm bar over the batches of
    ``embed_documents`` / ``aembed_documents``, like LlamaIndex's ``show_progress``.
    """

    _task: ClassVar[Task] = EMBEDDINGS

    batch_size: int | None = None
    """Most texts per request; ``None`` uses the target's limit."""
    max_concurrency: int = 8
    """Most batches in flight at once in ``aembed_documents``."""
    show_progress: bool = False
    """Show a progress bar over the batches of each document call (needs ``tqdm``)."""
    query_params: dict[str, Any] = Field(default_factory=dict)
    """Extra fields for query calls only, over ``extra_params`` (``DatabricksEmbeddings``)."""
    documents_params: dict[str, Any] = Field(default_factory=dict)
    """Extra fields for document calls only, over ``extra_params``."""

    @field_validator("show_progress")
    @classmethod
    def _tqdm_installed(cls, value: bool) -> bool:
        if value:
            require_tqdm("show_progress")
        return value

    def _client_options(self) -> dict[str, Any]:
        return {"max_concurrency": self.max_concurrency}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents, in order."""
        with translated(), batch_bar(self.show_progress) as progress:
            return self.client.embed(
                texts,
                input_kind="document",
                batch_size=self.batch_size,
                extra_params={**self.extra_params, **self.documents_params},
                progress=progress,
            ).embeddings

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query."""
        with translated():
            return self.client.embed(
                [text], input_kind="query", extra_params={**self.extra_params, **self.query_params}
            ).embeddings[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents concurrently, in order."""
        with translated(), batch_bar(self.show_progress) as progress:
            response = await self.client.aembed(
                texts,
                input_kind="document",
                batch_size=self.batch_size,
                extra_params={**self.extra_params, **self.documents_params},
                progress=progress,
            )
        return response.embeddings

    async def aembed_query(self, text: str) -> list[float]:
        """Embed one search query."""
        with translated():
            response = await self.client.aembed(
                [text], input_kind="query", extra_params={**self.extra_params, **self.query_params}
            )
        return response.embeddings[0]
