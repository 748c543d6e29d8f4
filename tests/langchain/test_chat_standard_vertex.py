"""langchain-tests standard suites for ChatExternal on a ``google-cloud-vertex-ai`` (Gemini)
external model.

The integration class replays cassettes recorded against the loopback stub's Vertex wire
(``tests/support/wires/vertex.py``): a service-account JWT exchanged for a token at a loopback
token endpoint, then ``:generateContent`` / ``:streamGenerateContent?alt=sse`` answered in
Gemini's format. Recorded with
``.venv/bin/python -m pytest tests/langchain/test_chat_standard_vertex.py -m vcr
--record-mode=rewrite -p no:randomly``; token exchanges are stored redacted (see
``tests/support/vertex_cassettes.py``). This proves the request/response plumbing (sign-in, the
Gemini translation, SSE), not model quality. The image and PDF tests download their samples;
here a local PNG and PDF stand in (``tests/support/samples.py``), so nothing reaches the internet.
"""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations.langchain import ChatExternal
from tests.conftest import OPENAI_BASE
from tests.support.langchain_standard import ChatIntegrationTests, ChatUnitTests
from tests.support.vertex_cassettes import stub_external_model

GEMINI_CHAT_MODEL = stub_external_model(OPENAI_BASE, "gemini-2.5-flash")


class _Capabilities:
    """What the Vertex AI translation offers, stated once for both suites."""

    @property
    def chat_model_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"external_model": GEMINI_CHAT_MODEL}

    @property
    def has_tool_choice(self) -> bool:
        # "any" / "required" map to functionCallingConfig mode ANY, a named tool to ANY with
        # allowedFunctionNames.
        return True

    @property
    def supports_json_mode(self) -> bool:
        # response_format json_object maps to responseMimeType application/json.
        return True

    @property
    def supports_image_inputs(self) -> bool:
        # Base64 images become inlineData parts.
        return True

    @property
    def supports_image_urls(self) -> bool:
        # https:// (and gs://) image URLs become fileData parts, which Vertex fetches itself.
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        # PDFs (standard file blocks, OpenAI file parts) become inlineData parts.
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        # functionResponse.response is a JSON object: an image in a tool result is refused.
        return False


class TestChatExternalVertexUnit(_Capabilities, ChatUnitTests):
    """The unit suite on this target."""


@pytest.mark.vcr
class TestChatExternalVertex(_Capabilities, ChatIntegrationTests):
    """``google-cloud-vertex-ai``, ``vertex_api_base`` on the loopback stub."""

    @property
    def model_override_value(self) -> str:
        return "gemini-2.0-flash"
