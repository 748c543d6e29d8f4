"""Our LlamaIndex conformance suite (``standard.py``) applied to the three classes, for each
target kind, replayed from ``cassettes/llama_index`` (recorded against the loopback stubs).

* serving endpoint (``endpoint=``) against the stub with real-endpoint quirks (content parts,
  a reasoning summary, usage repeated on every chunk);
* ``external_model`` with provider ``openai`` against the plain OpenAI-format stub;
* ``external_model`` with provider ``anthropic`` against the stub's Anthropic Messages wire;
* ``external_model`` with provider ``google-cloud-vertex-ai`` (Gemini chat and completions,
  ``text-embedding-005``) against the stub's Vertex wire, signing in through the loopback token
  endpoint (``tests/support/vertex_cassettes.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations.llama_index import ChatExternal, CompletionExternal, ExternalEmbeddings
from tests.conftest import OPENAI_BASE, QUIRKS_BASE
from tests.llama_index.standard import ChatLLMTests, CompletionLLMTests, EmbeddingsTests
from tests.support.vertex_cassettes import stub_external_model

ENDPOINT = {"host": QUIRKS_BASE, "token": "test-token"}


def openai_model(task: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "openai",
        "task": task,
        "openai_config": {
            "openai_api_key_plaintext": "test-key",
            "openai_api_base": f"{OPENAI_BASE}/v1",
        },
    }


ANTHROPIC_CHAT = {
    "name": "claude-3-5-haiku-20241022",
    "provider": "anthropic",
    "task": "llm/v1/chat",
    "anthropic_config": {
        "anthropic_api_key_plaintext": "test-key",
        "anthropic_api_base": OPENAI_BASE,
    },
}


@pytest.mark.vcr
class TestChatExternalEndpoint(ChatLLMTests):
    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"token": "test-token"}

    @property
    def llm_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"endpoint": "stub-chat", **ENDPOINT}


@pytest.mark.vcr
class TestChatExternalOpenAI(ChatLLMTests):
    @property
    def llm_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"external_model": openai_model("llm/v1/chat", "gpt-4o-mini")}

    @property
    def expected_context_window(self) -> int:
        return 128_000

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"openai_api_key_plaintext": "test-key"}


@pytest.mark.vcr
class TestChatExternalAnthropic(ChatLLMTests):
    @property
    def llm_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        # Anthropic requires max_tokens; the tests that set it at call time still win.
        return {"external_model": ANTHROPIC_CHAT, "max_tokens": 256}

    @property
    def expected_context_window(self) -> int:
        return 200_000

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"anthropic_api_key_plaintext": "test-key"}


GEMINI = "gemini-2.5-flash"


def vertex_secrets(model: dict[str, Any]) -> dict[str, Any]:
    """The service-account key ``to_dict`` leaves out, for ``from_dict``."""
    key = model["google_cloud_vertex_ai_config"]["private_key_plaintext"]
    return {"private_key_plaintext": key}


VERTEX_CHAT = stub_external_model(OPENAI_BASE, GEMINI)


@pytest.mark.vcr
class TestChatExternalVertex(ChatLLMTests):
    @property
    def llm_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"external_model": VERTEX_CHAT}

    @property
    def expected_context_window(self) -> int:
        return 1_048_576

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return vertex_secrets(VERTEX_CHAT)


@pytest.mark.vcr
class TestCompletionExternalEndpoint(CompletionLLMTests):
    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"token": "test-token"}

    @property
    def llm_class(self) -> type[CompletionExternal]:
        return CompletionExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"endpoint": "stub-completions", **ENDPOINT}


@pytest.mark.vcr
class TestCompletionExternalOpenAI(CompletionLLMTests):
    @property
    def llm_class(self) -> type[CompletionExternal]:
        return CompletionExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"external_model": openai_model("llm/v1/completions", "gpt-3.5-turbo-instruct")}

    @property
    def expected_context_window(self) -> int:
        return 4_096

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"openai_api_key_plaintext": "test-key"}


VERTEX_COMPLETIONS = stub_external_model(OPENAI_BASE, GEMINI, "llm/v1/completions")


@pytest.mark.vcr
class TestCompletionExternalVertex(CompletionLLMTests):
    @property
    def llm_class(self) -> type[CompletionExternal]:
        return CompletionExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"external_model": VERTEX_COMPLETIONS}

    @property
    def expected_context_window(self) -> int:
        return 1_048_576

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return vertex_secrets(VERTEX_COMPLETIONS)


@pytest.mark.vcr
class TestExternalEmbeddingsEndpoint(EmbeddingsTests):
    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"token": "test-token"}

    @property
    def embeddings_class(self) -> type[ExternalEmbeddings]:
        return ExternalEmbeddings

    @property
    def embeddings_params(self) -> dict[str, Any]:
        return {"endpoint": "stub-embeddings", **ENDPOINT}


@pytest.mark.vcr
class TestExternalEmbeddingsOpenAI(EmbeddingsTests):
    @property
    def embeddings_class(self) -> type[ExternalEmbeddings]:
        return ExternalEmbeddings

    @property
    def embeddings_params(self) -> dict[str, Any]:
        return {"external_model": openai_model("llm/v1/embeddings", "text-embedding-3-small")}

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"openai_api_key_plaintext": "test-key"}


VERTEX_EMBEDDINGS = stub_external_model(OPENAI_BASE, "text-embedding-005", "llm/v1/embeddings")


@pytest.mark.vcr
class TestExternalEmbeddingsVertex(EmbeddingsTests):
    @property
    def embeddings_class(self) -> type[ExternalEmbeddings]:
        return ExternalEmbeddings

    @property
    def embeddings_params(self) -> dict[str, Any]:
        return {"external_model": VERTEX_EMBEDDINGS}

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return vertex_secrets(VERTEX_EMBEDDINGS)


COHERE_CHAT = {
    "name": "command-a-03-2025",
    "provider": "cohere",
    "task": "llm/v1/chat",
    "cohere_config": {
        "cohere_api_key_plaintext": "test-key",
        "cohere_api_base": OPENAI_BASE,
    },
}


@pytest.mark.vcr
class TestChatExternalCohere(ChatLLMTests):
    """``external_model`` with provider ``cohere`` against the stub's Cohere v2 chat wire."""

    @property
    def llm_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def llm_params(self) -> dict[str, Any]:
        return {"external_model": COHERE_CHAT}

    @property
    def expected_context_window(self) -> int:
        return 256_000

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        return {"cohere_api_key_plaintext": "test-key"}
