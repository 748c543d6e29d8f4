"""Pickles of the LangChain and LlamaIndex classes (multiprocessing, Ray) follow their
serialization's rule: no secret in the bytes, each read back on unpickling from the environment
variable the serialized form names; deep copies stay in the process and keep theirs."""

from __future__ import annotations

import base64
import copy
import pickle
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, load

from extmodels_integrations import ConfigurationError
from extmodels_integrations import langchain as lc
from extmodels_integrations import llama_index as li
from extmodels_integrations._target import TargetBase
from tests.support.openai_server import OpenAIStubServer

CANARY = "sk-canary-PICKLE-0123456789abcdef"
FORMS = (CANARY.encode(), base64.b64encode(CANARY.encode()), repr(CANARY).encode())

CALLS: dict[type, Callable[[Any], object]] = {
    lc.ChatExternal: lambda m: m.invoke("hi").content,
    lc.CompletionExternal: lambda m: m.invoke("hi"),
    lc.ExternalEmbeddings: lambda m: m.embed_query("hi"),
    li.ChatExternal: lambda m: m.complete("hi").text,
    li.CompletionExternal: lambda m: m.complete("hi").text,
    li.ExternalEmbeddings: lambda m: m.get_text_embedding("hi"),
}
TASKS = {
    lc.ChatExternal: "llm/v1/chat",
    lc.CompletionExternal: "llm/v1/completions",
    lc.ExternalEmbeddings: "llm/v1/embeddings",
    li.ChatExternal: "llm/v1/chat",
    li.CompletionExternal: "llm/v1/completions",
    li.ExternalEmbeddings: "llm/v1/embeddings",
}
# target kind -> the environment variable its secret comes back from
TARGETS = {
    "endpoint": "DATABRICKS_TOKEN",
    "external_model": "OPENAI_API_KEY",
    "endpoint_config": "PRIMARY_OPENAI_API_KEY",
}


def _external(task: str, base: str) -> dict[str, Any]:
    return {
        "name": "gpt-4o-mini",
        "provider": "openai",
        "task": task,
        "openai_config": {"openai_api_base": f"{base}/v1", "openai_api_key_plaintext": CANARY},
    }


def _params(cls: type, kind: str, base: str) -> dict[str, Any]:
    if kind == "endpoint":
        return {"endpoint": "ep", "host": base, "token": CANARY}
    block = _external(TASKS[cls], base)
    if kind == "external_model":
        return {"external_model": block}
    entity = {"name": "primary", "external_model": block}
    return {"endpoint_config": {"name": "routed", "config": {"served_entities": [entity]}}}


def _deserialized(model: Any) -> Any:
    """``model`` through its framework's serialization, secrets from the environment."""
    cls = type(model)
    if cls.__module__.startswith("extmodels_integrations.langchain"):
        return load(
            dumpd(model),
            valid_namespaces=["extmodels_integrations"],
            allowed_objects=[cls],
            secrets_from_env=True,
        )
    return cls.from_json(model.to_json())


CASES = [(cls, kind) for cls in CALLS for kind in TARGETS]
IDS = [f"{cls.__module__.split('.')[1]}-{cls.__name__}-{kind}" for cls, kind in CASES]


