"""Client-side rate limits of endpoint configs: shared by every thread and asyncio task of the
process, never more than ``calls`` per period, and no caller waits longer than it must.

The clock is frozen and sleeping only records the wait, so the checks are exact and fast: with
the clock at 0, the time a call may start is exactly the wait it was given.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from extmodels_integrations import ExternalClient, RateLimitError
from extmodels_integrations._routing import RateLimiter
from tests.support.openai_server import OpenAIStubServer

HI = [{"role": "user", "content": "hi"}]
PERIOD = 60.0


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as stub:
        yield stub


def body(base: str, *limits: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or f"limits-{uuid.uuid4().hex[:8]}",
        "config": {
            "served_entities": [
                {
                    "external_model": {
                        "name": "gpt-4o-mini",
                        "provider": "openai",
                        "task": "llm/v1/chat",
                        "openai_config": {
                            "openai_api_key_plaintext": "sk-x",
                            "openai_api_base": f"{base}/v1",
                        },
                    }
                }
            ]
        },
        "rate_limits": list(limits),
    }


def per_minute(calls: int, key: str = "endpoint") -> dict[str, Any]:
    return {"calls": calls, "key": key, "renewal_period": "minute"}


class FrozenClock:
    """Time stands at 0; sleeps are recorded (thread-safe) and return at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # a real suspension point: other tasks run meanwhile


def frozen(client: ExternalClient, clock: FrozenClock, *, async_only: bool = False) -> None:
    assert client.router is not None
    limits = client.router.limits
    limits.clock, limits.asleep = clock.now, clock.asleep
    limits.sleep = _must_not_block if async_only else clock.sleep


def _must_not_block(seconds: float) -> None:
    raise AssertionError("async callers must await, not block the event loop")


def test_the_limiter_grants_the_earliest_slot_that_keeps_every_window_within_the_limit() -> None:
    limiter = RateLimiter(calls=3, period=10.0)
    starts = [limiter.reserve(now) for now in (0, 1, 2, 3, 4, 5, 11.5, 30)]
    assert starts == [0, 1, 2, 10, 11, 12, 20, 30]
    assert limiter.reserve(30.5, wait=False) == 30.5  # free: taken
    assert limiter.reserve(31) == 31  # the window (21, 31] holds 30 and 30.5
    assert limiter.reserve(32, wait=False) == 40  # full: reported, nothing reserved
    assert limiter.reserve(32) == 40


def test_threads_and_tasks_together_never_exceed_the_limit_and_wait_no_longer_than_needed(
    server: OpenAIStubServer,
) -> None:
    calls, threads, tasks = 5, 24, 24
    config = body(server.base_url, per_minute(calls))
    clock = FrozenClock()
    # Two clients built from the same config share one limiter (one per process).
    threaded = ExternalClient(endpoint_config=config)
    looped = ExternalClient(endpoint_config=config)
    frozen(threaded, clock)
    frozen(looped, clock, async_only=True)

    async def async_side() -> None:
        await asyncio.gather(*(looped.achat(messages=HI) for _ in range(tasks)))

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(threaded.chat, messages=HI) for _ in range(threads)]
        asyncio.run(async_side())
        for future in futures:
            future.result()

    starts = [0.0] * (threads + tasks - len(clock.waits)) + clock.waits
    per_window = Counter(starts)
    total = threads + tasks
    # Exactly `calls` calls per minute, each in the earliest minute with room: calls 0-4 at
    # once, 5-9 after 60 s, ... — never more, and nobody waits a period longer than needed.
    assert per_window == {
        i * PERIOD: min(calls, total - i * calls) for i in range(-(-total // calls))
    }
    assert len(server.requests) >= total


async def test_async_waiting_leaves_the_event_loop_free(server: OpenAIStubServer) -> None:
    client = ExternalClient(endpoint_config=body(server.base_url, per_minute(1)))
    clock = FrozenClock()
    frozen(client, clock, async_only=True)
    await asyncio.gather(*(client.achat(messages=HI) for _ in range(3)))
    assert sorted(clock.waits) == [PERIOD, 2 * PERIOD]


def test_raise_behavior_fails_at_once_with_a_typed_error(server: OpenAIStubServer) -> None:
    config = body(server.base_url, per_minute(2))
    client = ExternalClient(endpoint_config=config, rate_limit_behavior="raise")
    clock = FrozenClock()
    frozen(client, clock)
    client.chat(messages=HI)
    client.chat(messages=HI)
    before = len(server.requests)
    with pytest.raises(RateLimitError) as info:
        client.chat(messages=HI)
    assert info.value.retry_after == PERIOD
    assert info.value.status_code == 429
    assert str(info.value).startswith(
        "RateLimitError (status=429): endpoint_config.rate_limits[0]: 2 calls per minute used "
        "up locally; next slot in 60.0s"
    )
    assert clock.waits == [] and len(server.requests) == before


def test_user_keys_count_per_user_and_endpoint_keys_for_everyone(server: OpenAIStubServer) -> None:
    name = f"limits-{uuid.uuid4().hex[:8]}"
    for key, shared in (("user", False), ("endpoint", True)):
        config = body(server.base_url, per_minute(1, key), name=f"{name}-{key}")
        alice = ExternalClient(endpoint_config=config, rate_limit_user="alice")
        bob = ExternalClient(endpoint_config=config, rate_limit_user="bob")
        alice2 = ExternalClient(endpoint_config=config, rate_limit_user="alice")
        assert alice.router is not None and bob.router is not None and alice2.router is not None
        limiter = alice.router.limits.limiters[0][0]
        assert (bob.router.limits.limiters[0][0] is limiter) is shared
        assert alice2.router.limits.limiters[0][0] is limiter


def test_every_limit_applies_and_the_strictest_decides(server: OpenAIStubServer) -> None:
    config = body(server.base_url, per_minute(10), per_minute(2, "user"))
    config["ai_gateway"] = {"rate_limits": [{"calls": 3, "renewal_period": "minute"}]}
    client = ExternalClient(endpoint_config=config)
    clock = FrozenClock()
    frozen(client, clock)
    for _ in range(4):
        client.chat(messages=HI)
    assert clock.waits == [PERIOD, PERIOD]


def test_limits_not_applied_locally_say_so(server: OpenAIStubServer) -> None:
    config = body(server.base_url)
    config["ai_gateway"] = {
        "rate_limits": [
            {"tokens": 1000, "renewal_period": "minute"},
            {"calls": 1, "key": "user_group", "principal": "data-team", "renewal_period": "minute"},
            {"calls": 1, "key": "user", "principal": "someone-else", "renewal_period": "minute"},
        ]
    }
    with pytest.warns(UserWarning) as caught:
        client = ExternalClient(endpoint_config=config, rate_limit_user="me")
    assert [str(w.message) for w in caught] == [
        "endpoint_config.ai_gateway.rate_limits[0]: token limits are kept for deployment but "
        "not applied locally",
        "endpoint_config.ai_gateway.rate_limits[1]: user_group limits are kept for deployment "
        "but not applied locally",
    ]
    assert client.router is not None and client.router.limits.limiters == []
