"""Bases for the langchain-tests chat suites of every target, so what holds for all of them is
said once: ``test_serdes`` fails at ``load()`` for any third-party class, and the integration
suites replay cassettes with local image and PDF samples."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from tests.support.samples import LocalSamples

__all__ = ["ChatIntegrationTests", "ChatUnitTests"]


class ChatUnitTests(ChatModelUnitTests):
    """langchain-tests' chat unit suite, with ``test_serdes`` expected to fail at ``load()``."""

    @pytest.mark.xfail(
        strict=True,
        reason="langchain-core 1.7 load(allowed_objects='all') admits only the classes listed "
        "in langchain_core.load.mapping, so no third-party class can pass this step; the dump "
        "is snapshot-checked here and the round trip with allowed_objects=[ChatExternal] is "
        "tested in test_serialization.py",
    )
    def test_serdes(self, model: Any, snapshot: Any) -> None:
        super().test_serdes(model, snapshot)


class ChatIntegrationTests(LocalSamples, ChatModelIntegrationTests):
    """langchain-tests' chat integration suite on cassettes (the VCR tests included)."""

    @property
    def enable_vcr_tests(self) -> bool:
        return True
