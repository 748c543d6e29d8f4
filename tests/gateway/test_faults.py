"""Faults under ``extmodels serve --workers 2``: a provider that fails mid-stream, a worker
SIGKILLed mid-stream, and a Redis outage, failing closed (the default) and open, then recovery.

The clients are the package's own ``ExternalClient(endpoint=..., host=<gateway>)`` and raw
httpx; the usage rows are read back from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations._exceptions import (
    APIConnectionError,
    ExternalModelError,
    ServerError,
)
from extmodels_integrations.gateway._usage import UsageRow, open_store
from tests.gateway.gateway_process import Gateway, endpoint_body, provider, serve, token
from tests.support.servers import PostgresServer, RedisServer

USER = "ana"
PLENTY = [{"key": "user", "renewal_period": "minute", "calls": 10_000}]
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with provider() as url:
        yield url


def _gateway(
    tmp: pytest.TempPathFactory,
    base: str,
    redis: RedisServer,
    postgres: PostgresServer,
    tag: str,
    extra: list[str],
) -> Any:
    bodies = [
        endpoint_body(f"{tag}-broken", "breaks", base, []),
        endpoint_body(f"{tag}-slow", "slow", base, []),
        endpoint_body(f"{tag}-steady", "steady", base, PLENTY),
    ]
    return serve(tmp.mktemp(tag), bodies, store=postgres.url, limiter=redis.url, extra=extra)


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    base: str,
    redis_server: RedisServer,
    postgres_server: PostgresServer,
) -> Iterator[Gateway]:
    with _gateway(tmp_path_factory, base, redis_server, postgres_server, "closed", []) as gw:
        yield gw


def _client(gw: Gateway, name: str) -> ExternalClient:
    return ExternalClient(endpoint=name, host=gw.url, token=token(USER), max_retries=0)


async def _rows(url: str, endpoint: str) -> list[UsageRow]:
    store = open_store(url)
    try:
        return await store.usage(endpoint=endpoint)
    finally:
        await store.aclose()


def _post(gw: Gateway, name: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/serving-endpoints/{name}/invocations",
        json={"messages": MESSAGES, **extra},
        headers={"Authorization": f"Bearer {token(USER)}"},
        timeout=30.0,
    )


def test_provider_failing_mid_stream_ends_in_a_typed_error_event_and_an_error_row(
    gateway: Gateway, postgres_server: PostgresServer
) -> None:
    response = _post(gateway, "closed-broken", stream=True)
    assert response.status_code == 200  # the headers went out before the provider failed
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert "[DONE]" not in events
    contents = [json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1]]
    assert contents == [" w0", " w1", " w2"]
    error = json.loads(events[-1])
    assert error["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "RemoteProtocolError" in error["message"]
    assert error["error"] == {"message": error["message"], "code": error["error_code"]}

    # The package's own client turns the error event into its typed error.
    async def ours() -> list[str]:
        seen: list[str] = []
        async with _client(gateway, "closed-broken") as client:
            async for chunk in client.astream_chat(messages=MESSAGES):
                seen.extend(c.content or "" for c in chunk.choices)
        return seen

    with pytest.raises(ExternalModelError) as raised:
        asyncio.run(ours())
    # A provider cut is a connection fault (502 in the row); the event carries the
    # workspace's code for it, which our client raises as a ServerError.
    assert isinstance(raised.value, ServerError)
    assert raised.value.code == "TEMPORARILY_UNAVAILABLE"
    assert "RemoteProtocolError" in str(raised.value)  # the provider cut its body short

    rows = asyncio.run(_rows(postgres_server.url, "closed-broken"))
    assert len(rows) == 2
    for row in rows:
        assert (row.status, row.error_type) == (502, "APIConnectionError")
        assert row.served_entity == "breaks" and row.streamed


async def _steady(gw: Gateway, name: str, count: int) -> list[str]:
    """``count`` streams that complete; the text of each."""
    async with _client(gw, name) as client:

        async def one() -> str:
            parts = [
                c.content or ""
                async for chunk in client.astream_chat(messages=MESSAGES)
                for c in chunk.choices
            ]
            return "".join(parts)

        return await asyncio.gather(*(one() for _ in range(count)))


async def _slow_streams_with_a_kill(gw: Gateway, most: int) -> tuple[list[Any], int]:
    """Slow streams, opened one at a time until both workers hold one (at most ``most``), then a
    SIGKILL to one of them. Each stream's outcome (its text, or the exception) and the victim."""
    async with _client(gw, "closed-slow") as client:

        async def one(started: asyncio.Event) -> str:
            parts: list[str] = []
            async for chunk in client.astream_chat(messages=MESSAGES):
                parts.extend(c.content or "" for c in chunk.choices)
                started.set()
            return "".join(parts)

        tasks = []
        while len(tasks) < most and len(gw.serving()) < 2:
            started = asyncio.Event()
            tasks.append(asyncio.create_task(one(started)))
            await asyncio.wait_for(started.wait(), 10)
        serving = gw.serving()
        assert len(serving) == 2, f"{len(tasks)} streams all went to one worker"
        victim = min(serving)
        os.kill(victim, signal.SIGKILL)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    return outcomes, victim


