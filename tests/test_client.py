"""``ExternalClient`` end to end against the loopback stub server (and a few canned transports).

Every client here talks to ``127.0.0.1`` or to an ``httpx.MockTransport``; nothing leaves the
machine. The same cases run against both target kinds the client offers today: a serving
endpoint (``endpoint=``) and an ``openai`` ``external_model`` block pointed at the stub.
``tests/conftest.py`` clears ``DATABRICKS_*`` and ``EXTMODELS_SECRET__*`` for every test.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from extmodels_integrations import (
    ChatChunk,
    CompletionChunk,
    ConfigurationError,
    ExternalClient,
)
from tests.support.openai_server import OpenAIStubServer, RecordedRequest

CHAT = "llm/v1/chat"
COMPLETIONS = "llm/v1/completions"
EMBEDDINGS = "llm/v1/embeddings"
TOKEN = "test-token"
API_KEY = "sk-test-key"
MESSAGES = [{"role": "user", "content": "Tell me about the sea"}]
PROMPT = "Once upon a time"
REFERENCE = "{{secrets/my-scope/openai.key}}"
REFERENCE_ENV = "EXTMODELS_SECRET__MY_SCOPE__OPENAI_KEY"

Mode = str  # "sync" | "async"
T = TypeVar("T")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plain_server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        yield server


@pytest.fixture(scope="module")
def quirks_server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(quirks=True) as server:
        yield server


@pytest.fixture
def server(plain_server: OpenAIStubServer) -> OpenAIStubServer:
    plain_server.reset()
    return plain_server


@pytest.fixture(params=[False, True], ids=["plain", "quirks"])
def any_server(
    request: pytest.FixtureRequest,
    plain_server: OpenAIStubServer,
    quirks_server: OpenAIStubServer,
) -> OpenAIStubServer:
    chosen = quirks_server if request.param else plain_server
    chosen.reset()
    return chosen


def openai_block(base_url: str, task: str, **config: Any) -> dict[str, Any]:
    return {
        "name": "stub-model",
        "provider": "openai",
        "task": task,
        "openai_config": {
            "openai_api_key_plaintext": API_KEY,
            "openai_api_base": f"{base_url}/v1",
            **config,
        },
    }


@pytest.fixture
def make_client() -> Iterator[Callable[..., ExternalClient]]:
    """Build clients for ``target`` ("endpoint" or "openai"); all are closed afterwards."""
    made: list[ExternalClient] = []

    def make(
        server: OpenAIStubServer, target: str = "endpoint", task: str = CHAT, **options: Any
    ) -> ExternalClient:
        if target == "endpoint":
            client = ExternalClient(
                endpoint="stub-ep", host=server.base_url, token=TOKEN, **options
            )
        else:
            client = ExternalClient(external_model=openai_block(server.base_url, task), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


TARGETS = pytest.mark.parametrize("target", ["endpoint", "openai"])
MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def _run(client: ExternalClient, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` in a fresh event loop, closing that loop's HTTP pool before it ends."""

    async def main() -> T:
        try:
            return await work
        finally:
            await client.aclose()

    return asyncio.run(main())


def _stream_chat(client: ExternalClient, mode: Mode, **fields: Any) -> list[ChatChunk]:
    if mode == "sync":
        return list(client.stream_chat(**fields))

    async def collect() -> list[ChatChunk]:
        return [chunk async for chunk in client.astream_chat(**fields)]

    return _run(client, collect())


def _stream_complete(client: ExternalClient, mode: Mode, **fields: Any) -> list[CompletionChunk]:
    if mode == "sync":
        return list(client.stream_complete(**fields))

    async def collect() -> list[CompletionChunk]:
        return [chunk async for chunk in client.astream_complete(**fields)]

    return _run(client, collect())


def _chat_text(chunks: list[ChatChunk]) -> str:
    return "".join(c.content or "" for chunk in chunks for c in chunk.choices)


def _last(server: OpenAIStubServer) -> RecordedRequest:
    assert server.requests, "the server received no request"
    return server.requests[-1]


# --------------------------------------------------------------------------- chat


