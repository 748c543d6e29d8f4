"""langchain-tests standard suites for ChatExternal on an ``anthropic`` external model.

The integration class replays cassettes recorded against the loopback stub's Anthropic wire
(``tests/support/wires/anthropic.py``; ``make record`` starts the stub on ``OPENAI_BASE``). The
stub checks requests the way the Messages API does (alternating roles, non-empty text blocks,
tool results right after their tool calls, no unknown fields, image and document sources it
takes) and answers in its format, so these prove the request/response plumbing through the
Anthropic translation, not model quality. The image and PDF tests download their samples; a
local PNG and PDF stand in (``tests/support/samples.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations.langchain import ChatExternal
from tests.conftest import OPENAI_BASE
from tests.support.langchain_standard import ChatIntegrationTests, ChatUnitTests

ANTHROPIC_CHAT_MODEL = {
    "name": "claude-sonnet-4-5-20250929",
    "provider": "anthropic",
    "task": "llm/v1/chat",
    "anthropic_config": {
        "anthropic_api_key_plaintext": "test-key",
        "anthropic_api_base": OPENAI_BASE,
    },
}


class _Capabilities:
    """What the anthropic translation offers, stated once for both suites."""

    @property
    def chat_model_class(self) -> type[ChatExternal]:
        return ChatExternal

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"external_model": ANTHROPIC_CHAT_MODEL}

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        # response_format json_object has no Anthropic equivalent and is refused;
        # json_schema maps to structured outputs.
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        # data: URLs become base64 image sources.
        return True

    @property
    def supports_image_urls(self) -> bool:
        # Other URLs become url image sources, which Anthropic fetches itself.
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        # File parts become document blocks (base64 or url sources).
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        # A tool result's image parts become image blocks inside its tool_result.
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        # A tool result's file parts become document blocks inside its tool_result.
        return True


class TestChatExternalAnthropicUnit(_Capabilities, ChatUnitTests):
    """The unit suite on this target."""


@pytest.mark.vcr
class TestChatExternalAnthropic(_Capabilities, ChatIntegrationTests):
    """``external_model`` with provider ``anthropic``, its base URL on the loopback stub."""

    @property
    def model_override_value(self) -> str:
        return "claude-3-5-haiku-20241022"
