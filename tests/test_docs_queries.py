"""The query and response formats of the external-model docs ("Query generative AI models",
/work/shared/seeds/004), verbatim: each request body goes through the gateway with the MLflow
Deployments client the docs use, arrives at the provider with every parameter in place
(the nested ``extra_params`` object as parameters, not as one unknown field), and the answer
has every field of the documented response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from extmodels_integrations import (
    ChatRequest,
    CompletionChoice,
    CompletionRequest,
    ConfigurationError,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ExternalClient,
)
from tests.gateway.test_gateway_clients import PROVIDER_KEY, TOKEN, _serve
from tests.support.harness import sse
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


# -- the documented answers parse back with nothing dropped ---------------------------------
# Served verbatim (httpx.MockTransport) to the core client, sync and async, plain and streamed,
# and through the LangChain and LlamaIndex classes: every documented field has its value in
# the unified result (``object``, ``created`` and each choice's ``role`` included).

CHAT_ANSWER_WITH_ROLES = {  # the custom-provider docs' chat answer (seed 001), one "human" turn
    "id": "123",
    "model": "test_chat_model",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "\n\nHello there, how may I assist you today?",
            },
            "finish_reason": "stop",
        },
        {
            "index": 1,
            "message": {"role": "human", "content": "\n\nWhat is the weather in San Francisco?"},
            "finish_reason": "stop",
        },
    ],
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}
COMPLETION_ANSWER_N2 = {  # seed 000: n=2 against gpt-3.5-turbo-instruct
    "id": "cmpl-8QW0hdtUesKmhB3a1Vel6X25j2MDJ",
    "object": "text_completion",
    "created": 1701330267,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [
        {
            "text": "The capital of France is Paris.",
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
        },
        {
            "text": "Paris is the capital of France",
            "index": 1,
            "finish_reason": "stop",
            "logprobs": None,
        },
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 16, "total_tokens": 23},
}
EMBEDDINGS_ANSWER_FULL = {
    **EMBEDDINGS_ANSWER,
    "data": [{**EMBEDDINGS_ANSWER["data"][0], "embedding": [0.0023064255, -0.009327292]}],
}


def _target(answer: Any, task: str, opened: list[Any]) -> dict[str, Any]:
    """Constructor keywords of a target whose provider answers ``answer`` verbatim."""

    def provider(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("stream"):
            return _streamed(answer)
        return httpx.Response(200, json=answer)

    mock = httpx.MockTransport(provider)
    pair = (httpx.Client(transport=mock), httpx.AsyncClient(transport=mock))
    opened.append(pair)
    model = {
        "name": answer.get("model") or "m",
        "provider": "openai",
        "task": task,
        "openai_config": {"openai_api_key_plaintext": "sk-docs"},
    }
    return {
        "external_model": model,
        "http_client": pair[0],
        "http_async_client": pair[1],
        "max_retries": 0,
    }


def _client(answer: Any, task: str, opened: list[Any]) -> ExternalClient:
    return ExternalClient(**_target(answer, task, opened))


def _streamed(answer: dict[str, Any]) -> httpx.Response:
    """The answer as OpenAI streams it: one chunk per choice, then usage, then [DONE]."""
    chat = answer.get("object", "chat.completion") == "chat.completion"
    head = {k: answer[k] for k in ("id", "model", "created") if k in answer}
    head["object"] = "chat.completion.chunk" if chat else answer["object"]
    events: list[Any] = []
    for choice in answer["choices"]:
        part = {k: v for k, v in choice.items() if k != "message"}
        if chat:
            part["delta"] = choice["message"]
        events.append({**head, "choices": [part]})
    events += [{**head, "choices": [], "usage": answer["usage"]}, "[DONE]"]
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*events))


def _as_documented(result: Any) -> dict[str, Any]:
    """A unified result written back in the documented format."""
    out = {k: getattr(result, k, None) for k in ("id", "model", "object", "created")}
    if isinstance(result, EmbeddingsResponse):
        out["data"] = [
            {"object": "embedding", "index": i, "embedding": v}
            for i, v in enumerate(result.embeddings)
        ]
    else:
        out["choices"] = [_choice(c) for c in result.choices]
    if result.usage is not None:
        out["usage"] = {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.total_tokens,
        }
    return out


def _choice(choice: Any) -> dict[str, Any]:
    out = {"index": choice.index, "finish_reason": choice.finish_reason}
    if isinstance(choice, CompletionChoice):
        return {**out, "text": choice.text, "logprobs": choice.logprobs}
    return {**out, "message": {"role": choice.role, "content": choice.content}}


def _kept(answer: Any, documented: Any, where: str = "") -> None:
    """Every documented value is in ``answer``, equal (a documented ``{}`` message and
    ``null`` id stand for "whatever the model said": only their presence is checked)."""
    if isinstance(documented, dict):
        for key, value in documented.items():
            assert key in answer, f"{where}.{key} dropped"
            if value != {}:
                _kept(answer[key], value, f"{where}.{key}")
    elif isinstance(documented, list) and documented and isinstance(documented[0], dict):
        assert len(answer) == len(documented), where
        for i, (got, want) in enumerate(zip(answer, documented, strict=True)):
            _kept(got, want, f"{where}[{i}]")
    else:
        assert answer == documented, f"{where}: {answer!r} != {documented!r}"


def _joined(chunks: list[Any]) -> dict[str, Any]:
    """A stream's chunks folded into the documented shape."""
    first = chunks[0]
    out = {k: getattr(first, k) for k in ("id", "model", "created")}
    out["object"] = first.object
    by_index: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for c in chunk.choices:
            seen = by_index.setdefault(c.index, {"index": c.index})
            if isinstance(c, CompletionChoice):
                seen["text"] = seen.get("text", "") + c.text
                seen["logprobs"] = c.logprobs
            else:
                message = seen.setdefault("message", {"content": ""})
                message["role"] = c.role or message.get("role")
                message["content"] += c.content or ""
            seen["finish_reason"] = c.finish_reason or seen.get("finish_reason")
    out["choices"] = [by_index[i] for i in sorted(by_index)]
    [usage] = [c.usage for c in chunks if c.usage is not None]
    out["usage"] = {k: getattr(usage, k) for k in ("prompt_tokens", "total_tokens")}
    return out