@pytest.mark.parametrize(("cls", "kind"), CASES, ids=IDS)
def test_pickle_holds_no_secret_and_revives_from_the_environment(
    cls: type, kind: str, server: OpenAIStubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = cls(**_params(cls, kind, server.base_url))
    dumps = [pickle.dumps(model, protocol) for protocol in range(pickle.HIGHEST_PROTOCOL + 1)]
    assert not [form for data in dumps for form in FORMS if form in data]
    monkeypatch.setenv(TARGETS[kind], CANARY)
    revived = pickle.loads(dumps[-1])
    assert type(revived) is cls
    assert revived.model_dump() == model.model_dump()
    assert revived.model_fields_set == model.model_fields_set
    assert CALLS[cls](revived)
    assert server.requests[-1].headers["authorization"] == f"Bearer {CANARY}"


@pytest.mark.parametrize(("cls", "kind"), CASES, ids=IDS)
def test_unpickling_without_the_variable_fails_as_deserializing_does(
    cls: type, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = cls(**_params(cls, kind, "http://127.0.0.1:9"))
    data = pickle.dumps(model)
    monkeypatch.delenv(TARGETS[kind], raising=False)
    with pytest.raises(ConfigurationError) as unpickled:
        pickle.loads(data)
    with pytest.raises(ConfigurationError) as deserialized:
        _deserialized(model)
    assert str(unpickled.value) == str(deserialized.value)
    assert TARGETS[kind] in str(unpickled.value)


@pytest.mark.parametrize(("cls", "kind"), CASES, ids=IDS)
def test_deep_copy_keeps_the_secret_and_gets_its_own_client(
    cls: type, kind: str, server: OpenAIStubServer
) -> None:
    model = cls(**_params(cls, kind, server.base_url))
    clone = copy.deepcopy(model)
    assert type(clone) is cls
    assert clone.client is not model.client
    for name in ("token", "external_model", "endpoint_config"):
        assert getattr(clone, name) == getattr(model, name)  # SecretStr compares its value
    assert clone.model_fields_set == model.model_fields_set
    assert CALLS[cls](clone)
    assert server.requests[-1].headers["authorization"] == f"Bearer {CANARY}"
    assert model.model_copy(deep=True).client is not model.client


def test_deep_copy_shares_what_serialization_excludes(
    server: OpenAIStubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What serialization excludes (the resolver, the injected httpx clients) is shared by a
    deep copy and left behind by a pickle."""

    def resolver(scope: str, key: str) -> str | None:
        return None

    with httpx.Client() as http:
        model = lc.ChatExternal(
            **_params(lc.ChatExternal, "endpoint", server.base_url),
            http_client=http,
            secret_resolver=resolver,
        )
        clone = copy.deepcopy(model)
        assert clone.http_client is http
        assert clone.secret_resolver is resolver
        assert clone.invoke("hi").content
        monkeypatch.setenv("DATABRICKS_TOKEN", CANARY)
        revived = pickle.loads(pickle.dumps(model))
    excluded = [n for n, f in TargetBase.model_fields.items() if f.exclude]
    assert excluded == ["secret_resolver", "http_client", "http_async_client"]
    assert [getattr(revived, name) for name in excluded] == [None, None, None]


AWS = {"AWS_ACCESS_KEY_ID": "CANARYPICKLEKEY01", "AWS_SECRET_ACCESS_KEY": "canary/PICKLE+AWS/01"}


def _unpickling_error(data: bytes) -> ConfigurationError:
    # Unpickled here, so the rendered frames hold no secret of the test's own.
    try:
        pickle.loads(data)
    except ConfigurationError as error:
        return error
    raise AssertionError("unpickling did not fail")


def test_a_missing_variable_shows_none_of_those_read_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The session token is missing after the key pair was read: the error, rendered with
    every frame's locals, shows neither of the two."""
    config = {
        "aws_region": "us-east-1",
        "bedrock_provider": "anthropic",
        **{f"{name.lower()}_plaintext": value for name, value in AWS.items()},
        "aws_session_token_plaintext": "canary-PICKLE-SESSION-01",
    }
    block = {
        "name": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "provider": "amazon-bedrock",
        "task": "llm/v1/chat",
        "amazon_bedrock_config": config,
    }
    data = pickle.dumps(lc.ChatExternal(external_model=block))
    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    error = _unpickling_error(data)
    assert "set AWS_SESSION_TOKEN" in str(error)
    rendered = traceback.TracebackException.from_exception(error, capture_locals=True)
    text = "".join(rendered.format())
    assert "lifted = " in text
    assert not [value for value in AWS.values() if value in text]
