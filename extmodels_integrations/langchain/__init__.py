"""LangChain classes: ``ChatExternal``, ``CompletionExternal`` and ``ExternalEmbeddings``.

Needs the ``langchain`` extra: ``pip install "extmodels-integrations[langchain]"``.
"""

from extmodels_integrations.langchain.chat_models import ChatExternal
from extmodels_integrations.langchain.embeddings import ExternalEmbeddings
from extmodels_integrations.langchain.llms import CompletionExternal

__all__ = ["ChatExternal", "CompletionExternal", "ExternalEmbeddings"]
