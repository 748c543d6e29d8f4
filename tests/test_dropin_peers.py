"""The peers' documented quickstarts with only the import swapped (issue 19): the
ChatDatabricks, langchain_community Databricks and LlamaIndex Databricks constructors, against
the loopback serving-endpoint stub; what reaches the wire is checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from extmodels_integrations import ConfigurationError
from extmodels_integrations.langchain import ChatExternal as ChatDatabricks
from extmodels_integrations.langchain import CompletionExternal as Databricks
from extmodels_integrations.llama_index import ChatExternal as LlamaDatabricks
from tests.support.openai_server import OpenAIStubServer


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        monkeypatch.setenv("DATABRICKS_HOST", server.base_url)
        monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-test")
        yield server


def test_chat_databricks_quickstart(stub: OpenAIStubServer) -> None:
    llm = ChatDatabricks(
        endpoint="databricks-meta-llama-3-1-70b-instruct",
        target_uri="databricks",
        temperature=0.1,
        max_tokens=250,
        extra_params={"top_p": 0.9},
    )
    llm.invoke("How are you?")
    request = stub.requests[-1]
    assert request.path == "/serving-endpoints/databricks-meta-llama-3-1-70b-instruct/invocations"
    assert (request.json["temperature"], request.json["max_tokens"]) == (0.1, 250)
    assert request.json["top_p"] == 0.9


def test_community_databricks_quickstart(stub: OpenAIStubServer) -> None:
    llm = Databricks(endpoint_name="dolly", model_kwargs={"temperature": 0.1, "top_p": 0.5})
    llm.invoke("How are you?")
    request = stub.requests[-1]
    assert request.path == "/serving-endpoints/dolly/invocations"
    assert (request.json["prompt"], request.json["top_p"]) == ("How are you?", 0.5)
    assert request.json["temperature"] == 0.1


def test_llama_index_databricks_quickstart(stub: OpenAIStubServer) -> None:
    llm = LlamaDatabricks(
        model="databricks-dbrx-instruct",
        api_key="your_api_key",
        api_base=f"{stub.base_url}/serving-endpoints",
    )
    llm.complete("Explain the importance of open source LLMs")
    request = stub.requests[-1]
    assert request.path == "/serving-endpoints/databricks-dbrx-instruct/invocations"
    assert request.headers["authorization"] == "Bearer your_api_key"


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("target_uri", "databricks://profile"),
        ("use_responses_api", True),
        ("transform_input_fn", str),
        ("cluster_id", "0123"),
    ],
)
def test_a_peer_keyword_without_meaning_here_raises(keyword: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=keyword):
        ChatDatabricks(endpoint="ep", host="https://h.example", token="t", **{keyword: value})


def test_api_base_must_be_the_serving_endpoints_url() -> None:
    with pytest.raises(ConfigurationError, match="api_base"):
        LlamaDatabricks(model="m", api_key="k", api_base="https://h.example/v1")


def test_databricks_embeddings_quickstart(stub: OpenAIStubServer) -> None:
    from extmodels_integrations.langchain import ExternalEmbeddings as DatabricksEmbeddings

    embeddings = DatabricksEmbeddings(
        endpoint="databricks-gte-large-en",
        query_params={"instruction": "q"},
        documents_params={"instruction": "d"},
    )
    embeddings.embed_query("Can you explain AI in ten words?")
    query = stub.requests[-1]
    embeddings.embed_documents(["a doc"])
    document = stub.requests[-1]
    assert query.path == "/serving-endpoints/databricks-gte-large-en/invocations"
    assert (query.json["instruction"], document.json["instruction"]) == ("q", "d")
    assert query.json["input"] == ["Can you explain AI in ten words?"]


def test_llama_index_databricks_embedding_quickstart(stub: OpenAIStubServer) -> None:
    from extmodels_integrations.llama_index import ExternalEmbeddings as DatabricksEmbedding

    embed_model = DatabricksEmbedding(
        model="databricks-bge-large-en",
        api_key="<MY TOKEN>",
        endpoint=f"{stub.base_url}/serving-endpoints",
    )
    embed_model.get_text_embedding("The DatabricksEmbedding integration works great.")
    request = stub.requests[-1]
    assert request.path == "/serving-endpoints/databricks-bge-large-en/invocations"
    assert request.json["input"] == ["The DatabricksEmbedding integration works great."]
