"""The endpoint lifecycle against the loopback fake workspace: the docs' create bodies through
apply (create, update with a diff, unchanged: no call, delete), waiting, errors, secrets."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest

from extmodels_integrations import ConfigurationError
from extmodels_integrations.endpoints import (
    AsyncEndpointsClient,
    EndpointAlreadyExistsError,
    EndpointNotFoundError,
    EndpointsClient,
    EndpointStateError,
    EndpointWaitTimeoutError,
)
from tests.support.fake_workspace import FakeWorkspace

CANARY = "canary-PLAINTEXT-7f3e2a91"
TOKEN = "canary-WORKSPACE-TOKEN-b5f2c87e"

# The create bodies of the external-model docs (/work/shared/seeds/000, 003), verbatim.
OPENAI = {
    "name": "openai-completions-endpoint",
    "config": {
        "served_entities": [
            {
                "name": "openai-completions",
                "external_model": {
                    "name": "gpt-3.5-turbo-instruct",
                    "provider": "openai",
                    "task": "llm/v1/completions",
                    "openai_config": {
                        "openai_api_key": "{{secrets/my_openai_secret_scope/openai_api_key}}"
                    },
                },
            }
        ]
    },
}
AZURE = {
    "name": "openai-chat-endpoint",
    "config": {
        "served_entities": [
            {
                "external_model": {
                    "name": "gpt-3.5-turbo",
                    "provider": "openai",
                    "task": "llm/v1/chat",
                    "openai_config": {
                        "openai_api_type": "azure",
                        "openai_api_key": "{{secrets/my_openai_secret_scope/openai_api_key}}",
                        "openai_api_base": "https://my-azure-openai-endpoint.openai.azure.com",
                        "openai_deployment_name": "my-gpt-35-turbo-deployment",
                        "openai_api_version": "2023-05-15",
                    },
                }
            }
        ]
    },
}
BEDROCK = {
    "name": "bedrock-anthropic-completions-endpoint",
    "config": {
        "served_entities": [
            {
                "external_model": {
                    "name": "claude-v2",
                    "provider": "amazon-bedrock",
                    "task": "llm/v1/completions",
                    "amazon_bedrock_config": {
                        "aws_region": "<YOUR_AWS_REGION>",
                        "aws_access_key_id": "{{secrets/my_amazon_bedrock_secret_scope/aws_access_key_id}}",  # noqa: E501
                        "aws_secret_access_key": "{{secrets/my_amazon_bedrock_secret_scope/aws_secret_access_key}}",  # noqa: E501
                        "bedrock_provider": "anthropic",
                    },
                }
            }
        ]
    },
}
ANTHROPIC_DOCS = {
    "name": "anthropic-completions-endpoint",
    "config": {
        "served_entities": [
            {
                "name": "claude-completions",
                "external_model": {
                    "name": "claude-2",
                    "provider": "anthropic",
                    "task": "llm/v1/completions",
                    "anthropic_config": {
                        "anthropic_api_key": "{{secrets/my_anthropic_secret_scope/anthropic_api_key}}"  # noqa: E501
                    },
                },
            }
        ]
    },
}


@pytest.fixture
def ws():
    with FakeWorkspace(token=TOKEN) as workspace:
        yield workspace


@pytest.fixture
def client(ws):
    with EndpointsClient(host=ws.url, token=TOKEN) as c:
        yield c


def _fast(**kw):
    return {"poll_interval": 0.01, "timeout": 5, **kw}


@pytest.mark.parametrize("doc", [OPENAI, AZURE, BEDROCK], ids=["openai", "azure", "bedrock"])
def test_apply_creates_updates_skips_and_deletes_a_docs_example(ws, client, doc):
    created = client.apply(doc, **_fast())
    assert created.action == "create"
    assert created.endpoint["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert (
        ws.endpoints[doc["name"]]["config"]["served_entities"] == doc["config"]["served_entities"]
    )

    changed = copy.deepcopy(doc)
    model = changed["config"]["served_entities"][0]["external_model"]
    model["name"] = model["name"] + "-new"
    changed["tags"] = [{"key": "team", "value": "ml"}]
    before = len(ws.mutations())
    updated = client.apply(changed, **_fast())
    assert updated.action == "update"
    text = str(updated)
    assert "-new" in text and "+ tags.team" in text and "***" not in text
    assert [m for m, _ in ws.mutations()[before:]] == ["PUT", "PATCH"]

    before = len(ws.mutations())
    same = client.apply(changed, **_fast())
    assert same.action == "none" and not same.sent
    assert ws.mutations()[before:] == []

    client.delete(doc["name"])
    with pytest.raises(EndpointNotFoundError, match="does not exist"):
        client.get(doc["name"])


def test_the_docs_claude_2_example_is_refused_before_anything_is_sent(ws, client):
    with pytest.raises(ConfigurationError, match="retired"):
        client.apply(ANTHROPIC_DOCS, **_fast())
    assert ws.calls == []


def test_create_twice_is_already_exists_with_the_message(ws, client):
    client.create(OPENAI, **_fast())
    with pytest.raises(EndpointAlreadyExistsError, match="already exists") as info:
        client.create(OPENAI, **_fast())
    assert info.value.code == "RESOURCE_ALREADY_EXISTS"


def test_a_failed_update_raises_with_the_endpoints_own_state(ws, client):
    ws.fail_next_update = True
    with pytest.raises(EndpointStateError, match="config_update: UPDATE_FAILED") as info:
        client.create(OPENAI, **_fast())
    assert "DEPLOYMENT_FAILED: served entity failed to deploy" in str(info.value)


def test_waiting_times_out_with_the_pending_config(ws, client):
    ws.polls_until_ready = 10_000
    with pytest.raises(EndpointWaitTimeoutError, match="pending config version 1"):
        client.create(OPENAI, poll_interval=0.01, timeout=0.05)


def test_a_wrong_token_is_permission_denied_and_never_shown(ws):
    wrong = "dapi0123456789abcdef-wrong"
    with EndpointsClient(host=ws.url, token=wrong) as c, pytest.raises(Exception) as info:
        c.list()
    assert "PERMISSION_DENIED" in str(info.value) and wrong not in str(info.value)


def test_plaintext_is_sent_but_never_printed_or_stored(ws, client):
    body = copy.deepcopy(OPENAI)
    config = body["config"]["served_entities"][0]["external_model"]["openai_config"]
    config.clear()
    config["openai_api_key_plaintext"] = CANARY
    dry = client.apply(body, dry_run=True, **_fast())
    assert CANARY not in json.dumps(dry.requests()) and "***" in json.dumps(dry.requests())
    assert ws.mutations() == []
    done = client.apply(body, **_fast())
    sent = next(b for m, _, b in ws.calls if m == "POST")
    assert sent["config"]["served_entities"][0]["external_model"]["openai_config"] == {
        "openai_api_key_plaintext": CANARY
    }
    assert CANARY not in str(done) + repr(done) + json.dumps(ws.endpoints)
    again = client.apply(body, **_fast())
    assert again.action == "none" and "plaintext" in str(again)


def test_mlflow_call_shapes(ws, client):
    legacy = {"served_entities": OPENAI["config"]["served_entities"]}
    client.create_endpoint(name="m", config=legacy)
    client.wait("m", poll_interval=0.01, timeout=5)
    client.update_endpoint(
        endpoint="m",
        config={"rate_limits": [{"calls": 20, "key": "user", "renewal_period": "minute"}]},
    )
    assert ws.endpoints["m"]["rate_limits"] == [
        {"calls": 20, "key": "user", "renewal_period": "minute"}
    ]
    assert [e["name"] for e in client.list_endpoints()] == ["m"]
    client.delete_endpoint("m")
    assert ws.endpoints == {}


def test_async_client_applies_the_same_way(ws):
    async def go():
        async with AsyncEndpointsClient(host=ws.url, token=TOKEN) as c:
            first = await c.apply(AZURE, **_fast())
            second = await c.apply(AZURE, **_fast())
            await c.delete(AZURE["name"])
            return first.action, second.action

    assert asyncio.run(go()) == ("create", "none")
    assert ws.endpoints == {}


def test_cli_apply_dry_run_then_apply_get_list_delete(ws, tmp_path, capsys, monkeypatch):
    from extmodels_integrations.cli import main

    monkeypatch.setenv("DATABRICKS_HOST", ws.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    body = copy.deepcopy(OPENAI)
    body["config"]["served_entities"][0]["external_model"]["openai_config"] = {
        "openai_api_key_plaintext": CANARY
    }
    path = tmp_path / "endpoint.json"
    path.write_text(json.dumps(body))
    assert main(["endpoints", "apply", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "create" in out and '"openai_api_key_plaintext": "***"' in out and CANARY not in out
    assert ws.mutations() == []
    assert main(["endpoints", "apply", str(path), "--timeout", "5"]) == 0
    assert main(["endpoints", "list"]) == 0
    assert main(["endpoints", "get", body["name"]]) == 0
    out = capsys.readouterr().out
    assert "READY" in out and CANARY not in out
    assert main(["endpoints", "delete", body["name"]]) == 0
    assert main(["endpoints", "get", body["name"]]) == 1
    assert "RESOURCE_DOES_NOT_EXIST" in capsys.readouterr().err


def test_state_errors_pickle_with_their_state():
    import pickle

    error = EndpointWaitTimeoutError("not ready", name="e", state={"ready": "NOT_READY"})
    copy_ = pickle.loads(pickle.dumps(error))
    assert (type(copy_), str(copy_), copy_.name, copy_.state) == (
        EndpointWaitTimeoutError,
        "not ready",
        "e",
        {"ready": "NOT_READY"},
    )
    assert not copy_.retryable


def test_cli_loads_a_subcommand_only_when_it_runs():
    import subprocess
    import sys

    code = (
        "import sys, extmodels_integrations.cli as c; c.build_parser();"
        "print(sorted(m for m in ('extmodels_integrations.endpoints', 'databricks', 'yaml',"
        " 'langchain_core', 'llama_index') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_429_is_retried_after_retry_after_and_invalid_parameter_is_a_bad_request(ws, client):
    from extmodels_integrations import BadRequestError

    limited = {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}
    ws.inject.append((429, limited, {"Retry-After": "0"}))
    assert client.list() == []
    assert len(ws.calls) == 1  # the 429 was answered before the API saw the request
    bad = {"error_code": "INVALID_PARAMETER_VALUE", "message": "served_entities[0] is bad"}
    ws.inject.append((400, bad, {}))
    with pytest.raises(BadRequestError, match="served_entities\\[0\\] is bad") as info:
        client.create(OPENAI, **_fast())
    assert info.value.code == "INVALID_PARAMETER_VALUE" and info.value.status_code == 400