@TARGETS
def test_chat_returns_unified_response(server, make_client, target) -> None:
    client = make_client(server, target)
    response = client.chat(messages=MESSAGES, temperature=0.2, max_tokens=50)

    assert len(response.choices) == 1
    choice = response.choices[0]
    assert choice.content is not None
    assert choice.content.startswith("Stub reply to: Tell me about the sea")
    assert choice.finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.total_tokens == (
        response.usage.prompt_tokens + response.usage.completion_tokens
    )
    assert response.usage.completion_tokens > 0
    sent = _last(server)
    assert sent.json["messages"] == MESSAGES
    assert (sent.json["temperature"], sent.json["max_tokens"]) == (0.2, 50)
    assert "stream" not in sent.json
    if target == "endpoint":
        assert sent.path == "/serving-endpoints/stub-ep/invocations"
        assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    else:
        assert sent.path == "/v1/chat/completions"
        assert sent.json["model"] == "stub-model"
        assert sent.headers["authorization"] == f"Bearer {API_KEY}"


@TARGETS
async def test_achat_matches_chat(server, make_client, target) -> None:
    client = make_client(server, target)
    sync_response = await asyncio.to_thread(client.chat, messages=MESSAGES)
    async_response = await client.achat(messages=MESSAGES)

    assert async_response.choices == sync_response.choices
    assert async_response.usage == sync_response.usage
    assert [r.json for r in server.requests] == [server.requests[0].json] * 2


@TARGETS
def test_chat_n_returns_n_choices_with_usage_counted_once(server, make_client, target) -> None:
    client = make_client(server, target)
    single = client.chat(messages=MESSAGES)
    response = client.chat(messages=MESSAGES, n=3)

    assert [c.index for c in response.choices] == [0, 1, 2]
    assert len({c.content for c in response.choices}) == 3
    assert _last(server).json["n"] == 3
    assert response.usage is not None and single.usage is not None
    # One response-level usage object: the prompt counted once, the completions of all choices.
    assert response.usage.prompt_tokens == single.usage.prompt_tokens
    words = sum(len((c.content or "").split()) for c in response.choices)
    assert response.usage.completion_tokens == words


@TARGETS
@MODES
def test_stream_chat_text_equals_plain_text(server, make_client, target, mode) -> None:
    client = make_client(server, target)
    plain = client.chat(messages=MESSAGES)
    chunks = _stream_chat(client, mode, messages=MESSAGES)

    assert _chat_text(chunks) == plain.choices[0].content
    assert len(chunks) > 3, "the stub streams word by word"
    finish = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finish == ["stop"]
    sent = _last(server).json
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


@TARGETS
@MODES
def test_stream_chat_reports_usage_exactly_once_on_last_chunk(
    any_server, make_client, target, mode
) -> None:
    client = make_client(any_server, target)
    plain = client.chat(messages=MESSAGES)
    chunks = _stream_chat(client, mode, messages=MESSAGES)

    with_usage = [i for i, chunk in enumerate(chunks) if chunk.usage is not None]
    assert with_usage == [len(chunks) - 1]
    assert chunks[-1].usage == plain.usage


@TARGETS
@MODES
def test_stream_complete_reports_usage_exactly_once_on_last_chunk(
    any_server, make_client, target, mode
) -> None:
    client = make_client(any_server, target, COMPLETIONS)
    plain = client.complete(prompt=PROMPT)
    chunks = _stream_complete(client, mode, prompt=PROMPT)

    with_usage = [i for i, chunk in enumerate(chunks) if chunk.usage is not None]
    assert with_usage == [len(chunks) - 1]
    assert chunks[-1].usage == plain.usage


@MODES
def test_stream_without_usage_from_server_yields_no_usage_chunk(server, make_client, mode) -> None:
    client = make_client(server, stream_usage=False)
    chunks = _stream_chat(client, mode, messages=MESSAGES)

    assert "stream_options" not in _last(server).json
    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices and chunks[-1].choices[0].finish_reason == "stop"
    assert _chat_text(chunks).startswith("Stub reply to:")


