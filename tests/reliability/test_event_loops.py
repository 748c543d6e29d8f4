"""Async calls from many short-lived event loops (``asyncio.run`` per call, as scripts, notebooks
and task workers do) must not leave a connection pool, its sockets and its loop behind per loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import warnings
from collections.abc import Iterator

import pytest

from extmodels_integrations import ExternalClient
from tests.reliability.fault_server import FaultServer

MESSAGES = [{"role": "user", "content": "hello there"}]
LOOPS = 20


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as faults:
        yield faults


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _open_after(server: FaultServer, at_most: int) -> int:
    deadline = time.monotonic() + 2.0
    while server.stats.open > at_most and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.stats.open


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_loop_that_ends_takes_its_connections_with_it(server: FaultServer, stream: bool) -> None:
    # Before: every asyncio.run left its httpx pool in the transport's per-loop map for good
    # (the pool refers to its loop, so the loop never died as the weak key it was): after 20
    # runs, 20 sockets open on each side, never closed, also not by gc.collect().
    server.reset()
    client = ExternalClient(endpoint="ep", host=server.base_url, token="t", max_retries=0)
    fds = _fds()

    async def once() -> None:
        if stream:
            assert [c async for c in client.astream_chat(messages=MESSAGES)]
        else:
            assert (await client.achat(messages=MESSAGES)).choices

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # nothing is left for the GC to close
        for _ in range(LOOPS):
            asyncio.run(once())
        gc.collect()
    assert server.stats.requests == LOOPS
    assert _open_after(server, 0) == 0, "connections of finished loops are still open"
    assert _fds() <= fds
    assert len(client.transport._async_clients) <= 1
    client.close()


def test_aclose_then_loop_end_closes_once_and_quietly(server: FaultServer) -> None:
    server.reset()
    client = ExternalClient(endpoint="ep", host=server.base_url, token="t", max_retries=0)

    async def once() -> None:
        await client.achat(messages=MESSAGES)
        await client.aclose()
        # The pool is made again on use after aclose, and closed again when the loop ends.
        await client.achat(messages=MESSAGES)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        asyncio.run(once())
        gc.collect()
    assert _open_after(server, 0) == 0
