"""LlamaIndex classes: ``ChatExternal``, ``CompletionExternal`` and ``ExternalEmbeddings``.

Needs the ``llama-index`` extra: ``pip install "extmodels-integrations[llama-index]"``.
"""

from extmodels_integrations.llama_index._events import (
    ExternalFallbackEvent,
    ExternalRateLimitWaitEvent,
    ExternalRetryEvent,
)
from extmodels_integrations.llama_index.embeddings import ExternalEmbeddings
from extmodels_integrations.llama_index.llms import ChatExternal, CompletionExternal

__all__ = [
    "ChatExternal",
    "CompletionExternal",
    "ExternalEmbeddings",
    "ExternalFallbackEvent",
    "ExternalRateLimitWaitEvent",
    "ExternalRetryEvent",
]