def test_worker_killed_mid_stream_typed_error_rows_kept_and_worker_restarted(
    gateway: Gateway, postgres_server: PostgresServer
) -> None:
    before = asyncio.run(_steady(gateway, "closed-steady", 10))
    assert before == ["".join(f" w{i}" for i in range(8))] * 10
    rows_before = asyncio.run(_rows(postgres_server.url, "closed-steady"))
    workers = gateway.workers()

    outcomes, victim = asyncio.run(_slow_streams_with_a_kill(gateway, 12))
    cut = [o for o in outcomes if isinstance(o, BaseException)]
    finished = [o for o in outcomes if isinstance(o, str)]
    # Both workers held a stream: the victim's are cut, the survivor's finish.
    assert cut and finished
    for error in cut:
        # A stream cut by the gateway's death is the package's typed error, not httpx's.
        assert type(error) is APIConnectionError, repr(error)
        assert "incomplete chunked read" in str(error)
    assert finished == ["".join(f" w{i}" for i in range(60))] * len(finished)

    # Every request that completed has its row: the ten before the kill, and the slow streams
    # the surviving worker finished. The killed worker's streams never completed.
    assert {r.request_id for r in rows_before} <= {
        r.request_id for r in asyncio.run(_rows(postgres_server.url, "closed-steady"))
    }
    assert len(rows_before) == 10 and all(r.status == 200 for r in rows_before)
    slow = asyncio.run(_rows(postgres_server.url, "closed-slow"))
    assert sum(r.status == 200 for r in slow) == len(finished)

    # uvicorn's master replaces the dead worker; new requests succeed on both.
    replaced = gateway.wait_workers(2, exclude=frozenset({victim}))
    assert victim not in replaced and len(replaced - workers) == 1
    after = asyncio.run(_steady(gateway, "closed-steady", 20))
    assert len(after) == 20 and set(after) == set(before)


def _statuses(gw: Gateway, name: str, count: int) -> list[httpx.Response]:
    """``count`` plain requests over fresh connections (so both workers take some)."""
    return [_post(gw, name) for _ in range(count)]


def _until_answered(gw: Gateway, name: str, seconds: float = 15.0) -> list[httpx.Response]:
    """Every response up to the first 200 (each one is a usage row the test must count)."""
    deadline = time.monotonic() + seconds
    responses = []
    while True:
        responses.append(_post(gw, name))
        if responses[-1].status_code == 200 or time.monotonic() > deadline:
            return responses
        time.sleep(0.2)


def _redis_lines(gw: Gateway, text: str) -> list[dict[str, Any]]:
    return [
        line
        for line in gw.lines()
        if line["logger"] == "extmodels_integrations.gateway.ratelimit" and text in line["message"]
    ]


def test_redis_outage_fails_closed_by_default_then_recovers(
    gateway: Gateway, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    name = "closed-steady"
    assert {r.status_code for r in _statuses(gateway, name, 4)} == {200}
    redis_server.stop()
    try:
        refused = _statuses(gateway, name, 10)
    finally:
        redis_server.start()
    for response in refused:
        assert response.status_code == 503
        assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert "on_outage='closed'" in response.json()["message"]
        assert response.headers["retry-after"] == "5"
    polled = _until_answered(gateway, name)
    assert polled[-1].status_code == 200
    assert {r.status_code for r in _statuses(gateway, name, 6)} == {200}

    # One error line per worker that saw the outage (not one per request), one when it is back.
    down = _redis_lines(gateway, "unreachable")
    assert 1 <= len(down) <= 2 and len({line["pid"] for line in down}) == len(down)
    assert all("failing closed" in line["message"] for line in down)
    assert {line["pid"] for line in _redis_lines(gateway, "answers again")} >= {
        line["pid"] for line in down
    }
    rows = asyncio.run(_rows(postgres_server.url, name))
    outage_rows = [r for r in rows if r.status == 503]
    # The ten refused during the outage, and any refused while Redis was still coming back.
    assert len(outage_rows) == 10 + len(polled) - 1
    assert {r.error_type for r in outage_rows} == {"rate_limit"}


@pytest.fixture
def open_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    base: str,
    redis_server: RedisServer,
    postgres_server: PostgresServer,
) -> Iterator[Gateway]:
    extra = ["--limiter-outage", "open"]
    with _gateway(tmp_path_factory, base, redis_server, postgres_server, "open", extra) as gw:
        yield gw


def test_redis_outage_fails_open_when_configured_then_counts_again(
    open_gateway: Gateway, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    name = "open-steady"
    # Each worker says at startup that its limits fail open.
    warned = [line for line in open_gateway.lines() if "rate limits fail open" in line["message"]]
    assert {line["pid"] for line in warned} == open_gateway.workers()
    redis_server.stop()
    try:
        during = _statuses(open_gateway, name, 10)
    finally:
        redis_server.start()
    assert {r.status_code for r in during} == {200}
    assert _until_answered(open_gateway, name)[-1].status_code == 200
    down = _redis_lines(open_gateway, "unreachable")
    assert down and all("failing open" in line["message"] for line in down)
    # Back to counting: Redis (without persistence here) restarted empty, and the calls after
    # it are counted in it again.
    assert {r.status_code for r in _statuses(open_gateway, name, 4)} == {200}
    assert asyncio.run(_count_keys(redis_server.url)) >= 1
    rows = asyncio.run(_rows(postgres_server.url, name))
    assert len(rows) >= 15 and {r.status for r in rows} == {200}


async def _count_keys(url: str) -> int:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        return len(await client.keys("extmodels:rl:*open-steady*"))
    finally:
        await client.aclose()
