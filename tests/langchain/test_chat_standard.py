"""langchain-tests standard suites for ChatExternal, for both target kinds.

The integration classes replay cassettes recorded against the loopback stub servers in
``tests/support/openai_server.py`` (see ``tests/conftest.py``): ``endpoint=`` against the
serving-endpoint server with real-endpoint quirks, ``external_model`` (provider ``openai``)
against the plain OpenAI-format server. The stub scripts tool calls and JSON answers for the
standard prompts, so these prove the request/response plumbing, not model quality. The image
and PDF tests download their samples; a local PNG and PDF stand in
(``tests/support/samples.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations.langchain import ChatExternal
from tests.conftest import OPENAI_BASE, QUIRKS_BASE
from tests.support.langchain_standard import ChatIntegrationTests, ChatUnitTests

OPENAI_CHAT_MODEL = {
    "name": "gpt-4o-mini",
    "provider": "openai",
    "task": "llm/v1/chat",
    "openai_config": {
        "openai_api_key_plaintext": "test-key",
        "openai_api_base": f"{OPENAI_BASE}/v1",
    },
}


class TestChatExternalUnit(ChatUnitTests):
    @property
    def chat_model_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"endpoint": "stub-chat", "host": QUIRKS_BASE, "token": "test-token"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"DATABRICKS_HOST": "https://example.cloud.databricks.com", "DATABRICKS_TOKEN": "t0k"},
            {"endpoint": "my-endpoint"},
            {
                "host": "https://example.cloud.databricks.com",
                "token": "t0k",
                "model": "my-endpoint",
            },
        )

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True


class TestChatExternalUnitExternalModel(TestChatExternalUnit):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"external_model": OPENAI_CHAT_MODEL}


class _Integration(ChatIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        # image_url parts are sent as written (data: URLs, standard image blocks converted).
        return True

    @property
    def supports_image_urls(self) -> bool:
        # https:// image URLs are sent as written; the provider fetches them.
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        # PDFs go as Chat Completions file parts (file_data a data: URL).
        return True

    # supports_{image,pdf}_tool_message stay off: Chat Completions tool messages take text only.


@pytest.mark.vcr
class TestChatExternalEndpoint(_Integration):
    """Serving endpoint (``endpoint=``), quirks on: content parts, usage on every chunk."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"endpoint": "stub-chat", "host": QUIRKS_BASE, "token": "test-token"}

    @property
    def model_override_value(self) -> str:
        return "stub-chat-2"


@pytest.mark.vcr
class TestChatExternalOpenAI(_Integration):
    """``external_model`` with provider ``openai`` against an OpenAI-compatible base URL."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"external_model": OPENAI_CHAT_MODEL}

    @property
    def model_override_value(self) -> str:
        return "gpt-4o"
