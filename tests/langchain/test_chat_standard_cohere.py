"""langchain-tests standard suites for ChatExternal on a ``cohere`` external model.

The integration class replays cassettes recorded against the loopback stub's Cohere v2 wire
(``tests/support/wires/cohere.py``, ``POST /v2/chat``) with
``.venv/bin/python -m pytest tests/langchain/test_chat_standard_cohere.py -m vcr
--record-mode=rewrite -p no:randomly``. The stub checks requests the way v2 chat does (roles,
``tool_choice`` only ``REQUIRED`` / ``NONE``, no ``n`` / ``parallel_tool_calls``) and answers in
its format (``tool_plan``, named SSE events), so these prove the request/response plumbing
through the Cohere translation, not model quality. The image test's sample is local
(``tests/support/samples.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations import UnsupportedParameterError
from extmodels_integrations.langchain import ChatExternal
from tests.conftest import OPENAI_BASE
from tests.support.langchain_standard import ChatIntegrationTests, ChatUnitTests

COHERE_CHAT_MODEL = {
    "name": "command-a-03-2025",
    "provider": "cohere",
    "task": "llm/v1/chat",
    "cohere_config": {
        "cohere_api_key_plaintext": "test-key",
        "cohere_api_base": OPENAI_BASE,
    },
}


class _Capabilities:
    """What the cohere translation offers, stated once for both suites."""

    @property
    def chat_model_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"external_model": COHERE_CHAT_MODEL}

    @property
    def has_tool_choice(self) -> bool:
        # v2 tool_choice is REQUIRED / NONE: "any" maps to REQUIRED, a named tool only when it
        # is the sole tool bound (see test_tool_choice below).
        return True

    @property
    def supports_json_mode(self) -> bool:
        # response_format json_object is v2's JSON mode; json_schema adds its schema.
        return True

    @property
    def supports_image_inputs(self) -> bool:
        # image_url parts go as v2 image_url content items (data: URLs as they are).
        return True

    @property
    def supports_image_urls(self) -> bool:
        # v2 image_url items take web URLs too, which Cohere fetches itself.
        return True

    # supports_pdf_inputs stays off: v2 chat takes no files, and the adapter refuses them.
    # supports_{image,pdf}_tool_message stay off: v2 tool content is text or document only.


class TestChatExternalCohereUnit(_Capabilities, ChatUnitTests):
    """The unit suite on this target."""


@pytest.mark.vcr
class TestChatExternalCohere(_Capabilities, ChatIntegrationTests):
    """``external_model`` with provider ``cohere``, its base URL on the loopback stub."""

    @property
    def model_override_value(self) -> str:
        return "command-r-plus-08-2024"

    @pytest.mark.xfail(
        strict=True,
        raises=UnsupportedParameterError,
        reason="v2 chat's tool_choice is only REQUIRED or NONE: it cannot force one named tool "
        "among the two this test binds, so the adapter refuses tool_choice='magic_function' "
        "rather than send REQUIRED and let another tool be called; 'any' (REQUIRED) and a "
        "named sole tool are tested in tests/providers/test_cohere.py",
    )
    def test_tool_choice(self, model: Any) -> None:
        super().test_tool_choice(model)
