"""Rate limits: config parsing, keys, tokens, Retry-After, exactness across two processes
sharing Redis, and a Redis outage failing open or closed."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations.gateway._ratelimit import Limit, MemoryLimiter, open_limiter
from tests.support.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def test_from_config_reads_the_documented_entry() -> None:
    limit = Limit.from_config({"key": "user", "renewal_period": "minute", "calls": 10})
    assert limit == Limit("user", "minute", calls=10)
    group = Limit.from_config(
        {"key": "user_group", "principal": "eng", "renewal_period": "minute", "tokens": 5}
    )
    assert group == Limit("user_group", "minute", tokens=5, principal="eng")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"key": "user", "renewal_period": "hour", "calls": 1}, "renewal_period"),
        ({"key": "user", "renewal_period": "minute"}, "calls or tokens"),
        ({"key": "user", "renewal_period": "minute", "calls": 0}, "calls"),
        ({"key": "team", "renewal_period": "minute", "calls": 1}, "key"),
        ({"key": "user", "renewal_period": "minute", "calls": 1, "cals": 2}, "cals"),
        ({"key": "service_principal", "renewal_period": "minute", "calls": 1}, "principal"),
    ],
)
def test_from_config_names_the_bad_field(entry: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        Limit.from_config(entry)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_memory_calls_per_user_and_retry_after() -> None:
    clock = Clock(6000.0 + 45.0)  # 45 s into a minute window
    limiter = MemoryLimiter(clock)
    limits = [Limit("user", "minute", calls=2)]

    async def run() -> None:
        for _ in range(2):
            assert (await limiter.acquire("chat", "alice", [], limits)).allowed
        refused = await limiter.acquire("chat", "alice", [], limits)
        assert not refused.allowed
        assert refused.retry_after == 15.0
        assert refused.limit == limits[0]
        assert "2 calls per minute per user" in refused.message
        assert (await limiter.acquire("chat", "bob", [], limits)).allowed
        assert (await limiter.acquire("other", "alice", [], limits)).allowed
        clock.now += 15.0
        assert (await limiter.acquire("chat", "alice", [], limits)).allowed

    asyncio.run(run())


def test_memory_all_or_none_and_group_and_principal_keys() -> None:
    limiter = MemoryLimiter(Clock(60.0))
    limits = [
        Limit("endpoint", "minute", calls=3),
        Limit("user_group", "minute", calls=1, principal="interns"),
        Limit("user", "minute", calls=100, principal="carol"),
    ]

    async def run() -> None:
        assert (await limiter.acquire("chat", "ivan", ["interns"], limits)).allowed
        refused = await limiter.acquire("chat", "ian", ["interns"], limits)
        assert not refused.allowed and refused.limit == limits[1]
        # The refused call was not counted against the endpoint limit: two more fit.
        assert (await limiter.acquire("chat", "carol", [], limits)).allowed
        assert (await limiter.acquire("chat", "dave", ["eng"], limits)).allowed
        last = await limiter.acquire("chat", "erin", [], limits)
        assert not last.allowed and last.limit == limits[0]

    asyncio.run(run())


def test_memory_tokens_refuse_once_used_up() -> None:
    limiter = MemoryLimiter(Clock(120.0))
    limits = [Limit("user", "minute", tokens=100)]

    async def run() -> None:
        assert (await limiter.acquire("chat", "alice", [], limits)).allowed
        await limiter.add_tokens("chat", "alice", [], limits, 60)
        assert (await limiter.acquire("chat", "alice", [], limits)).allowed
        await limiter.add_tokens("chat", "alice", [], limits, 60)
        refused = await limiter.acquire("chat", "alice", [], limits)
        assert not refused.allowed and "tokens used up" in refused.message
        assert (await limiter.acquire("chat", "bob", [], limits)).allowed

    asyncio.run(run())


def test_redis_keys_tokens_and_retry_after(redis_server: RedisServer) -> None:
    async def run() -> None:
        limiter = open_limiter(redis_server.url)
        try:
            limits = [Limit("user_group", "minute", calls=2), Limit("user", "minute", tokens=10)]
            ep = "ep-keys"
            assert (await limiter.acquire(ep, "u1", ["g"], limits)).allowed
            assert (await limiter.acquire(ep, "u2", ["g"], limits)).allowed
            refused = await limiter.acquire(ep, "u3", ["g"], limits)
            assert not refused.allowed and refused.limit == limits[0]
            assert refused.retry_after is not None and 1.0 <= refused.retry_after <= 60.0
            assert (await limiter.acquire(ep, "u3", ["h"], limits)).allowed
            await limiter.add_tokens(ep, "u3", ["h"], limits, 10)
            tokens = await limiter.acquire(ep, "u3", ["h2"], limits)
            assert not tokens.allowed and tokens.limit == limits[1]
        finally:
            await limiter.aclose()

    asyncio.run(run())


_ACQUIRER = textwrap.dedent(
    """
    import asyncio, sys
    from extmodels_integrations.gateway._ratelimit import Limit, open_limiter

    async def main(url, endpoint):
        limiter = open_limiter(url)
        limits = [Limit("user", "minute", calls=50)]
        got = await asyncio.gather(*(limiter.acquire(endpoint, "alice", [], limits)
                                     for _ in range(100)))
        await limiter.aclose()
        print(sum(d.allowed for d in got))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_redis_limit_is_exact_across_two_processes(redis_server: RedisServer) -> None:
    # 200 concurrent acquires from 2 processes against calls=50: exactly 50 pass, provided
    # both run in one window (retried once if a minute boundary split them).
    for _ in range(2):
        endpoint = f"ep-exact-{_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _ACQUIRER, redis_server.url, endpoint],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        allowed = [int(p.communicate(timeout=60)[0]) for p in procs]
        if sum(allowed) == 50:
            break
    assert sum(allowed) == 50


def test_redis_outage_fails_closed_then_open(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limits = [Limit("endpoint", "minute", calls=1000)]
    url = redis_server.url.replace("redis://", "redis://:hunter2-secret@")

    async def run(on_outage: str) -> list[bool]:
        limiter = open_limiter(url, on_outage=on_outage)  # type: ignore[arg-type]
        try:
            return [(await limiter.acquire("ep-out", "u", [], limits)).allowed for _ in range(3)]
        finally:
            await limiter.aclose()

    redis_server.stop()
    try:
        with caplog.at_level(logging.ERROR, "extmodels_integrations.gateway.ratelimit"):
            assert asyncio.run(run("closed")) == [False, False, False]
            assert asyncio.run(run("open")) == [True, True, True]
    finally:
        redis_server.start()
    outage_lines = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage_lines) == 2  # once per limiter, not once per call
    assert all("hunter2" not in line for line in outage_lines)


def test_redis_closed_refusal_says_why() -> None:
    async def run() -> None:
        limiter = open_limiter("redis://127.0.0.1:1/0")
        try:
            decision = await limiter.acquire("ep", "u", [], [Limit("user", "minute", calls=1)])
        finally:
            await limiter.aclose()
        assert not decision.allowed and decision.outage
        assert "on_outage='closed'" in decision.message

    asyncio.run(run())
