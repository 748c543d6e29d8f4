"""The query and response formats of the external-model docs ("Query generative AI models",
/work/shared/seeds/004), verbatim: each request body goes through the gateway with the MLflow
Deployments client the docs use, arrives at the provider with every parameter in place
(the nested ``extra_params`` object as parameters, not as one unknown field), and the answer
has every field of the documented response."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extmodels_integrations import (
    ChatRequest,
    CompletionRequest,
    ConfigurationError,
    EmbeddingsRequest,
    ExternalClient,
)
from tests.gateway.test_gateway_clients import PROVIDER_KEY, TOKEN, _serve
from tests.support.openai_server import OpenAIStubServer

pytest.importorskip("mlflow")

CHAT_QUERY = {
    "messages": [{"role": "user", "content": "What is a mixture of experts model?"}],
    "max_tokens": 100,
    "temperature": 0.1,
}
CHAT_ANSWER = {
    "model": "databricks-dbrx-instruct",
    "choices": [{"message": {}, "index": 0, "finish_reason": None}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 74, "total_tokens": 81},
    "object": "chat.completion",
    "id": None,
    "created": 1698824353,
}
COMPLETION_QUERY = {
    "prompt": "What is mlflow?",
    "max_tokens": 100,
    "temperature": 0.1,
    "stop": ["Human:"],
    "n": 1,
    "stream": False,
    "extra_params": {"top_p": 0.9},
}
COMPLETION_ANSWER = {
    "id": "cmpl-8FwDGc22M13XMnRuessZ15dG622BH",
    "object": "text_completion",
    "created": 1698809382,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [{"text": "MLflow is ...", "index": 0, "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 83, "total_tokens": 88},
}
EMBEDDINGS_QUERY = {"input": ["embedding text"]}
EMBEDDINGS_ANSWER = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": []}],
    "model": "text-embedding-ada-002-v2",
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, OpenAIStubServer]]:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)
    with OpenAIStubServer() as stub, _serve(tmp_path, stub.base_url) as (host, _):
        monkeypatch.setenv("DATABRICKS_HOST", host)
        monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
        from mlflow.deployments import get_deploy_client

        yield get_deploy_client("databricks"), stub


def _same_fields(answer: Any, documented: Any, where: str = "") -> None:
    """Every field the documented answer has, ``answer`` has too, with the same JSON type."""
    if isinstance(documented, dict):
        assert isinstance(answer, dict), where
        for key, value in documented.items():
            assert key in answer, f"{where}.{key} missing"
            if value is not None and value != {} and value != []:
                _same_fields(answer[key], value, f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(answer, list) and answer, where
        _same_fields(answer[0], documented[0], f"{where}[0]")
    else:
        assert isinstance(answer, type(documented)), f"{where}: {answer!r}"


def test_the_documented_completion_query_reaches_the_provider_whole(
    served: tuple[Any, OpenAIStubServer],
) -> None:
    client, stub = served
    answer = client.predict(endpoint="comp", inputs=COMPLETION_QUERY)
    [sent] = [r.json for r in stub.requests]
    assert sent["prompt"] == "What is mlflow?"
    assert (sent["max_tokens"], sent["temperature"], sent["stop"], sent["n"]) == (
        100,
        0.1,
        ["Human:"],
        1,
    )
    assert sent["top_p"] == 0.9 and "extra_params" not in sent
    assert sent.get("stream") in (None, False)
    _same_fields(answer, COMPLETION_ANSWER)
    assert answer["object"] == "text_completion"


def test_the_documented_chat_query_and_answer(served: tuple[Any, OpenAIStubServer]) -> None:
    client, stub = served
    answer = client.predict(endpoint="chat", inputs=CHAT_QUERY)
    [sent] = [r.json for r in stub.requests]
    assert sent["messages"] == CHAT_QUERY["messages"]
    assert (sent["max_tokens"], sent["temperature"]) == (100, 0.1)
    _same_fields(answer, CHAT_ANSWER)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["role"] == "assistant"


def test_the_documented_embeddings_query_and_answer(
    served: tuple[Any, OpenAIStubServer],
) -> None:
    client, stub = served
    answer = client.predict(endpoint="emb", inputs=EMBEDDINGS_QUERY)
    [sent] = [r.json for r in stub.requests]
    assert sent["input"] == ["embedding text"]
    _same_fields(answer, EMBEDDINGS_ANSWER)
    assert answer["data"][0]["object"] == "embedding" and answer["data"][0]["embedding"]


# -- the same rule in the core: a nested extra_params object is parameters --------------------


def test_a_nested_extra_params_object_becomes_parameters(server: OpenAIStubServer) -> None:
    client = ExternalClient(
        external_model={
            "name": "gpt-3.5-turbo-instruct",
            "provider": "openai",
            "task": "llm/v1/completions",
            "openai_config": {
                "openai_api_key_plaintext": "sk-docs",
                "openai_api_base": f"{server.base_url}/v1",
            },
        }
    )
    client.complete(prompt="What is mlflow?", extra_params={"extra_params": {"top_p": 0.9}})
    [sent] = [r.json for r in server.requests]
    assert sent["top_p"] == 0.9 and "extra_params" not in sent


@pytest.mark.parametrize(
    "build",
    [
        lambda extra: ChatRequest(messages=[], extra_params=extra),
        lambda extra: CompletionRequest(prompt="p", extra_params=extra),
        lambda extra: EmbeddingsRequest(input=["t"], extra_params=extra),
    ],
)
def test_every_request_unnests_and_refuses_contradictions(build: Any) -> None:
    assert build({"seed": 1, "extra_params": {"top_p": 0.9}}).extra_params == {
        "seed": 1,
        "top_p": 0.9,
    }
    assert build({"top_p": 0.9, "extra_params": {"top_p": 0.9}}).extra_params == {"top_p": 0.9}
    with pytest.raises(ConfigurationError, match="top_p given both"):
        build({"top_p": 0.5, "extra_params": {"top_p": 0.9}})
    with pytest.raises(ConfigurationError, match="must be an object"):
        build({"extra_params": [0.9]})