DOCUMENTED = [
    pytest.param(CHAT_ANSWER, "llm/v1/chat", id="chat"),
    pytest.param(CHAT_ANSWER_WITH_ROLES, "llm/v1/chat", id="chat-roles"),
    pytest.param(COMPLETION_ANSWER, "llm/v1/completions", id="completions"),
    pytest.param(COMPLETION_ANSWER_N2, "llm/v1/completions", id="completions-n2"),
    pytest.param(EMBEDDINGS_ANSWER_FULL, "llm/v1/embeddings", id="embeddings"),
]


def _call(client: ExternalClient, task: str) -> Any:
    if task == "llm/v1/chat":
        return client.chat(messages=[{"role": "user", "content": "Hello!"}])
    if task == "llm/v1/completions":
        return client.complete(prompt="What is mlflow?")
    return client.embed(["embedding text"])


async def _acall(client: ExternalClient, task: str) -> Any:
    if task == "llm/v1/chat":
        return await client.achat(messages=[{"role": "user", "content": "Hello!"}])
    if task == "llm/v1/completions":
        return await client.acomplete(prompt="What is mlflow?")
    return await client.aembed(["embedding text"])


@pytest.mark.parametrize(("documented", "task"), DOCUMENTED)
def test_each_documented_answer_parses_back_whole(documented: Any, task: str) -> None:
    opened: list[Any] = []
    client = _client(documented, task, opened)
    _kept(_as_documented(_call(client, task)), documented)
    _kept(_as_documented(asyncio.run(_acall(client, task))), documented)


@pytest.mark.parametrize(("documented", "task"), DOCUMENTED[:4])
def test_each_documented_answer_streams_back_whole(documented: Any, task: str) -> None:
    opened: list[Any] = []
    client = _client(documented, task, opened)
    message = [{"role": "user", "content": "Hello!"}]
    if task == "llm/v1/chat":
        chunks = list(client.stream_chat(messages=message))
    else:
        chunks = list(client.stream_complete(prompt="What is mlflow?"))
    want = {k: v for k, v in documented.items() if k != "object"}
    want["usage"] = {k: documented["usage"][k] for k in ("prompt_tokens", "total_tokens")}
    _kept(_joined(chunks), want)
    streamed = "chat.completion.chunk" if task == "llm/v1/chat" else "text_completion"
    assert all(c.object == streamed for c in chunks)

    async def drain() -> list[Any]:
        if task == "llm/v1/chat":
            return [c async for c in client.astream_chat(messages=message)]
        return [c async for c in client.astream_complete(prompt="What is mlflow?")]

    _kept(_joined(asyncio.run(drain())), want)


def test_langchain_response_metadata_has_object_and_created() -> None:
    from extmodels_integrations.langchain import ChatExternal, CompletionExternal

    opened: list[Any] = []
    answer = {**CHAT_ANSWER_WITH_ROLES, "object": "chat.completion", "created": 1698824353}
    chat = ChatExternal(**_target(answer, "llm/v1/chat", opened))
    meta = chat.invoke("Hello!").response_metadata
    assert (meta["object"], meta["created"], meta["id"]) == ("chat.completion", 1698824353, "123")
    last = list(chat.stream("Hello!"))[-1].response_metadata
    assert (last["object"], last["created"]) == ("chat.completion.chunk", 1698824353)
    llm = CompletionExternal(**_target(COMPLETION_ANSWER_N2, "llm/v1/completions", opened), n=2)
    info = llm.generate(["What is the capital of France?"]).generations[0][0].generation_info
    assert info is not None and (info["object"], info["created"]) == ("text_completion", 1701330267)
    last_info = list(llm._stream("What is the capital of France?", n=1))[-1].generation_info
    assert last_info is not None and last_info["created"] == 1701330267


def test_llama_index_raw_has_object_created_and_roles() -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from extmodels_integrations.llama_index import ChatExternal, CompletionExternal

    opened: list[Any] = []
    answer = {**CHAT_ANSWER_WITH_ROLES, "object": "chat.completion", "created": 1698824353}
    llm = ChatExternal(**_target(answer, "llm/v1/chat", opened))
    raw = llm.chat([ChatMessage(role="user", content="Hello!")]).raw
    assert raw is not None and (raw["object"], raw["created"]) == ("chat.completion", 1698824353)
    assert [c["role"] for c in raw["choices"]] == ["assistant", "human"]
    *_, last = llm.stream_chat([ChatMessage(role="user", content="Hello!")])
    assert last.raw is not None and last.raw["created"] == 1698824353
    completion = CompletionExternal(**_target(COMPLETION_ANSWER, "llm/v1/completions", opened))
    raw = completion.complete("What is mlflow?").raw
    assert raw is not None and (raw["object"], raw["created"]) == ("text_completion", 1698809382)
