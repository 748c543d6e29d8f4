"""The three LangChain classes on an endpoint config: routed calls that say who answered, task
checks with the config's path, and serialization that leaves every served entity's secrets out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load

from extmodels_integrations import ConfigurationError
from extmodels_integrations.langchain import ChatExternal, CompletionExternal, ExternalEmbeddings
from tests.support.openai_server import OpenAIStubServer

CANARY = "sk-canary-endpoint-config-lc-0123456789"


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[OpenAIStubServer, OpenAIStubServer]]:
    with OpenAIStubServer() as a, OpenAIStubServer() as b:
        yield a, b


def body(pair: tuple[OpenAIStubServer, OpenAIStubServer], task: str, split: int) -> dict[str, Any]:
    a, b = pair
    return {
        "name": f"lc-{uuid.uuid4().hex[:8]}",
        "config": {
            "served_entities": [
                {
                    "name": "primary",
                    "external_model": {
                        "name": "gpt-4o-mini",
                        "provider": "openai",
                        "task": task,
                        "openai_config": {
                            "openai_api_key_plaintext": CANARY,
                            "openai_api_base": f"{a.base_url}/v1",
                        },
                    },
                },
                {
                    "name": "secondary",
                    "external_model": {
                        "name": "team-model",
                        "provider": "databricks-model-serving",
                        "task": task,
                        "databricks_model_serving_config": {
                            "databricks_api_token": "{{secrets/llm/dbx}}",
                            "databricks_workspace_url": b.base_url,
                        },
                    },
                },
            ],
            "traffic_config": {
                "routes": [
                    {"served_model_name": "primary", "traffic_percentage": split},
                    {"served_model_name": "secondary", "traffic_percentage": 100 - split},
                ]
            },
        },
        "rate_limits": [{"calls": 1000, "key": "user", "renewal_period": "minute"}],
        "tags": [{"key": "team", "value": "search"}],
    }


@pytest.fixture(autouse=True)
def _workspace_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTMODELS_SECRET__LLM__DBX", "dapi-test")


def test_chat_invoke_and_stream_say_which_entity_answered(
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    llm = ChatExternal(endpoint_config=body(pair, "llm/v1/chat", 0))
    assert llm.model == llm.client.model_name and llm.model.startswith("lc-")
    message = llm.invoke("hi")
    assert message.content
    assert message.response_metadata["served_entity"] == "secondary"
    assert message.response_metadata["served_entity_provider"] == "databricks-model-serving"
    assert message.response_metadata["fallback"] is False
    chunks = list(llm.stream("hi"))
    assert chunks[-1].response_metadata["served_entity"] == "secondary"
    assert chunks[-1].usage_metadata is not None


async def test_completion_and_embeddings_on_an_endpoint_config(
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    llm = CompletionExternal(endpoint_config=body(pair, "llm/v1/completions", 100))
    result = llm.generate(["Say hi"])
    assert result.generations[0][0].generation_info["served_entity"] == "primary"  # type: ignore[index]
    streamed = [c async for c in llm.astream("Say hi")]
    assert "".join(streamed)
    embeddings = ExternalEmbeddings(endpoint_config=body(pair, "llm/v1/embeddings", 50))
    assert len(await embeddings.aembed_documents(["a", "b", "c"])) == 3


def test_a_config_for_another_task_is_refused_with_its_path(
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    with pytest.raises(ConfigurationError) as info:
        ExternalEmbeddings(endpoint_config=body(pair, "llm/v1/chat", 50))
    assert str(info.value).startswith(
        "endpoint_config.config.served_entities[0].external_model.task is 'llm/v1/chat' but "
        "ExternalEmbeddings needs 'llm/v1/embeddings'"
    )


def test_a_path_to_a_file_works_like_the_body(
    pair: tuple[OpenAIStubServer, OpenAIStubServer], tmp_path: Path
) -> None:
    path = tmp_path / "endpoint.json"
    config = body(pair, "llm/v1/chat", 100)
    path.write_text(json.dumps(config))
    llm = ChatExternal(endpoint_config=str(path))
    assert llm.endpoint_config == ChatExternal(endpoint_config=config).endpoint_config


@pytest.mark.parametrize(
    ("cls", "task"),
    [
        (ChatExternal, "llm/v1/chat"),
        (CompletionExternal, "llm/v1/completions"),
        (ExternalEmbeddings, "llm/v1/embeddings"),
    ],
)
def test_serializes_without_secrets_and_revives(
    cls: type[Any],
    task: str,
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = cls(endpoint_config=body(pair, task, 100), routing_seed=3, rate_limit_user="ana")
    text = dumps(model)
    assert CANARY not in text and CANARY not in repr(model)
    assert '"id": ["PRIMARY_OPENAI_API_KEY"]' in text
    assert "{{secrets/llm/dbx}}" in text  # references are not secret and stay in place
    monkeypatch.setenv("PRIMARY_OPENAI_API_KEY", CANARY)
    revived = load(
        dumpd(model),
        valid_namespaces=["extmodels_integrations"],
        allowed_objects=[cls],
        secrets_from_env=True,
    )
    assert type(revived) is cls
    assert revived.endpoint_config == model.endpoint_config
    assert (revived.routing_seed, revived.rate_limit_user) == (3, "ana")
    entity = revived.endpoint_config.served_entities[0].external_model
    assert entity.openai_config.openai_api_key_plaintext.get_secret_value() == CANARY
