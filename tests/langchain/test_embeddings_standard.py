"""langchain-tests standard suites for ExternalEmbeddings (cassettes as in the chat suite)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from extmodels_integrations.langchain import ExternalEmbeddings
from tests.conftest import OPENAI_BASE, QUIRKS_BASE

OPENAI_EMBEDDINGS_MODEL = {
    "name": "text-embedding-3-small",
    "provider": "openai",
    "task": "llm/v1/embeddings",
    "openai_config": {
        "openai_api_key_plaintext": "test-key",
        "openai_api_base": f"{OPENAI_BASE}/v1",
    },
}


class TestExternalEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[ExternalEmbeddings]:
        return ExternalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"endpoint": "stub-embeddings", "host": QUIRKS_BASE, "token": "test-token"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"DATABRICKS_HOST": "https://example.cloud.databricks.com", "DATABRICKS_TOKEN": "t0k"},
            {"endpoint": "my-embeddings"},
            {"host": "https://example.cloud.databricks.com", "token": "t0k"},
        )


@pytest.mark.vcr
class TestExternalEmbeddingsEndpoint(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[ExternalEmbeddings]:
        return ExternalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"endpoint": "stub-embeddings", "host": QUIRKS_BASE, "token": "test-token"}


@pytest.mark.vcr
class TestExternalEmbeddingsOpenAI(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[ExternalEmbeddings]:
        return ExternalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"external_model": OPENAI_EMBEDDINGS_MODEL}
