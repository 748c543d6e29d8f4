"""Cassette wiring for the AI21 Labs LangChain tests: which target they call, and the switch to
record against the real API.

Replays (the default) always call the loopback stub's base URL with a dummy key, so they match
cassettes however those were recorded. Recording (``--record-mode=rewrite``) calls the stub too,
unless ``EXTMODELS_RECORD_LIVE`` names ``ai21labs`` and ``AI21_API_KEY`` holds a key: then the real
API at ``https://api.ai21.com/studio/v1`` is called, and each recorded request URL is
rewritten to the stub's base so the plain replay run finds it. Credential headers never reach
a cassette (tests/conftest.py filters them).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import OPENAI_BASE

PROVIDER = "ai21labs"
KEY_ENV = "AI21_API_KEY"
LIVE_BASE = "https://api.ai21.com/studio/v1"
STUB_BASE = f"{OPENAI_BASE}/studio/v1"


def _live(config: pytest.Config) -> bool:
    recording = str(config.getoption("--record-mode", default=None) or "none") != "none"
    wanted = PROVIDER in os.environ.get("EXTMODELS_RECORD_LIVE", "").replace(" ", "").split(",")
    if recording and wanted and not os.environ.get(KEY_ENV):
        raise pytest.UsageError(f"EXTMODELS_RECORD_LIVE names {PROVIDER} but {KEY_ENV} is empty")
    return recording and wanted


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(base URL, key)`` the tests call: the real API when recording live, else the stub."""
    if _live(request.config):
        return LIVE_BASE, os.environ[KEY_ENV]
    return STUB_BASE, "stub-key"


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The suite's cassette config, plus the URL rewrite when recording live."""
    if not _live(request.config):
        return vcr_config
    earlier = vcr_config.get("before_record_request") or ()
    if callable(earlier):
        earlier = (earlier,)

    def to_stub(recorded: Any) -> Any:
        if recorded.uri.startswith(LIVE_BASE):
            recorded.uri = STUB_BASE + recorded.uri[len(LIVE_BASE) :]
        return recorded

    return {**vcr_config, "before_record_request": (*earlier, to_stub)}