@MODES
def test_stream_usage_repeated_on_every_chunk_is_reported_once(
    quirks_server, make_client, mode
) -> None:
    """Serving endpoints fronting other providers send cumulative usage on every chunk."""
    quirks_server.reset()
    client = make_client(quirks_server, stream_usage=False)
    plain = client.chat(messages=MESSAGES)
    chunks = _stream_chat(client, mode, messages=MESSAGES)

    assert "stream_options" not in _last(quirks_server).json
    with_usage = [i for i, chunk in enumerate(chunks) if chunk.usage is not None]
    assert with_usage == [len(chunks) - 1]
    assert chunks[-1].usage == plain.usage


# --------------------------------------------------------------------------- completions


@TARGETS
def test_complete_returns_unified_response(server, make_client, target) -> None:
    client = make_client(server, target, COMPLETIONS)
    response = client.complete(prompt=PROMPT, max_tokens=100, stop=["zzz"])

    assert [c.index for c in response.choices] == [0]
    assert response.choices[0].text.startswith(f"Stub reply to: {PROMPT}")
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.prompt_tokens == 4
    sent = _last(server).json
    assert (sent["prompt"], sent["max_tokens"], sent["stop"]) == (PROMPT, 100, ["zzz"])


@TARGETS
async def test_acomplete_matches_complete(server, make_client, target) -> None:
    client = make_client(server, target, COMPLETIONS)
    sync_response = await asyncio.to_thread(client.complete, prompt=PROMPT)
    async_response = await client.acomplete(prompt=PROMPT)

    assert async_response.choices == sync_response.choices
    assert async_response.usage == sync_response.usage


def test_complete_several_prompts_with_n(server, make_client) -> None:
    client = make_client(server, task=COMPLETIONS)
    response = client.complete(prompt=["first prompt", "second prompt"], n=2)

    texts = {c.index: c.text for c in response.choices}
    assert sorted(texts) == [0, 1, 2, 3]  # prompt_index * n + j
    assert texts[0].startswith("Stub reply to: first prompt")
    assert texts[1].startswith("Stub reply to: first prompt") and texts[1] != texts[0]
    assert texts[2].startswith("Stub reply to: second prompt")
    assert texts[3].startswith("Stub reply to: second prompt") and texts[3] != texts[2]
    assert len(server.requests) == 1


@TARGETS
@MODES
def test_stream_complete_text_equals_plain_text(server, make_client, target, mode) -> None:
    client = make_client(server, target, COMPLETIONS)
    plain = client.complete(prompt=PROMPT)
    chunks = _stream_complete(client, mode, prompt=PROMPT)

    assert "".join(c.text for chunk in chunks for c in chunk.choices) == plain.choices[0].text
    assert _last(server).json["stream"] is True


# --------------------------------------------------------------------------- embeddings


@TARGETS
def test_embed_batches_preserve_order_and_sum_usage(server, make_client, target) -> None:
    client = make_client(server, target, EMBEDDINGS)
    texts = [f"text number {i}" + " word" * i for i in range(7)]
    whole = client.embed(texts)  # one request
    server.reset()

    batched = client.embed(texts, batch_size=2)

    assert [r.json["input"] for r in server.requests] == [
        texts[0:2],
        texts[2:4],
        texts[4:6],
        texts[6:7],
    ]
    assert batched.embeddings == whole.embeddings
    assert batched.usage is not None and whole.usage is not None
    assert batched.usage.prompt_tokens == whole.usage.prompt_tokens
    assert batched.usage.total_tokens == whole.usage.total_tokens


@TARGETS
async def test_aembed_batches_preserve_order_and_sum_usage(server, make_client, target) -> None:
    client = make_client(server, target, EMBEDDINGS)
    texts = [f"text number {i}" + " word" * i for i in range(7)]
    whole = await client.aembed(texts)
    server.reset()

    batched = await client.aembed(texts, batch_size=2)

    assert len(server.requests) == 4
    assert sorted(len(r.json["input"]) for r in server.requests) == [1, 2, 2, 2]
    assert batched.embeddings == whole.embeddings
    assert batched.usage is not None and whole.usage is not None
    assert batched.usage.prompt_tokens == whole.usage.prompt_tokens


