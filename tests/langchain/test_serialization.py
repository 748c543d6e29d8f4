"""LangChain serialization round trips, for every class and both target kinds, without secrets."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load

from extmodels_integrations.langchain import ChatExternal, CompletionExternal, ExternalEmbeddings

CANARY = "sk-canary-serialization-0123456789"


def _external(task: str, **config: Any) -> dict[str, Any]:
    return {
        "name": "gpt-4o-mini",
        "provider": "openai",
        "task": task,
        "openai_config": {"openai_api_base": "http://127.0.0.1:1/v1", **config},
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
    (
        ChatExternal,
        {"external_model": _external("llm/v1/chat", openai_api_key="{{secrets/llm/openai}}")},
    ),
]


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_round_trip_without_secrets(
    cls: type, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = cls(temperature=0.5, **params) if cls is not ExternalEmbeddings else cls(**params)
    text = dumps(model)
    assert CANARY not in text
    assert CANARY not in repr(model)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    if "token" in params:  # otherwise the env default would fill a token the original lacks
        monkeypatch.setenv("DATABRICKS_TOKEN", CANARY)
    monkeypatch.setenv("EXTMODELS_SECRET__LLM__OPENAI", CANARY)
    revived = load(
        dumpd(model),
        valid_namespaces=["extmodels_integrations"],
        allowed_objects=[cls],
        secrets_from_env=True,
    )
    assert type(revived) is cls
    assert revived.model_dump() == model.model_dump()


def test_secret_reference_is_kept_verbatim() -> None:
    model = ChatExternal(
        external_model=_external("llm/v1/chat", openai_api_key="{{secrets/llm/openai}}")
    )
    assert (
        dumpd(model)["kwargs"]["external_model"]["openai_config"]["openai_api_key"]
        == "{{secrets/llm/openai}}"
    )


def test_lifted_plaintext_kwarg_is_merged_back() -> None:
    block = _external("llm/v1/chat")
    model = ChatExternal(external_model=block, openai_api_key_plaintext=CANARY)
    assert model.external_model is not None
    config = model.external_model.openai_config
    assert config is not None and config.openai_api_key_plaintext is not None
    assert config.openai_api_key_plaintext.get_secret_value() == CANARY
    assert "openai_api_key_plaintext" not in block["openai_config"]  # caller's dict untouched
