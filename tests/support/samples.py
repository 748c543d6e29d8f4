"""Local stand-ins for the sample files langchain-tests' image and PDF tests download.

``test_image_inputs``, ``test_image_tool_message``, ``test_pdf_inputs``,
``test_pdf_tool_message`` and ``test_anthropic_inputs`` (with images on) fetch a PNG from GitHub
and a PDF from w3.org through ``httpx.get``; tests never touch the internet, so suites that turn
those capabilities on mix in :class:`LocalSamples` to answer those downloads with a 1x1 PNG and a
one-page PDF instead.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import langchain_tests.integration_tests.chat_models as standard_chat
import pytest

SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


class _LocalSamples:
    """Stands in for ``httpx`` inside langchain-tests' chat module: only ``get`` is used there,
    and only for the sample files."""

    @staticmethod
    def get(url: str, **_: Any) -> httpx.Response:
        for suffix, content in ((".png", SAMPLE_PNG), (".pdf", SAMPLE_PDF)):
            if url.endswith(suffix):
                return httpx.Response(200, content=content)
        raise AssertionError(f"no local sample stands in for {url}")


class LocalSamples:
    """Mixin for a ``ChatModelIntegrationTests`` subclass: its image and PDF tests get the local
    samples instead of downloading theirs."""

    @pytest.fixture(autouse=True)
    def _local_samples(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(standard_chat, "httpx", _LocalSamples)
