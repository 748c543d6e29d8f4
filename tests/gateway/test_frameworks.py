"""LangChain and LlamaIndex RAG over a running gateway: the classes reach it with ``endpoint=``
and the gateway as host, exactly as they would reach a workspace, and every call they make is a
usage row under the gateway user, with no provider key on the client side."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extmodels_integrations.gateway._app import Settings
from tests.gateway._inprocess import serve, stub_body
from tests.support.openai_server import OpenAIStubServer

TOKEN = "gw-frameworks-token-carol"
PROVIDER_KEY = "sk-providerCANARY-frameworks-3307"
CORPUS = [
    "Refunds are accepted within 30 days of purchase when the receipt is shown.",
    "Support is open on weekdays from 9 to 17 Central European Time.",
    "Shipping to Norway takes five working days with the standard carrier.",
]


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)
    # The clients get only the gateway token: nothing of the provider's.
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    with OpenAIStubServer() as stub:
        configs = []
        for name, task in (("rag-chat", "llm/v1/chat"), ("rag-emb", "llm/v1/embeddings")):
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(stub_body(name, stub.base_url, task)))
            configs.append(str(path))
        tokens = tmp_path / "tokens.json"
        tokens.write_text(json.dumps({"tokens": [{"token": TOKEN, "user": "carol"}]}))
        settings = Settings(tuple(configs), str(tokens), f"sqlite:///{tmp_path}/u.db")
        with serve(settings) as running:
            yield running


def _rows(gw: Any) -> list[Any]:
    rows: list[Any] = asyncio.run(gw.store.usage())
    assert all(r.requester == "carol" and r.status == 200 for r in rows)
    assert PROVIDER_KEY not in repr(rows) and TOKEN not in repr(rows)
    return rows


def test_langchain_rag_chain_over_the_gateway(gateway: tuple[str, Any]) -> None:
    host, gw = gateway
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough
    from langchain_core.vectorstores import InMemoryVectorStore

    from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

    embeddings = ExternalEmbeddings(endpoint="rag-emb", host=host, token=TOKEN)
    store = InMemoryVectorStore.from_texts(CORPUS, embedding=embeddings)
    retriever = store.as_retriever(search_kwargs={"k": 2})
    prompt = ChatPromptTemplate.from_template("Context: {context}\n\nQuestion: {question}")
    llm = ChatExternal(endpoint="rag-chat", host=host, token=TOKEN)
    chain = (
        {
            "context": retriever | (lambda docs: " ".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | llm
        | StrOutputParser()
    )
    streamed = "".join(chain.stream("How long do I have to return an item?"))
    assert streamed.startswith("Stub reply to: Context:")
    rows = _rows(gw)
    assert [r.endpoint for r in rows] == ["rag-emb", "rag-emb", "rag-chat"]
    assert rows[-1].streamed and rows[-1].output_tokens


def test_llama_index_streaming_query_engine_over_the_gateway(gateway: tuple[str, Any]) -> None:
    host, gw = gateway
    from llama_index.core import Document, VectorStoreIndex

    from extmodels_integrations.llama_index import ChatExternal, ExternalEmbeddings

    index = VectorStoreIndex.from_documents(
        [Document(text=t) for t in CORPUS],
        embed_model=ExternalEmbeddings(endpoint="rag-emb", host=host, token=TOKEN),
    )
    llm = ChatExternal(endpoint="rag-chat", host=host, token=TOKEN)
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = engine.query("When is support open?")
    answer = "".join(response.response_gen)  # type: ignore[union-attr]
    sources = [n.node.get_content() for n in response.source_nodes]
    assert answer.startswith("Stub reply to: Context information is below.")
    assert len(sources) == 2 and set(sources) <= set(CORPUS)
    endpoints = [r.endpoint for r in _rows(gw)]
    assert endpoints[-1] == "rag-chat" and set(endpoints[:-1]) == {"rag-emb"}
