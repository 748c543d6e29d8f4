"""The switch that records the anthropic cassettes against the real API (see conftest.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from vcr.request import Request

from tests.conftest import OPENAI_BASE
from tests.providers.anthropic.conftest import _stub_base, live


@pytest.mark.parametrize(
    ("mode", "key", "expected"),
    [("none", "sk-ant-x", False), ("rewrite", "", False), ("rewrite", "sk-ant-x", True)],
)
def test_live_only_when_recording_with_a_key(
    monkeypatch: pytest.MonkeyPatch, mode: str, key: str, expected: bool
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    config = SimpleNamespace(getoption=lambda name, default=None: mode)
    assert live(config) is expected  # type: ignore[arg-type]


def test_live_requests_are_stored_under_the_stub_base() -> None:
    sent = Request("POST", "https://api.anthropic.com/v1/messages", b"{}", {})
    stored = _stub_base(sent)
    assert stored.uri == f"{OPENAI_BASE}/v1/messages"
    assert sent.uri == "https://api.anthropic.com/v1/messages"
    local = Request("POST", f"{OPENAI_BASE}/v1/messages", b"{}", {})
    assert _stub_base(local) is local
