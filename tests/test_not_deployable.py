"""Fields of ours that a real serving endpoint would refuse (issue 19): kept for local runs,
but loading a body, or a bare external_model block, says so once, with a NotDeployableWarning
naming each field and why; ``strict=True`` (``strict_config=True`` on the clients and every
LangChain / LlamaIndex class) and the endpoint lifecycle refuse them before anything is
sent."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from typing import Any

import pytest

from extmodels_integrations import (
    ConfigurationError,
    ExternalClient,
    NotDeployableWarning,
    load_endpoint_config,
    parse_external_model,
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


# -- a bare external_model block, and strict_config on every class ----------------------------

_BEDROCK = {**AWS, **AWS_KEYS, "bedrock_api_base": "http://127.0.0.1:1"}
# (task, bedrock_provider, model) each class of that task can be built with
_TASK_MODELS = {
    "llm/v1/chat": ("anthropic", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    "llm/v1/completions": ("amazon", "amazon.titan-text-express-v1"),
    "llm/v1/embeddings": ("amazon", "amazon.titan-embed-text-v2:0"),
}


def _classes() -> list[Any]:
    from extmodels_integrations import langchain as lc
    from extmodels_integrations import llama_index as li

    return [
        pytest.param(cls, task, id=f"{framework}.{cls.__name__}")
        for framework, module in (("langchain", lc), ("llama_index", li))
        for cls, task in (
            (module.ChatExternal, "llm/v1/chat"),
            (module.CompletionExternal, "llm/v1/completions"),
            (module.ExternalEmbeddings, "llm/v1/embeddings"),
        )
    ]


def _bedrock_block(task: str, **config: Any) -> dict[str, Any]:
    bedrock_provider, name = _TASK_MODELS[task]
    block = {**_BEDROCK, "bedrock_provider": bedrock_provider, **config}
    return {
        "name": name,
        "provider": "amazon-bedrock",
        "task": task,
        "amazon_bedrock_config": block,
    }


def _not_deployable(build: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        built = build()
    return built, [str(w.message) for w in seen if issubclass(w.category, NotDeployableWarning)]


@pytest.mark.parametrize(("provider", "block", "field"), LOCAL, ids=[f for *_, f in LOCAL])
def test_a_bare_block_warns_once_naming_the_field(provider: str, block: Any, field: str) -> None:
    model = {"name": MODELS[provider], "provider": provider, "task": "llm/v1/chat"}
    bare = {**model, CONFIG_KEYS[provider]: block}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        parsed = parse_external_model(bare)
    [warning] = [w for w in seen if issubclass(w.category, NotDeployableWarning)]
    text = str(warning.message)
    assert f"external_model.{CONFIG_KEYS[provider]}.{field} (" in text and CANARY not in text
    assert warning.filename == __file__

    with pytest.raises(ConfigurationError, match=rf"\.{field} \(") as refused:
        parse_external_model(bare, strict=True)
    assert CANARY not in str(refused.value)
    _, again = _not_deployable(lambda: parse_external_model(parsed))
    assert again == []  # warned when it was parsed
    with pytest.raises(ConfigurationError, match=field):
        parse_external_model(parsed, strict=True)


def test_a_bare_block_with_several_local_fields_warns_once_naming_all() -> None:
    block = _bedrock_block("llm/v1/chat", aws_session_token_plaintext=CANARY)
    _, [text] = _not_deployable(lambda: ExternalClient(external_model=block))
    assert "bedrock_api_base" in text and "aws_session_token_plaintext" in text
    assert "(2 problems)" in text and CANARY not in text
    with pytest.raises(ConfigurationError, match="aws_session_token_plaintext"):
        ExternalClient(external_model=block, strict_config=True)


@pytest.mark.parametrize(("cls", "task"), _classes())
def test_every_class_warns_once_for_a_bare_block_and_runs(cls: Any, task: str) -> None:
    model, [text] = _not_deployable(lambda: cls(external_model=_bedrock_block(task)))
    assert "external_model.amazon_bedrock_config.bedrock_api_base" in text
    assert model.strict_config is False


def _entry_points() -> list[Any]:
    client = pytest.param(ExternalClient, "llm/v1/chat", id="ExternalClient")
    return [client, *_classes()]


@pytest.mark.parametrize(("cls", "task"), _entry_points())
def test_the_warning_points_at_the_line_that_built_the_class(cls: Any, task: str) -> None:
    # Each entry point reaches the check at another depth (pydantic validators under
    # LangChain and LlamaIndex, ExternalClient directly): all blame this file's line.
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        cls(external_model=_bedrock_block(task))
    [warning] = [w for w in seen if issubclass(w.category, NotDeployableWarning)]
    assert (warning.filename, warning.lineno) == (__file__, line)


@pytest.mark.parametrize(("cls", "task"), _classes())
def test_strict_config_on_every_class_refuses_both_targets(cls: Any, task: str) -> None:
    with pytest.raises(ConfigurationError, match=r"amazon_bedrock_config\.bedrock_api_base"):
        cls(external_model=_bedrock_block(task), strict_config=True)
    body = _body({"external_model": _bedrock_block(task)})
    with pytest.raises(ConfigurationError, match=r"served_entities\[0\].*bedrock_api_base") as r:
        cls(endpoint_config=body, strict_config=True)
    assert CANARY not in str(r.value)


@pytest.mark.parametrize(("cls", "task"), _classes())
def test_strict_config_passes_a_deployable_block_silently(cls: Any, task: str) -> None:
    block = _bedrock_block(task)
    del block["amazon_bedrock_config"]["bedrock_api_base"]
    model, seen = _not_deployable(lambda: cls(external_model=block, strict_config=True))
    assert seen == [] and model.strict_config is True
    assert model.client.external_model == parse_external_model(block)


def test_strict_config_takes_only_a_bool() -> None:
    from extmodels_integrations.langchain import ChatExternal as Chat

    with pytest.raises(ConfigurationError, match="strict_config must be True or False, not str"):
        Chat(external_model=_bedrock_block("llm/v1/chat"), strict_config="false")


def test_a_script_run_with_python_m_gets_the_warning_with_its_line(tmp_path: Any) -> None:
    # ``python -m`` runs the module as __main__ under a loader named for its real name: a
    # warning that handed CPython the frame's globals made it raise ImportError instead.
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "script.py").write_text(
        "from extmodels_integrations import parse_external_model\n"
        f"parse_external_model({_bedrock_block('llm/v1/chat')!r})\n"
        "print('ran to the end')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-W", "always", "-m", "userpkg.script"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ran to the end" in done.stdout
    assert f"{package / 'script.py'}:2: NotDeployableWarning" in done.stderr
    assert "parse_external_model(" in done.stderr  # the line itself, read from the file
