"""One instance of each class shared by hundreds of async calls and by several threads: every
caller gets the answer to its own request, connections and file descriptors come back, memory
stays bounded, and a very long stream is consumed in flat memory.

The loopback fault server (no faults injected) answers in the serving-endpoint format; its
answers repeat the start of the prompt, so each answer names the request it answers. The
numbers measured here are in docs/reliability.md (``Concurrency``)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations.langchain import ChatExternal as LCChat
from extmodels_integrations.langchain import CompletionExternal as LCCompletion
from extmodels_integrations.langchain import ExternalEmbeddings as LCEmbeddings
from extmodels_integrations.llama_index import ChatExternal as LIChat
from extmodels_integrations.llama_index import CompletionExternal as LICompletion
from extmodels_integrations.llama_index import ExternalEmbeddings as LIEmbeddings
from tests.reliability.fault_server import END, FaultServer, Reply, Step, chunk, head

ASYNC_CALLS = 200
THREADS = 8
THREAD_CALLS = 120
TARGET: dict[str, Any] = {"timeout": 10.0, "stall_timeout": 10.0, "max_retries": 0}


def _prompt(i: int) -> str:
    return f"request {i} says hi"


def _echoes(answer: str, i: int) -> bool:
    """Whether ``answer`` is the stub's answer to ``_prompt(i)`` (it quotes the prompt)."""
    return f"Stub reply to: {_prompt(i)}." in answer


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _settled(server: FaultServer, fds_before: int) -> int:
    """File descriptors once the server has seen every connection close (bounded wait)."""
    deadline = time.monotonic() + 3.0
    while (server.stats.open or _fds() > fds_before) and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.02)
    return _fds()


def _endpoint(server: FaultServer, name: str = "ep") -> dict[str, Any]:
    return {"endpoint": name, "host": server.base_url, "token": "dapi0000", **TARGET}


# -- the six framework classes and the core client, as (call, acall) pairs -----------------------


def _core_chat(server: FaultServer) -> tuple[Any, Callable[[int], str], Callable[[int], Any]]:
    client = ExternalClient(**_endpoint(server))

    def call(i: int) -> str:
        return str(
            client.chat(messages=[{"role": "user", "content": _prompt(i)}]).choices[0].content
        )

    async def acall(i: int) -> str:
        if i % 2:  # half the callers stream
            parts = []
            async for c in client.astream_chat(messages=[{"role": "user", "content": _prompt(i)}]):
                parts += [c.choices[0].content or ""] if c.choices else []
            return "".join(parts)
        response = await client.achat(messages=[{"role": "user", "content": _prompt(i)}])
        return str(response.choices[0].content)

    return client, call, acall


def _lc_chat(server: FaultServer) -> tuple[Any, Callable[[int], str], Callable[[int], Any]]:
    llm = LCChat(**_endpoint(server))

    def call(i: int) -> str:
        if i % 2:
            return "".join(str(c.content) for c in llm.stream(_prompt(i)))
        return str(llm.invoke(_prompt(i)).content)

    async def acall(i: int) -> str:
        if i % 2:
            return "".join([str(c.content) async for c in llm.astream(_prompt(i))])
        return str((await llm.ainvoke(_prompt(i))).content)

    return llm.client, call, acall


def _lc_completion(server: FaultServer) -> tuple[Any, Callable[[int], str], Callable[[int], Any]]:
    llm = LCCompletion(**_endpoint(server))

    def call(i: int) -> str:
        return llm.invoke(_prompt(i))

    async def acall(i: int) -> str:
        if i % 2:
            return "".join([c async for c in llm.astream(_prompt(i))])
        return await llm.ainvoke(_prompt(i))

    return llm.client, call, acall


def _li_chat(server: FaultServer) -> tuple[Any, Callable[[int], str], Callable[[int], Any]]:
    from llama_index.core.base.llms.types import ChatMessage

    llm = LIChat(**_endpoint(server))

    def user(i: int) -> list[ChatMessage]:
        return [ChatMessage(role="user", content=_prompt(i))]

    def call(i: int) -> str:
        if i % 2:
            *_, last = llm.stream_chat(user(i))
            return str(last.message.content)
        return str(llm.chat(user(i)).message.content)

    async def acall(i: int) -> str:
        if i % 2:
            responses = [r async for r in await llm.astream_chat(user(i))]
            return str(responses[-1].message.content)
        return str((await llm.achat(user(i))).message.content)

    return llm.client, call, acall


def _li_completion(server: FaultServer) -> tuple[Any, Callable[[int], str], Callable[[int], Any]]:
    llm = LICompletion(**_endpoint(server))

    def call(i: int) -> str:
        return llm.complete(_prompt(i)).text

    async def acall(i: int) -> str:
        if i % 2:
            responses = [r async for r in await llm.astream_complete(_prompt(i))]
            return responses[-1].text
        return (await llm.acomplete(_prompt(i))).text

    return llm.client, call, acall


CHATTY = {
    "core": _core_chat,
    "langchain-chat": _lc_chat,
    "langchain-completion": _lc_completion,
    "llama-index-chat": _li_chat,
    "llama-index-completion": _li_completion,
}


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as faults:
        yield faults


