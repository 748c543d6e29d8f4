"""The fake workspace speaks the API databricks-sdk's own client speaks: the same calls through
``WorkspaceClient.serving_endpoints`` and through ``EndpointsClient`` leave the same state."""

from __future__ import annotations

import pytest

from extmodels_integrations.endpoints import EndpointsClient
from tests.endpoints.test_lifecycle import OPENAI, TOKEN
from tests.support.fake_workspace import FakeWorkspace

serving = pytest.importorskip("databricks.sdk.service.serving")
sdk = pytest.importorskip("databricks.sdk")


def _state(ws: FakeWorkspace) -> dict:
    return {n: {k: v for k, v in e.items()} for n, e in ws.endpoints.items()}


def test_the_same_calls_give_the_same_workspace_state(monkeypatch):
    for var in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    limits = [{"calls": 20, "key": "user", "renewal_period": "minute"}]
    gateway = {"usage_tracking_config": {"enabled": True}}
    with FakeWorkspace(token=TOKEN) as a, FakeWorkspace(token=TOKEN) as b:
        w = sdk.WorkspaceClient(host=a.url, token=TOKEN, auth_type="pat")
        w.serving_endpoints.create(
            name=OPENAI["name"],
            config=serving.EndpointCoreConfigInput.from_dict(OPENAI["config"]),
        ).result()
        w.serving_endpoints.put(
            OPENAI["name"], rate_limits=[serving.RateLimit.from_dict(limits[0])]
        )
        w.serving_endpoints.put_ai_gateway(
            OPENAI["name"], usage_tracking_config=serving.AiGatewayUsageTrackingConfig(enabled=True)
        )
        got = w.serving_endpoints.get(OPENAI["name"])
        assert got.state.ready == serving.EndpointStateReady.READY
        listed = [e.name for e in w.serving_endpoints.list()]

        with EndpointsClient(host=b.url, token=TOKEN) as ours:
            ours.create(OPENAI, poll_interval=0.01, timeout=5)
            ours.put_rate_limits(OPENAI["name"], limits)
            ours.put_ai_gateway(OPENAI["name"], gateway)
            assert [e["name"] for e in ours.list()] == listed
        assert _state(a) == _state(b)

        w.serving_endpoints.delete(OPENAI["name"])
        assert a.endpoints == {}