def _embedding_body(texts: list[str]) -> dict[str, Any]:
    """An embeddings response whose vectors encode their input (``"7"`` -> ``[7.0]``)."""
    return {
        "object": "list",
        "model": "m",
        "data": [
            {"object": "embedding", "index": i, "embedding": [float(t)]}
            for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
    }


@pytest.mark.parametrize("max_concurrency", [1, 3])
async def test_aembed_sends_batches_concurrently_up_to_max_concurrency(max_concurrency) -> None:
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return httpx.Response(200, json=_embedding_body(json.loads(request.content)["input"]))

    texts = [str(i) for i in range(10)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = ExternalClient(
            endpoint="emb",
            host="https://workspace.test",
            token=TOKEN,
            max_concurrency=max_concurrency,
            http_async_client=http,
        )
        result = await client.aembed(texts, batch_size=1)

    assert peak == max_concurrency
    assert [vector[0] for vector in result.embeddings] == [float(t) for t in texts]
    assert result.usage is not None and result.usage.prompt_tokens == 10


@MODES
def test_embed_empty_input_sends_no_request(server, make_client, mode) -> None:
    client = make_client(server, task=EMBEDDINGS)
    result = client.embed([]) if mode == "sync" else _run(client, client.aembed([]))

    assert result.embeddings == []
    assert server.requests == []


@MODES
def test_embed_takes_a_single_string_as_one_text(server, make_client, mode) -> None:
    # The unified schema's input is a string or a list of strings (the docs' examples use both).
    client = make_client(server, task=EMBEDDINGS)
    result = client.embed("one text") if mode == "sync" else _run(client, client.aembed("one text"))

    assert len(result.embeddings) == 1
    assert server.last_json()["input"] == ["one text"]


@MODES
def test_embed_non_string_input_names_the_index(server, make_client, mode) -> None:
    client = make_client(server, task=EMBEDDINGS)
    texts: list[Any] = ["fine", "also fine", [101, 102]]
    with pytest.raises(TypeError, match=r"texts\[2\]"):
        client.embed(texts) if mode == "sync" else _run(client, client.aembed(texts))
    assert server.requests == []


# --------------------------------------------------------------------------- targets and config


def test_exactly_one_target_is_required(server) -> None:
    with pytest.raises(ConfigurationError, match="exactly one target"):
        ExternalClient(host=server.base_url, token=TOKEN)
    with pytest.raises(ConfigurationError, match="exactly one target"):
        ExternalClient(
            endpoint="ep",
            host=server.base_url,
            token=TOKEN,
            external_model=openai_block(server.base_url, CHAT),
        )


def test_host_and_token_default_from_environment(server, monkeypatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", server.base_url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "token-from-env")
    with ExternalClient(endpoint="env-ep") as client:
        client.chat(messages=MESSAGES)

    sent = _last(server)
    assert sent.path == "/serving-endpoints/env-ep/invocations"
    assert sent.headers["authorization"] == "Bearer token-from-env"


def test_explicit_host_and_token_beat_environment(server, monkeypatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", "https://elsewhere.invalid")
    monkeypatch.setenv("DATABRICKS_TOKEN", "token-from-env")
    with ExternalClient(endpoint="ep", host=server.base_url, token="explicit") as client:
        client.chat(messages=MESSAGES)

    assert _last(server).headers["authorization"] == "Bearer explicit"


def test_missing_host_error_names_host_and_env_var() -> None:
    with pytest.raises(ConfigurationError) as info:
        ExternalClient(endpoint="ep", token=TOKEN)
    assert "host" in str(info.value)
    assert "DATABRICKS_HOST" in str(info.value)


def test_missing_token_error_names_token_and_env_var(server) -> None:
    with pytest.raises(ConfigurationError) as info:
        ExternalClient(endpoint="ep", host=server.base_url)
    assert "token" in str(info.value)
    assert "DATABRICKS_TOKEN" in str(info.value)


@pytest.mark.parametrize(
    ("task", "call", "needed", "use"),
    [
        (COMPLETIONS, "chat", "ChatExternal", "CompletionExternal"),
        (CHAT, "complete", "CompletionExternal", "ChatExternal"),
        (CHAT, "embed", "ExternalEmbeddings", "ChatExternal"),
    ],
)
def test_task_mismatch_names_the_field_and_the_right_class(server, task, call, needed, use) -> None:
    client = ExternalClient(external_model=openai_block(server.base_url, task))
    arguments = {
        "chat": {"messages": MESSAGES},
        "complete": {"prompt": PROMPT},
        "embed": {"texts": ["x"]},
    }[call]
    with pytest.raises(ConfigurationError) as info:
        getattr(client, call)(**arguments)

    message = str(info.value)
    assert "external_model.task" in message
    assert f"{needed} needs" in message
    assert f"use {use}" in message
    assert server.requests == []


# --------------------------------------------------------------------------- secrets


def _reference_client(server: OpenAIStubServer, **options: Any) -> ExternalClient:
    block = openai_block(server.base_url, CHAT)
    del block["openai_config"]["openai_api_key_plaintext"]
    block["openai_config"]["openai_api_key"] = REFERENCE
    return ExternalClient(external_model=block, **options)


def test_secret_reference_resolved_from_env_var(server, monkeypatch) -> None:
    monkeypatch.setenv(REFERENCE_ENV, "sk-from-env-var")
    with _reference_client(server) as client:
        client.chat(messages=MESSAGES)

    assert _last(server).headers["authorization"] == "Bearer sk-from-env-var"


def test_secret_reference_resolved_by_secret_resolver(server, monkeypatch) -> None:
    monkeypatch.setenv(REFERENCE_ENV, "sk-from-env-var")  # the user resolver comes first
    asked: list[tuple[str, str]] = []

    def resolver(scope: str, key: str) -> str:
        asked.append((scope, key))
        return "sk-from-resolver"

    with _reference_client(server, secret_resolver=resolver) as client:
        client.chat(messages=MESSAGES)
        client.chat(messages=MESSAGES)

    assert asked == [("my-scope", "openai.key")]  # resolved once, then cached
    assert {r.headers["authorization"] for r in server.requests} == {"Bearer sk-from-resolver"}


def test_unresolvable_reference_fails_at_first_call_naming_it(server) -> None:
    client = _reference_client(server)  # constructing does not resolve secrets
    with pytest.raises(ConfigurationError) as info:
        client.chat(messages=MESSAGES)

    message = str(info.value)
    assert REFERENCE in message
    assert REFERENCE_ENV in message
    assert "secret_resolver" in message
    assert server.requests == []


async def test_unresolvable_reference_fails_at_first_async_call(server) -> None:
    client = _reference_client(server)
    with pytest.raises(ConfigurationError, match=REFERENCE_ENV):
        await client.achat(messages=MESSAGES)
    assert server.requests == []


class _Workspace:
    """A workspace secrets API plus an OpenAI-compatible chat route, on a MockTransport."""

    def __init__(self, secrets: dict[tuple[str, str], str]) -> None:
        self.secrets = secrets
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/api/2.0/secrets/get":
            wanted = (request.url.params["scope"], request.url.params["key"])
            if wanted not in self.secrets:
                return httpx.Response(
                    404, json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no secret"}
                )
            value = base64.b64encode(self.secrets[wanted].encode()).decode()
            return httpx.Response(200, json={"key": wanted[1], "value": value})
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "stub-model",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "ok"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


def _workspace_client(http: httpx.Client, ahttp: httpx.AsyncClient | None = None) -> ExternalClient:
    block = openai_block("https://api.provider.test", CHAT)
    del block["openai_config"]["openai_api_key_plaintext"]
    block["openai_config"]["openai_api_key"] = REFERENCE
    return ExternalClient(
        external_model=block,
        host="https://workspace.test",
        token="ws-token",
        http_client=http,
        http_async_client=ahttp,
    )


def test_secret_reference_resolved_through_workspace_secrets_api() -> None:
    workspace = _Workspace({("my-scope", "openai.key"): "sk-from-workspace"})
    with httpx.Client(transport=httpx.MockTransport(workspace)) as http:
        client = _workspace_client(http)
        assert client.chat(messages=MESSAGES).choices[0].content == "ok"
        client.chat(messages=MESSAGES)

    lookup, call, again = workspace.seen
    assert lookup.method == "GET"
    assert str(lookup.url).startswith("https://workspace.test/api/2.0/secrets/get?")
    assert dict(lookup.url.params) == {"scope": "my-scope", "key": "openai.key"}
    assert lookup.headers["authorization"] == "Bearer ws-token"
    assert str(call.url) == "https://api.provider.test/v1/chat/completions"
    assert call.headers["authorization"] == "Bearer sk-from-workspace"
    assert again.headers["authorization"] == "Bearer sk-from-workspace"  # no second lookup


async def test_secret_reference_resolved_through_workspace_api_from_async_call() -> None:
    workspace = _Workspace({("my-scope", "openai.key"): "sk-from-workspace"})
    with httpx.Client(transport=httpx.MockTransport(workspace)) as http:
        async with httpx.AsyncClient(transport=httpx.MockTransport(workspace)) as ahttp:
            client = _workspace_client(http, ahttp)
            response = await client.achat(messages=MESSAGES)

    assert response.choices[0].content == "ok"
    assert [r.url.path for r in workspace.seen] == ["/api/2.0/secrets/get", "/v1/chat/completions"]
    assert workspace.seen[1].headers["authorization"] == "Bearer sk-from-workspace"


def test_secret_missing_from_workspace_names_reference() -> None:
    workspace = _Workspace({})
    with httpx.Client(transport=httpx.MockTransport(workspace)) as http:
        client = _workspace_client(http)
        with pytest.raises(ConfigurationError) as info:
            client.chat(messages=MESSAGES)

    assert REFERENCE in str(info.value)
    assert "workspace secrets API" in str(info.value)
    assert [r.url.path for r in workspace.seen] == ["/api/2.0/secrets/get"]


# --------------------------------------------------------------------------- lifecycle


def test_async_calls_work_across_separate_event_loops(server, make_client) -> None:
    client = make_client(server)
    first = asyncio.run(client.achat(messages=MESSAGES))
    second = asyncio.run(client.achat(messages=MESSAGES))

    async def stream() -> str:
        return _chat_text([chunk async for chunk in client.astream_chat(messages=MESSAGES)])

    streamed = asyncio.run(stream())
    assert first.choices == second.choices
    assert streamed == first.choices[0].content
    assert len(server.requests) == 3


def test_close_closes_the_clients_it_created(server) -> None:
    client = ExternalClient(endpoint="ep", host=server.base_url, token=TOKEN)
    client.chat(messages=MESSAGES)
    http = client.transport.client
    assert not http.is_closed

    client.close()
    assert http.is_closed
    # Still usable: a new pool is created on demand.
    assert client.chat(messages=MESSAGES).choices
    client.close()


async def test_aclose_closes_the_async_client_of_the_running_loop(server) -> None:
    client = ExternalClient(endpoint="ep", host=server.base_url, token=TOKEN)
    await client.achat(messages=MESSAGES)
    http = client.transport.async_client
    assert not http.is_closed

    await client.aclose()
    assert http.is_closed


async def test_async_context_manager_closes(server) -> None:
    async with ExternalClient(endpoint="ep", host=server.base_url, token=TOKEN) as client:
        await client.achat(messages=MESSAGES)
        http = client.transport.async_client
    assert http.is_closed


def test_injected_http_client_is_not_closed(server) -> None:
    with httpx.Client() as http:
        with ExternalClient(
            endpoint="ep", host=server.base_url, token=TOKEN, http_client=http
        ) as client:
            client.chat(messages=MESSAGES)
        assert not http.is_closed


def test_a_list_passed_positionally_names_the_keyword() -> None:
    client = ExternalClient(endpoint="e", host="http://127.0.0.1:9", token="t")
    with pytest.raises(TypeError, match=r"chat\(messages=\[\.\.\.\]\)"):
        client.chat([{"role": "user", "content": "hi"}])  # type: ignore[arg-type]
