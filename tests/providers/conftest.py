"""Fixtures shared by the provider tests: sync/async runners and mock-transport clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from extmodels_integrations import ExternalClient
from tests.support.harness import AsyncRunner, SyncRunner
from tests.support.harness import connect as _connect


@pytest.fixture(params=[SyncRunner(), AsyncRunner()], ids=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., ExternalClient]]:
    """``connect(provider, **target)``: an ExternalClient whose sync and async httpx clients
    both go to ``provider`` through one ``httpx.MockTransport``."""
    opened: list[Any] = []

    def make(provider: Callable[..., Any], **target: Any) -> ExternalClient:
        return _connect(provider, opened, **target)

    yield make
    for sync_http, async_http in opened:
        sync_http.close()
        await async_http.aclose()


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