@pytest.mark.parametrize("make", list(CHATTY.values()), ids=list(CHATTY))
def test_shared_instance_async_and_threads_no_cross_talk_no_leaks(
    make: Callable[[FaultServer], Any], server: FaultServer
) -> None:
    server.reset()
    fds = _fds()
    client, call, acall = make(server)

    async def many() -> list[str]:
        try:
            return await asyncio.gather(*(acall(i) for i in range(ASYNC_CALLS)))
        finally:
            await client.aclose()

    answers = asyncio.run(many())
    assert all(_echoes(a, i) for i, a in enumerate(answers)), "an answer went to another caller"

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(call, range(THREAD_CALLS)))
    assert all(_echoes(a, i) for i, a in enumerate(answers)), "an answer went to another thread"
    client.close()

    assert server.stats.requests == ASYNC_CALLS + THREAD_CALLS
    assert _settled(server, fds) <= fds, "file descriptors leaked"
    assert server.stats.open == 0


def _embedders(server: FaultServer) -> list[tuple[str, Any, Any, Any]]:
    lc = LCEmbeddings(**_endpoint(server, "emb"))
    li = LIEmbeddings(**_endpoint(server, "emb"))
    core = ExternalClient(**_endpoint(server, "emb"))
    return [
        ("core", core, lambda t: core.embed([t]).embeddings[0], None),
        ("langchain", lc.client, lc.embed_query, lc.aembed_query),
        ("llama-index", li.client, li.get_text_embedding, li.aget_text_embedding),
    ]


def test_shared_embeddings_no_cross_talk_no_leaks(server: FaultServer) -> None:
    server.reset()
    fds = _fds()
    texts = [_prompt(i) for i in range(THREAD_CALLS)]
    reference = ExternalClient(**_endpoint(server, "emb"))
    expected = [list(v) for v in reference.embed(texts[:100]).embeddings]
    expected += [list(v) for v in reference.embed(texts[100:]).embeddings]
    reference.close()
    for name, client, embed, aembed in _embedders(server):
        with ThreadPoolExecutor(THREADS) as pool:
            got = list(pool.map(embed, texts))
        assert [list(v) for v in got] == expected, name
        if aembed is not None:

            async def many(aembed: Any = aembed, client: Any = client) -> list[Any]:
                try:
                    return await asyncio.gather(*(aembed(t) for t in texts))
                finally:
                    await client.aclose()

            assert [list(v) for v in asyncio.run(many())] == expected, name
        client.close()
    assert _settled(server, fds) <= fds, "file descriptors leaked"


def test_memory_is_bounded_over_many_calls(server: FaultServer) -> None:
    """The traced memory after 2 x 150 more calls grows by less than a few KiB per call:
    nothing accumulates per request (caches, per-call clients, retained responses)."""
    server.reset()
    client = ExternalClient(**_endpoint(server))

    async def batch(start: int) -> None:
        await asyncio.gather(
            *(
                client.achat(messages=[{"role": "user", "content": _prompt(i)}])
                for i in range(start, start + 150)
            )
        )

    async def run() -> tuple[int, int, int]:
        await batch(0)  # warm up: pools, imports, adapter
        gc.collect()
        tracemalloc.start()
        try:
            first = tracemalloc.get_traced_memory()[0]
            await batch(150)
            gc.collect()
            second = tracemalloc.get_traced_memory()[0]
            await batch(300)
            gc.collect()
            third = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
            await client.aclose()
        return first, second, third

    first, second, third = asyncio.run(run())
    # Growth must not continue batch after batch (a leak grows linearly).
    assert third - second < 150 * 2048, (first, second, third)


# -- a very long stream ------------------------------------------------------------------------

PIECE = "y" * 511 + " "


def _long_stream(events: int) -> Callable[[Reply], Iterator[Step]]:
    """A serving-endpoint chat stream of ``events`` 512-byte pieces, generated lazily so the
    server holds one event at a time."""

    def fault(reply: Reply) -> Iterator[Step]:
        yield head(200, {"content-type": "text/event-stream"}, None)
        for _ in range(events):
            event = {"choices": [{"index": 0, "delta": {"content": PIECE}}]}
            yield chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield chunk(b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n")
        yield END

    return fault


def _stream_peak(server: FaultServer, events: int) -> tuple[int, int]:
    """Peak traced memory while streaming ``events`` pieces, and the characters received."""
    server.reset()
    server.inject(_long_stream(events))
    with ExternalClient(**_endpoint(server)) as client:
        gc.collect()
        tracemalloc.start()
        try:
            received = 0
            for piece in client.stream_chat(messages=[{"role": "user", "content": "long"}]):
                received += len(piece.choices[0].content or "") if piece.choices else 0
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak, received


def test_streaming_a_very_long_answer_keeps_memory_flat(server: FaultServer) -> None:
    short, short_chars = _stream_peak(server, 500)
    long, long_chars = _stream_peak(server, 10_000)
    assert (short_chars, long_chars) == (500 * len(PIECE), 10_000 * len(PIECE))
    # 20x the answer (256 KiB -> 5 MiB) may not raise the peak by more than 256 KiB.
    assert long - short < 256 * 1024, (short, long)
