"""Bad configs and bad call inputs: each gets a ``ConfigurationError`` (or its subclass
``UnsupportedParameterError``) whose message names the field and says how to fix it, never
quotes a secret, and leaves what the caller passed in untouched."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from extmodels_integrations import ConfigurationError, ExternalClient
from tests.support import canary

BASE = "http://127.0.0.1:9"
BLOCKS = canary.external_models(BASE, f"{BASE}/token", "plaintext")


def _with(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    block = copy.deepcopy(BLOCKS[name])
    change(block)
    return block


def _config(block: dict[str, Any]) -> dict[str, Any]:
    return block[next(k for k in block if k.endswith("_config"))]


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda block: _config(block).pop(key)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda block: _config(block).__setitem__(key, value)


def _top(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda block: block.__setitem__(key, value)


# (id, external_model block, what the message must name, a word of the fix)
BAD_CONFIGS = [
    ("openai-no-key", _with("openai", _drop("openai_api_key_plaintext")), "openai_api_key", ""),
    (
        "openai-both-key-forms",
        _with("openai", _set("openai_api_key", "{{secrets/s/k}}")),
        "openai_api_key",
        "",
    ),
    (
        "openai-key-not-a-reference",
        _with("openai", _set("openai_api_key", canary.CANARIES["openai"])),
        "openai_api_key",
        "{{secrets/",
    ),
    ("openai-unknown-field", _with("openai", _set("openai_api_kee", "x")), "openai_api_kee", ""),
    (
        "openai-base-not-url",
        _with("openai", _set("openai_api_base", "api.openai")),
        "openai_api_base",
        "https://",
    ),
    ("azure-no-version", _with("azure", _drop("openai_api_version")), "openai_api_version", ""),
    (
        "azure-no-deployment",
        _with("azure", _drop("openai_deployment_name")),
        "openai_deployment_name",
        "",
    ),
    (
        "entra-no-tenant",
        _with("entra", _drop("microsoft_entra_tenant_id")),
        "microsoft_entra_tenant_id",
        "",
    ),
    (
        "anthropic-no-key",
        _with("anthropic", _drop("anthropic_api_key_plaintext")),
        "anthropic_api_key",
        "",
    ),
    (
        "anthropic-empty-key",
        _with("anthropic", _set("anthropic_api_key_plaintext", " ")),
        "anthropic_api_key_plaintext",
        "",
    ),
    (
        "cohere-key-wrong-type",
        _with("cohere", _set("cohere_api_key_plaintext", 123)),
        "cohere_api_key_plaintext",
        "",
    ),
    ("ai21-no-key", _with("ai21labs", _drop("ai21labs_api_key_plaintext")), "ai21labs_api_key", ""),
    ("bedrock-no-region", _with("bedrock", _drop("aws_region")), "aws_region", ""),
    (
        "bedrock-bad-sub-provider",
        _with("bedrock", _set("bedrock_provider", "meta")),
        "bedrock_provider",
        "anthropic",
    ),
    (
        "bedrock-half-key-pair",
        _with("bedrock", _drop("aws_secret_access_key_plaintext")),
        "aws_secret_access_key",
        "",
    ),
    ("vertex-no-project", _with("vertex", _drop("project_id")), "project_id", ""),
    (
        "vertex-key-not-json",
        _with("vertex", _set("private_key_plaintext", canary.CANARIES["openai"])),
        "private_key",
        "",
    ),
    (
        "databricks-no-url",
        _with("databricks", _drop("databricks_workspace_url")),
        "databricks_workspace_url",
        "",
    ),
    ("no-provider-config", _with("openai", lambda b: b.pop("openai_config")), "openai_config", ""),
    ("unknown-provider", _with("openai", _top("provider", "openia")), "provider", "openai"),
    ("unknown-task", _with("openai", _top("task", "llm/v1/chats")), "task", "llm/v1/chat"),
    ("name-wrong-type", _with("openai", _top("name", 42)), "name", ""),
]


@pytest.mark.parametrize(
    ("block", "field", "fix"),
    [pytest.param(b, f, x, id=i) for i, b, f, x in BAD_CONFIGS],
)
def test_bad_config_names_the_field_and_the_fix(
    block: dict[str, Any], field: str, fix: str
) -> None:
    before = copy.deepcopy(block)
    with pytest.raises(ConfigurationError) as caught:
        ExternalClient(external_model=block).chat(messages=[{"role": "user", "content": "hi"}])
    message = str(caught.value)
    assert field in message, message
    assert fix in message, message
    assert not canary.leaks([message, repr(caught.value)]), message
    assert block == before, "the config the caller passed in was changed"


def _refusing(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a bad input reached the wire: {request.url}")


def _client(name: str) -> ExternalClient:
    http = httpx.Client(transport=httpx.MockTransport(_refusing))
    return ExternalClient(external_model=BLOCKS[name], http_client=http, max_retries=0)


# (id, target, call kwargs, what the message must name)
BAD_CALLS = [
    ("message-not-a-dict", "anthropic", {"messages": ["hi"]}, "messages"),
    ("message-no-role", "anthropic", {"messages": [{"content": "hi"}]}, "role"),
    ("message-unknown-role", "cohere", {"messages": [{"role": "wizard", "content": "hi"}]}, "role"),
    (
        "tool-without-name",
        "anthropic",
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {}}],
        },
        "name",
    ),
    ("n-on-anthropic", "anthropic", {"messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
]


@pytest.mark.parametrize(
    ("name", "call", "field"), [pytest.param(n, c, f, id=i) for i, n, c, f in BAD_CALLS]
)
def test_bad_call_input_names_the_field(name: str, call: dict[str, Any], field: str) -> None:
    before = copy.deepcopy(call)
    with pytest.raises(ConfigurationError) as caught:
        _client(name).chat(**call)
    message = str(caught.value)
    assert field in message, message
    assert not canary.leaks([message]), message
    assert call == before, "the messages/tools the caller passed in were changed"
