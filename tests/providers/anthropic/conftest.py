"""Targets for the cassette-backed ``anthropic`` tests, and the switch that records them
against the real API.

By default the cassettes are recorded against the loopback stub's Anthropic wire. When
recording (``--record-mode`` other than ``none``) with ``ANTHROPIC_API_KEY`` set, the same tests
call ``https://api.anthropic.com`` with that key instead. The request bodies are the same either
way (same model, explicit ``max_tokens``), and a live recording stores the request under the
stub's base URL, so one replay run serves both kinds of cassette (see
``cassettes/providers/anthropic/README.md``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import OPENAI_BASE

ANTHROPIC_BASE = "https://api.anthropic.com"
#: A current, inexpensive model: the stub answers any name, the real API needs a real one.
MODEL = "claude-haiku-4-5-20251001"
# Response headers of the real API that identify the account or the edge, not the answer.
_ACCOUNT_HEADERS = ("anthropic-organization-id", "cf-ray", "x-envoy-upstream-service-time")


def live(config: pytest.Config) -> bool:
    """Whether this run records against the real API."""
    recording = str(config.getoption("--record-mode", default=None) or "none") != "none"
    return recording and bool(os.environ.get("ANTHROPIC_API_KEY"))


@pytest.fixture
def anthropic_model(request: pytest.FixtureRequest) -> Callable[[str], dict[str, Any]]:
    """``anthropic_model(task)``: the ``external_model`` block the tests call."""
    is_live = live(request.config)
    config = {
        "anthropic_api_key_plaintext": os.environ["ANTHROPIC_API_KEY"] if is_live else "test-key",
        "anthropic_api_base": ANTHROPIC_BASE if is_live else OPENAI_BASE,
    }

    def make(task: str) -> dict[str, Any]:
        return {"name": MODEL, "provider": "anthropic", "task": task, "anthropic_config": config}

    return make


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    """The shared config; live requests are stored under the stub's base URL, and account
    headers are dropped from live responses."""
    scrub = vcr_config["before_record_response"]

    def response(recorded: dict[str, Any]) -> dict[str, Any]:
        recorded = scrub(recorded)
        for name in list(recorded["headers"]):
            if name.lower() in _ACCOUNT_HEADERS:
                del recorded["headers"][name]
        return recorded

    return {
        **vcr_config,
        "before_record_request": _stub_base,
        "before_record_response": response,
    }


def _stub_base(request: Any) -> Any:
    if not request.uri.startswith(ANTHROPIC_BASE):
        return request
    request = copy.deepcopy(request)
    request.uri = OPENAI_BASE + request.uri[len(ANTHROPIC_BASE) :]
    return request
