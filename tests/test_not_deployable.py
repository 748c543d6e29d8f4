"""Fields of ours that a real serving endpoint would refuse (issue 19): kept for local runs,
but loading a body says so once, with a NotDeployableWarning naming each field and why;
``strict=True`` and the endpoint lifecycle refuse them before anything is sent."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from extmodels_integrations import (
    ConfigurationError,
    NotDeployableWarning,
    load_endpoint_config,
)
from extmodels_integrations.endpoints import EndpointsClient
from extmodels_integrations.langchain import ChatExternal
from tests.support.fake_workspace import FakeWorkspace

CANARY = "sk-canary-not-deployable-0123456789"
AWS = {"aws_region": "us-east-1", "bedrock_provider": "anthropic"}
AWS_KEYS = {"aws_access_key_id_plaintext": "AKIA1", "aws_secret_access_key_plaintext": CANARY}

# (provider, config block, the local-only field set in it)
LOCAL = [
    (
        "anthropic",
        {"anthropic_api_key_plaintext": CANARY, "anthropic_api_base": "http://127.0.0.1:1"},
        "anthropic_api_base",
    ),
    (
        "ai21labs",
        {"ai21labs_api_key_plaintext": CANARY, "ai21labs_api_base": "http://127.0.0.1:1"},
        "ai21labs_api_base",
    ),
    (
        "google-cloud-vertex-ai",
        {
            "project_id": "p",
            "region": "us-central1",
            "private_key_plaintext": CANARY,
            "vertex_api_base": "http://127.0.0.1:1",
        },
        "vertex_api_base",
    ),
    (
        "amazon-bedrock",
        {**AWS, **AWS_KEYS, "bedrock_api_base": "http://127.0.0.1:1"},
        "bedrock_api_base",
    ),
    (
        "amazon-bedrock",
        {**AWS, **AWS_KEYS, "aws_session_token_plaintext": CANARY},
        "aws_session_token_plaintext",
    ),
    (
        "amazon-bedrock",
        {**AWS, **AWS_KEYS, "aws_session_token": "{{secrets/s/t}}"},
        "aws_session_token",
    ),
]
CONFIG_KEYS = {
    "anthropic": "anthropic_config",
    "ai21labs": "ai21labs_config",
    "google-cloud-vertex-ai": "google_cloud_vertex_ai_config",
    "amazon-bedrock": "amazon_bedrock_config",
    "openai": "openai_config",
    "cohere": "cohere_config",
}
MODELS = {
    "anthropic": "claude-sonnet-4-5",
    "ai21labs": "jamba-1.5-mini",
    "google-cloud-vertex-ai": "gemini-2.0-flash",
    "amazon-bedrock": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "openai": "gpt-4o-mini",
    "cohere": "command-r-plus",
}


def _entity(provider: str, block: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    model = {"name": MODELS[provider], "provider": provider, "task": "llm/v1/chat"}
    entity = {"external_model": {**model, CONFIG_KEYS[provider]: block}}
    return {**entity, "name": name} if name else entity


def _body(*entities: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {"served_entities": list(entities)}
    if len(entities) > 1:
        shares = [100 - 10 * (len(entities) - 1)] + [10] * (len(entities) - 1)
        config["traffic_config"] = {
            "routes": [
                {"served_model_name": e["name"], "traffic_percentage": p}
                for e, p in zip(entities, shares, strict=True)
            ]
        }
    return {"name": "ep", "config": config}


def _loaded(body: Any, **options: Any) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        load_endpoint_config(body, **options)
    return [w for w in seen if issubclass(w.category, NotDeployableWarning)]


def test_the_warning_is_public_and_a_user_warning() -> None:
    assert issubclass(NotDeployableWarning, UserWarning)


@pytest.mark.parametrize(("provider", "block", "field"), LOCAL, ids=[f for *_, f in LOCAL])
def test_each_local_field_is_named_once_with_why(provider: str, block: Any, field: str) -> None:
    [warning] = _loaded(_body(_entity(provider, block)))
    text = str(warning.message)
    path = f"served_entities[0].external_model.{CONFIG_KEYS[provider]}.{field}"
    assert path in text and "not a field of the Databricks serving API" in text
    assert "remove it before creating the endpoint" in text and CANARY not in text
    assert warning.filename == __file__  # points at the caller's line

    with pytest.raises(ConfigurationError, match=rf"\.{field} \(") as refused:
        load_endpoint_config(_body(_entity(provider, block)), strict=True)
    assert CANARY not in str(refused.value)


def test_one_body_with_several_local_fields_warns_once_naming_all() -> None:
    body = _body(
        _entity("anthropic", LOCAL[0][1], name="a"),
        _entity("amazon-bedrock", {**LOCAL[3][1], "aws_session_token_plaintext": CANARY}, "b"),
    )
    [warning] = _loaded(body)
    text = str(warning.message)
    for field in ("anthropic_api_base", "bedrock_api_base", "aws_session_token_plaintext"):
        assert field in text
    assert "(3 problems)" in text


def test_documented_fields_are_deployable() -> None:
    assert not _loaded(
        _body(
            _entity(
                "openai",
                {"openai_api_key_plaintext": CANARY, "openai_api_base": "https://x.example/v1"},
                "o",
            ),
            _entity(
                "cohere",
                {"cohere_api_key_plaintext": CANARY, "cohere_api_base": "https://c.example"},
                "c",
            ),
            _entity(
                "amazon-bedrock",
                {**AWS, "instance_profile_arn": "arn:aws:iam::1:instance-profile/p"},
                "b",
            ),
        ),
        strict=True,
    )


def test_strict_checks_an_already_parsed_config_too() -> None:
    with pytest.warns(NotDeployableWarning):
        parsed = load_endpoint_config(_body(_entity(*LOCAL[0][:2])))
    assert not _loaded(parsed)  # warned when it was parsed, not again
    with pytest.raises(ConfigurationError, match="anthropic_api_base"):
        load_endpoint_config(parsed, strict=True)


def test_a_class_given_the_body_warns_once_and_runs() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        chat = ChatExternal(endpoint_config=_body(_entity(*LOCAL[0][:2])))
    assert [w.category for w in seen if issubclass(w.category, NotDeployableWarning)] == [
        NotDeployableWarning
    ]
    assert chat.model == "ep"  # the endpoint's name, as a served endpoint is called


def test_the_lifecycle_refuses_the_body_before_sending() -> None:
    with FakeWorkspace(token="dapi-ws") as ws, EndpointsClient(host=ws.url, token="dapi-ws") as c:
        with pytest.raises(ConfigurationError, match="anthropic_api_base") as refused:
            c.apply(_body(_entity(*LOCAL[0][:2])), poll_interval=0.01, timeout=5)
        assert ws.calls == []
    assert CANARY not in str(refused.value)
