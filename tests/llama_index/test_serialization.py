"""``to_dict`` / ``to_json`` / ``from_dict`` round trips for every class and every way of pointing
at a model, with a canary secret that must never appear in a dump, a repr or an
instrumentation payload."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from extmodels_integrations import ConfigurationError
from extmodels_integrations.llama_index import ChatExternal, CompletionExternal, ExternalEmbeddings
from tests.llama_index.standard import event_payload
from tests.support.openai_server import OpenAIStubServer

CANARY = "sk-canary-llama-index-0123456789"


def _external(task: str, **config: Any) -> dict[str, Any]:
    return {
        "name": "gpt-4o-mini",
        "provider": "openai",
        "task": task,
        "openai_config": {"openai_api_base": "http://127.0.0.1:1/v1", **config},
    }


def _endpoint_config(task: str) -> dict[str, Any]:
    return {
        "name": "routed",
        "config": {
            "served_entities": [
                {
                    "name": "primary",
                    "external_model": _external(task, openai_api_key_plaintext=CANARY),
                }
            ]
        },
    }


CASES = [
    (ChatExternal, {"endpoint": "ep", "host": "https://h.example", "token": CANARY}),
    (ChatExternal, {"external_model": _external("llm/v1/chat", openai_api_key_plaintext=CANARY)}),
    (
        CompletionExternal,
        {"external_model": _external("llm/v1/completions", openai_api_key_plaintext=CANARY)},
    ),
    (
        ExternalEmbeddings,
        {"external_model": _external("llm/v1/embeddings", openai_api_key_plaintext=CANARY)},
    ),
    (ChatExternal, {"endpoint_config": _endpoint_config("llm/v1/chat")}),
    (ExternalEmbeddings, {"endpoint_config": _endpoint_config("llm/v1/embeddings")}),
]
# Where each kind of secret comes back from on load, as for the LangChain classes.
ENV = ("DATABRICKS_TOKEN", "OPENAI_API_KEY", "PRIMARY_OPENAI_API_KEY")


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_round_trip_without_secrets(
    cls: type, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = cls(**params)
    data = model.to_dict()
    text = model.to_json()
    for shown in (text, repr(data), repr(model), str(model), repr(event_payload(model))):
        assert CANARY not in shown
    assert json.loads(text)["class_name"] == cls.class_name()
    for name in ENV:
        monkeypatch.setenv(name, CANARY)
    revived = cls.from_json(text)
    assert type(revived) is cls
    assert revived.to_dict() == data
    assert revived.client.provider == model.client.provider
    assert revived.model_dump() == model.model_dump()


def test_a_missing_secret_names_its_variable() -> None:
    data = ChatExternal(
        external_model=_external("llm/v1/chat", openai_api_key_plaintext=CANARY)
    ).to_dict()
    assert data["openai_api_key_plaintext"] is None
    with pytest.raises(ConfigurationError, match="set OPENAI_API_KEY or pass"):
        ChatExternal.from_dict(data)
    revived = ChatExternal.from_dict(data, openai_api_key_plaintext=CANARY)
    assert revived.external_model == ChatExternal(**CASES[1][1]).external_model


def test_secret_reference_is_kept_verbatim() -> None:
    model = ChatExternal(
        external_model=_external("llm/v1/chat", openai_api_key="{{secrets/llm/openai}}")
    )
    data = model.to_dict()
    assert data["external_model"]["openai_config"]["openai_api_key"] == "{{secrets/llm/openai}}"
    assert ChatExternal.from_dict(data).to_dict() == data


def test_pickle_round_trip_keeps_working(
    server: OpenAIStubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = ChatExternal(endpoint="ep", host=server.base_url, token=CANARY, temperature=0.2)
    data = pickle.dumps(llm)
    monkeypatch.setenv("DATABRICKS_TOKEN", CANARY)  # the token does not travel in the pickle
    revived = pickle.loads(data)
    assert revived.temperature == 0.2
    assert revived.complete("hi").text


def test_endpoint_config_target_routes_and_names_the_model(server: OpenAIStubServer) -> None:
    body = _endpoint_config("llm/v1/chat")
    config = body["config"]["served_entities"][0]["external_model"]["openai_config"]
    config["openai_api_base"] = f"{server.base_url}/v1"
    llm = ChatExternal(endpoint_config=body, routing_seed=1)
    assert llm.model == "routed"
    response = llm.complete("hi")
    assert response.text.startswith("Stub reply to: hi")
    assert server.last_json()["model"] == "gpt-4o-mini"
