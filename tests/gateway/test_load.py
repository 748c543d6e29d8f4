"""200 concurrent streams through ``extmodels serve --workers 2``, per-user limits in Redis,
usage rows in PostgreSQL: the limits are exact across both workers and every request has its row.

Tolerance: a ``calls`` limit is exact within one renewal period (the limiter's windows are fixed
UTC minutes). The burst takes a few seconds; the test starts it at least 10 s before the end of
the current minute and checks that it ended in the same minute, so exactly ``calls`` per user go
through, not up to twice that across a window boundary.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from extmodels_integrations.gateway._usage import open_store
from tests.gateway.gateway_process import USERS, Gateway, endpoint_body, provider, serve, token
from tests.support.servers import PostgresServer, RedisServer

CALLS = 25  # per user per minute
PER_USER = 40  # 5 users x 40 = 200 concurrent streams
ENDPOINT = "load-chat"


@pytest.fixture(scope="module")
def store(postgres_server: PostgresServer) -> str:
    """This module's own database: the row counts below are of these requests only."""
    return postgres_server.new_database()


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, store: str
) -> Iterator[Gateway]:
    limits = [{"key": "user", "renewal_period": "minute", "calls": CALLS}]
    with provider() as base:
        bodies = [endpoint_body(ENDPOINT, "steady", base, limits)]
        with serve(
            tmp_path_factory.mktemp("load"),
            bodies,
            store=store,
            limiter=redis_server.url,
            extra=[],
        ) as running:
            yield running


async def _stream(client: httpx.AsyncClient, user: str) -> dict[str, Any]:
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 8}
    async with client.stream(
        "POST",
        f"/serving-endpoints/{ENDPOINT}/invocations",
        json=body,
        headers={"Authorization": f"Bearer {token(user)}"},
    ) as response:
        raw = (await response.aread()).decode()
    events = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
    return {
        "user": user,
        "status": response.status_code,
        "retry_after": response.headers.get("retry-after"),
        "raw": raw,
        "events": events,
    }


async def _burst(url: str) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=250, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        calls = [_stream(client, user) for _ in range(PER_USER) for user in USERS]
        return await asyncio.gather(*calls)


def _inside_one_window() -> int:
    """Wait, if need be, so the burst starts 10 s or more before the minute ends; its window."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.2)
    return int(time.time() // 60)


def test_200_streams_two_workers_exact_per_user_limits_and_one_row_each(
    gateway: Gateway, store: str
) -> None:
    window = _inside_one_window()
    results = asyncio.run(_burst(gateway.url))
    assert int(time.time() // 60) == window, "the burst crossed a minute boundary"

    accepted = Counter(r["user"] for r in results if r["status"] == 200)
    assert accepted == dict.fromkeys(USERS, CALLS)
    refused = [r for r in results if r["status"] != 200]
    assert len(refused) == len(USERS) * (PER_USER - CALLS)
    for r in refused:
        assert r["status"] == 429
        assert r["retry_after"] is not None and 1 <= int(r["retry_after"]) <= 60
        error = json.loads(r["raw"])
        assert error["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert f"{CALLS} calls per minute per user" in error["message"]
    for r in results:
        if r["status"] == 200:
            assert r["events"][-1] == "[DONE]"
            text = "".join(
                json.loads(e)["choices"][0]["delta"].get("content") or ""
                for e in r["events"][:-1]
                if json.loads(e).get("choices")
            )
            assert text == "".join(f" w{i}" for i in range(8))

    rows = asyncio.run(_usage(store))
    assert len(rows) == len(results)
    assert len({row.request_id for row in rows}) == len(rows)
    by_user = Counter((row.requester, row.status) for row in rows)
    for user in USERS:
        assert by_user[(user, 200)] == CALLS
        assert by_user[(user, 429)] == PER_USER - CALLS
    assert all(row.streamed for row in rows)
    assert all(row.output_tokens == 8 for row in rows if row.status == 200)

    # Both workers served: each access line names its worker's pid and the row's request id.
    access = {line["request_id"]: line["pid"] for line in gateway.lines() if "request_id" in line}
    assert set(access) == {row.request_id for row in rows}
    served_by = Counter(access.values())
    assert set(served_by) == gateway.workers() and len(served_by) == 2, served_by


async def _usage(url: str) -> list[Any]:
    store = open_store(url)
    try:
        return await store.usage(endpoint=ENDPOINT)
    finally:
        await store.aclose()


def test_workers_log_one_json_line_per_request_without_secrets(gateway: Gateway) -> None:
    text = Path(gateway.log).read_text()
    assert "sk-load" not in text and "gw-load-token" not in text
    for line in gateway.lines():
        assert {"time", "level", "logger", "pid"} <= set(line)


def test_any_workers_metrics_count_the_requests_of_both(gateway: Gateway, store: str) -> None:
    from tests.gateway.test_observability import parse_exposition

    rows = asyncio.run(_usage(store))
    served_by = Counter(line["pid"] for line in gateway.lines() if "request_id" in line)
    assert len(served_by) == 2, served_by  # one worker's own counts cannot add up to all rows

    def total() -> float:
        # A new connection each time, so the scrapes land on either worker.
        samples = parse_exposition(httpx.get(f"{gateway.url}/metrics").text)
        series = samples.get("extmodels_gateway_requests_total", {})
        return sum(v for k, v in series.items() if ("endpoint", ENDPOINT) in k)

    # Each worker answers with the others' last snapshots, at most a publish interval old, so
    # right after the burst one worker can be exact while the other still lags. Wait until ten
    # scrapes in a row, whichever workers answer, all count every row.
    scrapes: list[float] = []
    deadline = time.monotonic() + 15
    while scrapes[-10:] != [len(rows)] * 10 and time.monotonic() < deadline:
        scrapes.append(total())
        time.sleep(0.05)
    assert scrapes[-10:] == [len(rows)] * 10, scrapes
    scrapers = {line["pid"] for line in gateway.lines() if line.get("path") == "/metrics"}
    assert scrapers <= gateway.workers()
