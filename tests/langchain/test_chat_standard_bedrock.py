"""langchain-tests standard suites for ChatExternal on ``amazon-bedrock`` with
``bedrock_provider: anthropic`` (Claude through the Bedrock runtime).

The integration class replays cassettes recorded against the loopback stub's Bedrock wire
(``tests/support/wires/bedrock.py``): SigV4-signed ``/model/{id}/invoke`` and
``/invoke-with-response-stream`` requests, answered with Messages JSON or with binary
event-stream frames. Recorded with
``.venv/bin/python -m pytest tests/langchain/test_chat_standard_bedrock.py -m vcr
--record-mode=rewrite -p no:randomly``; the signature headers are filtered out of the
cassettes (see ``vcr_config`` in tests/conftest.py). This proves the request/response plumbing
(signing, framing, the Anthropic translation), not model quality. Images and PDFs are sent
inline, as Bedrock takes them; the image and PDF tests' samples are local
(``tests/support/samples.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import OPENAI_BASE
from tests.langchain.test_chat_standard_anthropic import _Capabilities as _AnthropicCapabilities
from tests.support.langchain_standard import ChatIntegrationTests, ChatUnitTests

BEDROCK_CLAUDE = {
    "name": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "provider": "amazon-bedrock",
    "task": "llm/v1/chat",
    "amazon_bedrock_config": {
        "aws_region": "us-east-1",
        "bedrock_provider": "anthropic",
        "aws_access_key_id_plaintext": "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key_plaintext": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "bedrock_api_base": OPENAI_BASE,
    },
}


class _Capabilities(_AnthropicCapabilities):
    """Claude on Bedrock offers what Claude does; only the target differs."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"external_model": BEDROCK_CLAUDE}

    @property
    def supports_image_urls(self) -> bool:
        # Bedrock's Claude takes base64 only: the adapter refuses URLs up front (test_profile.py).
        return False


class TestChatExternalBedrockAnthropicUnit(_Capabilities, ChatUnitTests):
    """The unit suite on this target."""


@pytest.mark.vcr
class TestChatExternalBedrockAnthropic(_Capabilities, ChatIntegrationTests):
    """``amazon-bedrock`` / ``anthropic``, its base URL on the loopback stub."""

    @property
    def model_override_value(self) -> str:
        return "anthropic.claude-3-5-haiku-20241022-v1:0"
