"""Traffic split and fallbacks of endpoint configs, against two loopback stub servers (one per
served entity: each server's request log shows which entity was called)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from extmodels_integrations import (
    APIConnectionError,
    AuthenticationError,
    ChatChunk,
    ExternalClient,
    ServerError,
)
from extmodels_integrations._routing import TrafficSplit
from tests.support.openai_server import OpenAIStubServer

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[OpenAIStubServer, OpenAIStubServer]]:
    with OpenAIStubServer() as a, OpenAIStubServer() as b:
        yield a, b


@pytest.fixture
def servers(
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
) -> tuple[OpenAIStubServer, OpenAIStubServer]:
    for server in pair:
        server.reset()
    return pair


def body(
    a: str, b: str, split: tuple[int, int] = (70, 30), task: str = "llm/v1/chat", **extra: Any
) -> dict[str, Any]:
    """Entity ``a`` is OpenAI on server a, ``b`` a Databricks serving endpoint on server b."""
    return {
        "name": f"routing-{uuid.uuid4().hex[:8]}",
        "config": {
            "served_entities": [
                {
                    "name": "a",
                    "external_model": {
                        "name": "gpt-4o-mini",
                        "provider": "openai",
                        "task": task,
                        "openai_config": {
                            "openai_api_key_plaintext": "sk-a",
                            "openai_api_base": f"{a}/v1",
                        },
                    },
                },
                {
                    "name": "b",
                    "external_model": {
                        "name": "team-chat",
                        "provider": "databricks-model-serving",
                        "task": task,
                        "databricks_model_serving_config": {
                            "databricks_api_token_plaintext": "dapi-b",
                            "databricks_workspace_url": b,
                        },
                    },
                },
            ],
            "traffic_config": {
                "routes": [
                    {"served_model_name": "a", "traffic_percentage": split[0]},
                    {"served_model_name": "b", "traffic_percentage": split[1]},
                ]
            },
        },
        **extra,
    }


def _with_fallbacks(a: str, b: str, split: tuple[int, int] = (100, 0)) -> dict[str, Any]:
    return body(a, b, split, ai_gateway={"fallback_config": {"enabled": True}})


# -- traffic split -------------------------------------------------------------------------------


def test_split_over_thousands_of_calls_matches_the_percentages(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    calls = 3000
    with (
        ExternalClient(endpoint_config=body(a.base_url, b.base_url), routing_seed=7) as client,
        ThreadPoolExecutor(32) as pool,
    ):
        # Concurrent calls: the stub answers each request only after a delayed ACK (~40 ms).
        answered = Counter(
            pool.map(lambda _: client.chat(messages=HI).metadata["served_entity"], range(calls))
        )
    # What the servers saw agrees with what the metadata says.
    assert (answered["a"], answered["b"]) == (len(a.requests), len(b.requests))
    assert abs(answered["a"] / calls - 0.70) < 0.02
    assert abs(answered["b"] / calls - 0.30) < 0.02


def test_the_split_itself_is_exact_to_a_fraction_of_a_percent() -> None:
    picks = 100_000
    for seed in (1, 2):
        split = TrafficSplit([50, 0, 35, 15], seed)
        counts = Counter(split.pick() for _ in range(picks))
        assert counts[1] == 0  # a 0% route (fallback only) never gets traffic
        for index, share in ((0, 0.50), (2, 0.35), (3, 0.15)):
            assert abs(counts[index] / picks - share) < 0.005


async def test_seeded_runs_repeat_exactly(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    config = body(a.base_url, b.base_url, (50, 50))

    async def run(seed: int) -> list[str]:
        # gather starts the calls in order and each picks its entity before it first waits,
        # so the i-th answer is the i-th pick.
        async with ExternalClient(endpoint_config=config, routing_seed=seed) as client:
            answers = await asyncio.gather(*(client.achat(messages=HI) for _ in range(40)))
        return [r.metadata["served_entity"] for r in answers]

    first = await run(11)
    assert await run(11) == first
    assert await run(12) != first
    assert set(first) == {"a", "b"}


async def test_async_calls_follow_the_split_and_say_who_answered(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    async with ExternalClient(
        endpoint_config=body(a.base_url, b.base_url, (50, 50)), routing_seed=5
    ) as client:
        responses = await asyncio.gather(*(client.achat(messages=HI) for _ in range(40)))
    answered = Counter(r.metadata["served_entity"] for r in responses)
    assert (answered["a"], answered["b"]) == (len(a.requests), len(b.requests))
    providers = {
        r.metadata["served_entity"]: r.metadata["served_entity_provider"] for r in responses
    }
    assert providers == {"a": "openai", "b": "databricks-model-serving"}
    assert all(r.metadata["endpoint"].startswith("routing-") for r in responses)


def test_stream_chunks_say_which_entity_answered(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    with ExternalClient(endpoint_config=body(a.base_url, b.base_url, (0, 100))) as client:
        chunks = list(client.stream_chat(messages=HI))
    assert chunks
    assert {c.metadata["served_entity"] for c in chunks} == {"b"}
    assert sum(c.usage is not None for c in chunks) == 1  # usage still reported once
    assert len(a.requests) == 0 and len(b.requests) == 1


def test_embeddings_and_completions_are_routed_too(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    with ExternalClient(
        endpoint_config=body(a.base_url, b.base_url, (0, 100), task="llm/v1/embeddings")
    ) as client:
        vectors = client.embed(["one", "two"])
    assert len(vectors.embeddings) == 2
    assert vectors.metadata["served_entity"] == "b"  # type: ignore[attr-defined]
    with ExternalClient(
        endpoint_config=body(a.base_url, b.base_url, (100, 0), task="llm/v1/completions")
    ) as client:
        text = client.complete(prompt="Say hi")
        streamed = list(client.stream_complete(prompt="Say hi"))
    assert text.metadata["served_entity"] == "a"
    assert {c.metadata["served_entity"] for c in streamed} == {"a"}  # type: ignore[attr-defined]


# -- fallbacks -----------------------------------------------------------------------------------


def test_a_failing_first_entity_hands_over_to_the_next(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    a.fail_next(503)
    with ExternalClient(
        endpoint_config=_with_fallbacks(a.base_url, b.base_url), max_retries=0
    ) as c:
        handed = c.chat(messages=HI)
        direct = c.chat(messages=HI)
    assert handed.choices[0].content
    assert handed.metadata | {"endpoint": None} == {
        "endpoint": None,
        "served_entity": "b",
        "served_entity_provider": "databricks-model-serving",
        "fallback": True,
        "failed": ["a"],
    }
    assert (direct.metadata["served_entity"], direct.metadata["fallback"]) == ("a", False)
    assert (len(a.requests), len(b.requests)) == (2, 1)


async def test_async_and_stream_fallbacks_hand_over_before_anything_was_streamed(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    config = _with_fallbacks(a.base_url, b.base_url)
    a.fail_next(429, times=3)
    async with ExternalClient(endpoint_config=config, max_retries=0) as client:
        response = await client.achat(messages=HI)
        chunks = [c async for c in client.astream_chat(messages=HI)]
    with ExternalClient(endpoint_config=config, max_retries=0) as client:
        synced = list(client.stream_chat(messages=HI))
    assert response.metadata["failed"] == ["a"]
    for stream in (chunks, synced):
        assert {c.metadata["served_entity"] for c in stream} == {"b"}  # type: ignore[attr-defined]
        assert all(c.metadata["fallback"] for c in stream)  # type: ignore[attr-defined]


def test_fallback_goes_round_the_list_from_the_chosen_entity(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    b.fail_next(500)
    config = _with_fallbacks(a.base_url, b.base_url, (0, 100))
    with ExternalClient(endpoint_config=config, max_retries=0) as client:
        response = client.chat(messages=HI)
    assert (response.metadata["served_entity"], response.metadata["failed"]) == ("a", ["b"])


def test_without_fallbacks_the_error_is_raised(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    a.fail_next(503)
    with (
        ExternalClient(endpoint_config=body(a.base_url, b.base_url, (100, 0)), max_retries=0) as c,
        pytest.raises(ServerError),
    ):
        c.chat(messages=HI)
    assert len(b.requests) == 0


def test_fallbacks_option_overrides_the_config(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    a.fail_next(503)
    config = body(a.base_url, b.base_url, (100, 0))
    with ExternalClient(endpoint_config=config, max_retries=0, fallbacks=True) as client:
        assert client.chat(messages=HI).metadata["fallback"] is True
    a.fail_next(503)
    off = _with_fallbacks(a.base_url, b.base_url)
    with (
        ExternalClient(endpoint_config=off, max_retries=0, fallbacks=False) as client,
        pytest.raises(ServerError),
    ):
        client.chat(messages=HI)


def test_errors_that_are_not_retryable_do_not_fall_back(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    a.fail_next(401)
    with (
        ExternalClient(endpoint_config=_with_fallbacks(a.base_url, b.base_url)) as client,
        pytest.raises(AuthenticationError),
    ):
        client.chat(messages=HI)
    assert len(b.requests) == 0


def test_when_every_entity_fails_the_last_error_is_raised(
    servers: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = servers
    a.fail_next(503)
    b.fail_next(502)
    with (
        ExternalClient(endpoint_config=_with_fallbacks(a.base_url, b.base_url), max_retries=0) as c,
        pytest.raises(ServerError) as info,
    ):
        c.chat(messages=HI)
    assert info.value.status_code == 502


class _BrokenStream(httpx.SyncByteStream):
    """Two SSE chunks, then the connection drops."""

    def __iter__(self) -> Iterator[bytes]:
        for text in ("Hel", "lo"):
            delta = f'{{"choices":[{{"index":0,"delta":{{"content":"{text}"}}}}]}}'
            yield f"data: {delta}\n\n".encode()
        raise httpx.RemoteProtocolError("peer closed connection mid-stream")


def test_a_failure_after_the_stream_began_is_raised_not_retried() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "a.test":
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=_BrokenStream()
            )
        raise AssertionError("the fallback entity must not be called after a stream began")

    config = _with_fallbacks("http://a.test", "http://b.test")
    http = httpx.Client(transport=httpx.MockTransport(handler))
    with ExternalClient(endpoint_config=config, http_client=http, max_retries=3) as client:
        received: list[ChatChunk] = []
        with pytest.raises(APIConnectionError, match="mid-stream"):
            for chunk in client.stream_chat(messages=HI):
                received.append(chunk)
    assert [c.choices[0].content for c in received] == ["Hel", "lo"]
    assert seen == ["a.test"]  # neither retried nor handed over
