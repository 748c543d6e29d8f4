"""A ``databricks-model-serving`` block without a token signs in to its
``databricks_workspace_url`` the way the rest of the package does (arguments, DATABRICKS_*
env vars, a profile, a service principal), only when that sign-in is for the same host, and a
body holding such a block is flagged as not deployable (a served endpoint needs the token)."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from extmodels_integrations import (
    ConfigurationError,
    ExternalClient,
    NotDeployableWarning,
    load_endpoint_config,
)
from extmodels_integrations.endpoints import EndpointsClient
from tests.support.fake_workspace import FakeWorkspace

PAT = "canary-SERVING-PAT-5d1e9c7b20"
OTHER_PAT = "canary-OTHER-WS-PAT-a81f3e6c"
SECRET = "canary-SERVING-SP-SECRET-7f2b"
HI = [{"role": "user", "content": "hi"}]
FIELD = "databricks_model_serving_config.databricks_api_token"


def _block(url: str, **config: Any) -> dict[str, Any]:
    return {
        "name": "team-llm",
        "provider": "databricks-model-serving",
        "task": "llm/v1/chat",
        "databricks_model_serving_config": {"databricks_workspace_url": url, **config},
    }


def _body(url: str) -> dict[str, Any]:
    return {"name": "ep", "config": {"served_entities": [{"external_model": _block(url)}]}}


def test_a_service_principal_from_env_vars_signs_in_the_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeWorkspace(token=PAT, service_principals={"sp-1": SECRET}) as ws:
        monkeypatch.setenv("DATABRICKS_HOST", ws.url + "/")  # normalized like the block's URL
        monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-1")
        monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", SECRET)
        client = ExternalClient(external_model=_block(ws.url))
        assert client.chat(messages=HI).choices[0].content == "ok"
        assert ws.authorized == [("/serving-endpoints/team-llm/invocations", "Bearer oauth-sp-1-1")]


def test_a_profile_signs_in_the_block(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with FakeWorkspace(token=PAT) as ws:
        cfg = tmp_path / "cfg"
        cfg.write_text(textwrap.dedent(f"[team]\nhost = {ws.url}\ntoken = {PAT}\n"))
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
        client = ExternalClient(external_model=_block(ws.url), profile="team")
        list(client.stream_chat(messages=HI))
        assert ws.authorized == [("/serving-endpoints/team-llm/invocations", f"Bearer {PAT}")]


def test_a_token_in_the_block_wins_over_the_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWorkspace(token=PAT) as ws:
        monkeypatch.setenv("DATABRICKS_HOST", "https://another.example")
        monkeypatch.setenv("DATABRICKS_TOKEN", OTHER_PAT)
        block = _block(ws.url, databricks_api_token_plaintext=PAT)
        ExternalClient(external_model=block).chat(messages=HI)
        assert [auth for _, auth in ws.authorized] == [f"Bearer {PAT}"]


def test_another_workspaces_credentials_are_never_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWorkspace(token=OTHER_PAT) as chain, FakeWorkspace(token=PAT) as target:
        monkeypatch.setenv("DATABRICKS_HOST", chain.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", OTHER_PAT)
        client = ExternalClient(external_model=_block(target.url))
        with pytest.raises(ConfigurationError) as refused:
            client.chat(messages=HI)
        assert target.authorized == [] and target.refused == [] and chain.authorized == []
    message = str(refused.value)
    assert message.startswith(f"{FIELD}: not set") and "never sent to another workspace" in message
    assert f"{chain.url} (host from env var DATABRICKS_HOST)" in message
    assert "databricks_api_token_plaintext" in message and OTHER_PAT not in message


def test_credentials_without_a_host_are_not_sent_to_the_blocks_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeWorkspace(token=PAT) as ws:
        monkeypatch.setenv("DATABRICKS_TOKEN", PAT)
        with pytest.raises(ConfigurationError, match=rf"^{FIELD}: not set, and signing in") as e:
            ExternalClient(external_model=_block(ws.url)).chat(messages=HI)
        assert ws.authorized == []
    assert "DATABRICKS_HOST" in str(e.value) and PAT not in str(e.value)


def test_no_sign_in_at_all_names_the_field() -> None:
    client = ExternalClient(external_model=_block("https://dbc-1.cloud.databricks.com"))
    with pytest.raises(ConfigurationError, match=rf"^{FIELD}: not set.*no workspace credentials"):
        client.chat(messages=HI)


def test_a_body_without_the_token_warns_names_the_fix_and_strict_refuses() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        load_endpoint_config(_body("https://dbc-1.cloud.databricks.com"))
    [warning] = [w for w in seen if issubclass(w.category, NotDeployableWarning)]
    text = str(warning.message)
    path = f"endpoint_config.config.served_entities[0].external_model.{FIELD}"
    assert text.startswith(f"Not deployable: endpoint_config: {path}: not set, so local runs")
    assert "{{secrets/<scope>/<key>}}" in text and "databricks_api_token_plaintext" in text
    with pytest.raises(ConfigurationError, match=rf"\.{FIELD}: not set"):
        load_endpoint_config(_body("https://dbc-1.cloud.databricks.com"), strict=True)


def test_a_missing_token_and_a_local_field_are_named_in_one_warning() -> None:
    anthropic = {
        "name": "claude-sonnet-4-5",
        "provider": "anthropic",
        "task": "llm/v1/chat",
        "anthropic_config": {
            "anthropic_api_key_plaintext": PAT,
            "anthropic_api_base": "http://127.0.0.1:1",
        },
    }
    body = _body("https://dbc-1.cloud.databricks.com")
    entities = [{**body["config"]["served_entities"][0], "name": "d"}]
    entities.append({"external_model": anthropic, "name": "a"})
    routes = [{"served_model_name": n, "traffic_percentage": 50} for n in ("d", "a")]
    body["config"] = {"served_entities": entities, "traffic_config": {"routes": routes}}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        load_endpoint_config(body)
    [warning] = [w for w in seen if issubclass(w.category, NotDeployableWarning)]
    text = str(warning.message)
    assert "(2 problems)" in text and f"{FIELD}: not set" in text
    assert "anthropic_api_base (" in text and "Remove the field of ours" in text
    assert PAT not in text


def test_a_body_with_the_token_is_deployable_and_both_twins_are_refused() -> None:
    url = "https://dbc-1.cloud.databricks.com"
    body = _body(url)
    body["config"]["served_entities"][0]["external_model"] = _block(
        url, databricks_api_token="{{secrets/s/dbx}}"
    )
    load_endpoint_config(body, strict=True)
    both = {"databricks_api_token": "{{secrets/s/dbx}}", "databricks_api_token_plaintext": PAT}
    body["config"]["served_entities"][0]["external_model"] = _block(url, **both)
    with pytest.raises(ConfigurationError, match="give either databricks_api_token or") as e:
        load_endpoint_config(body)
    assert PAT not in str(e.value)


def test_the_lifecycle_refuses_a_body_without_the_token_before_sending() -> None:
    with FakeWorkspace(token=PAT) as ws, EndpointsClient(host=ws.url, token=PAT) as client:
        with pytest.raises(ConfigurationError, match=FIELD):
            client.apply(_body(ws.url), poll_interval=0.01, timeout=5)
        assert ws.calls == []
