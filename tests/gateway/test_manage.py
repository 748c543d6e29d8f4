"""Managing a running gateway's endpoints through the workspace's endpoints API: our lifecycle
client's apply, databricks-sdk's serving_endpoints and MLflow Deployments, CAN_MANAGE, and
changes seen by every worker sharing the config directory."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations.endpoints import EndpointAlreadyExistsError, EndpointsClient
from extmodels_integrations.gateway._app import Settings
from extmodels_integrations.gateway._endpoints import EndpointStore
from tests.gateway._inprocess import serve, stub_body
from tests.support.openai_server import OpenAIStubServer

ADMIN = "gw-manage-token-admin"
USER = "gw-manage-token-user"
PROVIDER_KEY = "sk-providerCANARY-manage-5521"


def _tokens(tmp_path: Path) -> str:
    path = tmp_path / "tokens.json"
    entries = [
        {"token": ADMIN, "user": "ops@example.com", "can_manage": True},
        {"token": USER, "user": "alice@example.com"},
    ]
    path.write_text(json.dumps({"tokens": entries}))
    return str(path)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)
    with OpenAIStubServer() as server:
        yield server.base_url


@pytest.fixture
def gateway(tmp_path: Path, stub: str) -> Iterator[tuple[str, Any]]:
    settings = Settings(
        (), _tokens(tmp_path), f"sqlite:///{tmp_path}/u.db", config_dir=str(tmp_path / "d")
    )
    with serve(settings) as running:
        yield running


def _ask(host: str, name: str) -> httpx.Response:
    return httpx.post(
        f"{host}/serving-endpoints/{name}/invocations",
        headers={"Authorization": f"Bearer {USER}"},
        json={"messages": [{"role": "user", "content": "hi"}]},
    )


def test_apply_creates_skips_updates_and_deletes_on_the_gateway(
    gateway: tuple[str, Any], stub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    host, _ = gateway
    body = stub_body("team-chat", stub)
    with EndpointsClient(host=host, token=ADMIN) as client:
        created = client.apply(body, poll_interval=0.01)
        assert created.action == "create" and created.sent
        assert _ask(host, "team-chat").json()["choices"][0]["message"]["content"]
        again = client.apply(body, poll_interval=0.01)
        assert again.action == "none" and not again.sent, again.changes
        body["ai_gateway"]["rate_limits"] = [
            {"calls": 1, "key": "user", "renewal_period": "minute"}
        ]
        updated = client.apply(body, poll_interval=0.01)
        assert updated.action == "update" and updated.sent
        statuses = [_ask(host, "team-chat").status_code for _ in range(2)]
        assert statuses == [200, 429]
        with pytest.raises(EndpointAlreadyExistsError):
            client.create(stub_body("team-chat", stub))
        live = client.get("team-chat")
        assert live["creator"] == "ops@example.com"
        assert PROVIDER_KEY not in json.dumps(live)
        client.delete("team-chat")
    assert _ask(host, "team-chat").json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_databricks_sdk_and_mlflow_manage_the_gateway(
    gateway: tuple[str, Any], stub: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, _ = gateway
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    w = WorkspaceClient(host=host, token=ADMIN)
    body = stub_body("sdk-chat", stub)
    w.serving_endpoints.create(
        name="sdk-chat", config=EndpointCoreConfigInput.from_dict(body["config"])
    )
    got = w.serving_endpoints.get("sdk-chat")
    assert got.state is not None and got.state.ready is not None
    assert got.state.ready.value == "READY" and got.config is not None
    assert got.config.config_version == 1
    w.serving_endpoints.update_config(
        "sdk-chat",
        served_entities=EndpointCoreConfigInput.from_dict(body["config"]).served_entities,
    )
    assert w.serving_endpoints.get("sdk-chat").config.config_version == 2  # type: ignore[union-attr]
    monkeypatch.setenv("DATABRICKS_HOST", host)
    monkeypatch.setenv("DATABRICKS_TOKEN", ADMIN)
    from mlflow.deployments import get_deploy_client

    mlflow = get_deploy_client("databricks")
    mlflow.update_endpoint_ai_gateway(
        endpoint="sdk-chat",
        config={"rate_limits": [{"calls": 5, "key": "endpoint", "renewal_period": "minute"}]},
    )
    assert mlflow.get_endpoint("sdk-chat")["ai_gateway"]["rate_limits"][0]["calls"] == 5
    mlflow.delete_endpoint("sdk-chat")
    assert [e["name"] for e in mlflow.list_endpoints()] == []


def test_only_can_manage_tokens_change_endpoints_and_bad_bodies_name_the_field(
    gateway: tuple[str, Any], stub: str
) -> None:
    host, _ = gateway
    api = f"{host}/api/2.0/serving-endpoints"
    denied = httpx.post(api, headers={"Authorization": f"Bearer {USER}"}, json=stub_body("x", stub))
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    assert "CAN_MANAGE" in denied.json()["message"]
    assert httpx.post(api, json=stub_body("x", stub)).status_code == 401
    broken = copy.deepcopy(stub_body("x", stub))
    broken["config"]["served_entities"][0]["external_model"]["provider"] = "openia"
    bad = httpx.post(api, headers={"Authorization": f"Bearer {ADMIN}"}, json=broken)
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "provider" in bad.json()["message"]
    missing = httpx.put(f"{api}/nope/config", headers={"Authorization": f"Bearer {ADMIN}"}, json={})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_workers_sharing_a_config_directory_see_each_others_changes(
    tmp_path: Path, stub: str
) -> None:
    operator = tmp_path / "op.json"
    operator.write_text(json.dumps(stub_body("from-file", stub)))
    folder = tmp_path / "shared"

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            one, two = EndpointStore(http, folder), EndpointStore(http, folder)
            one.load([operator])
            two.load([operator])
            await one.put(one.build(stub_body("api-made", stub), "ops"), create=True)
            assert [s.name for s in two.all()] == ["api-made", "from-file"]
            assert two.get("api-made").creator == "ops"
            await two.delete("from-file")
            assert [s.name for s in one.all()] == ["api-made"]
            restarted = EndpointStore(http, folder)
            restarted.load([operator])
            assert [s.name for s in restarted.all()] == ["api-made"]
            assert restarted.get("api-made").id == one.get("api-made").id
            for store in (one, two, restarted):
                await store.aclose()

    asyncio.run(scenario())
    assert PROVIDER_KEY not in " ".join(p.read_text() for p in folder.iterdir())


def test_our_classes_query_an_endpoint_created_through_the_gateway(
    gateway: tuple[str, Any], stub: str
) -> None:
    host, _ = gateway
    with EndpointsClient(host=host, token=ADMIN) as admin:
        admin.create(stub_body("made-here", stub), poll_interval=0.01)
    with ExternalClient(endpoint="made-here", host=host, token=USER) as client:
        answer = client.chat(messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].content
