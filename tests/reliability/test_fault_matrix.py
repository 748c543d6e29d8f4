"""The fault matrix: every fault, for every wire format we speak, plain and streamed, sync and
async, against the loopback fault server (tests/reliability/fault_server.py).

Each cell asserts what a careful user expects: the exact outcome in ``ROWS`` (success after a
bounded number of retries with the advised delay honored, or the typed error), reached within
a bounded time (retry waits go through the transport's ``sleep``/``asleep`` hooks and are
recorded, never slept); no duplicated or missing text reached the caller (a success has the
whole answer, a failure mid-stream has a prefix of it); and the connection pool is left clean
(no connection still busy, none open on the server that the pool forgot, none after close).

``docs/reliability.md`` tables these outcomes; ``test_the_doc_tables_the_matrix`` keeps it in
step. Regenerate it with ``RELIABILITY_DOC=write pytest tests/reliability/test_fault_matrix.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations._exceptions import APITimeoutError as ProviderTimeout
from extmodels_integrations._exceptions import ExternalModelError
from tests.reliability import faults as F
from tests.reliability.conftest import (
    FORMATS,
    LIMITS,
    MAX_RETRIES,
    STALL_TIMEOUT,
    TIMEOUT,
    Format,
)
from tests.reliability.fault_server import Fault, FaultServer
from tests.support.wires.vertex import TokenServer

PROMPT = "Say QQ please"  # the stub's answer repeats the prompt, so QQ is a word of it
MESSAGES = [{"role": "user", "content": PROMPT}]
HUGE_WORDS = 4096  # x 1 KiB: a 4 MiB body, or a 4096-event stream
BOUND = 3.0  # seconds any cell may take (waits are recorded, not slept)
DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
BEGIN, END = "<!-- fault-matrix:begin -->", "<!-- fault-matrix:end -->"
NA = "n/a"


def _huge(_: str) -> str:
    word = "x" * 1023 + " "
    return (word * HUGE_WORDS).rstrip()


@dataclass(frozen=True)
class Row:
    """One fault: how to inject it (``None`` when it does not apply to a column) and the
    outcome a careful user expects, plain and streamed, the same for every wire format."""

    label: str
    fault: Callable[[Format, bool], Fault | None]
    plain: str
    stream: str
    times: int = 1
    advised: float | None = None
    """The delay the server advises: every recorded wait must be that, less at most
    ``slack`` seconds."""
    slack: float = 1e-6
    text: Callable[[str], str] | None = None
    """Replaces the answer's text (the huge answers)."""
    expected: Callable[[str], str] = field(default=lambda text: text)
    """The text a successful caller gets, from the answer's text."""
    limits: dict[str, Any] = field(default_factory=dict)
    """Client limits other than the suite's ``LIMITS``."""


def _both(fault: Fault) -> Callable[[Format, bool], Fault | None]:
    return lambda fmt, stream: fault


def _stream_only(make: Callable[[Format], Fault]) -> Callable[[Format, bool], Fault | None]:
    return lambda fmt, stream: make(fmt) if stream else None


OK1 = "ok after 1 retry, backoff 0.5 s"
ROWS = {
    "429-retry-after": Row(
        "429 with `Retry-After: 2`",
        _both(F.status(429, {"retry-after": "2"})),
        "ok after 1 retry, waited 2 s as advised",
        "ok after 1 retry, waited 2 s as advised",
        advised=2.0,
    ),
    "429-retry-after-date": Row(
        "429 with `Retry-After` as an HTTP date 4 s ahead",
        _both(F.retry_after_date(4)),
        "ok after 1 retry, waited 4 s as advised",
        "ok after 1 retry, waited 4 s as advised",
        advised=4.0,
        # The date has whole seconds, and the client reads it a moment after it was written.
        slack=1.5,
    ),
    "429-retry-after-ms": Row(
        "429 with `retry-after-ms: 1500`",
        _both(F.status(429, {"retry-after-ms": "1500"})),
        "ok after 1 retry, waited 1.5 s as advised",
        "ok after 1 retry, waited 1.5 s as advised",
        advised=1.5,
    ),
    "429-always": Row(
        "429 with `Retry-After: 1` on every attempt",
        _both(F.status(429, {"retry-after": "1"})),
        "RateLimitError after 2 retries, waited 1 s as advised",
        "RateLimitError after 2 retries, waited 1 s as advised",
        times=MAX_RETRIES + 1,
        advised=1.0,
    ),
    "429-too-long": Row(
        "429 with `Retry-After: 3600` (beyond the 60 s cap)",
        _both(F.status(429, {"retry-after": "3600"})),
        "RateLimitError",
        "RateLimitError",
    ),
    **{
        str(code): Row(f"HTTP {code}", _both(F.status(code)), OK1, OK1)
        for code in (500, 502, 503, 504, 529)
    },
    "500-always": Row(
        "HTTP 500 on every attempt",
        _both(F.status(500)),
        "ServerError after 2 retries, backoff 0.5 s, 1 s",
        "ServerError after 2 retries, backoff 0.5 s, 1 s",
        times=MAX_RETRIES + 1,
    ),
    "error-event-first": Row(
        "error event after HTTP 200, before any text",
        _stream_only(lambda fmt: F.error_event(fmt.error_event, fmt.first_text_part)),
        NA,
        OK1,
    ),
    "error-event-mid": Row(
        "error event after HTTP 200, mid-stream",
        _stream_only(lambda fmt: F.error_event(fmt.error_event, None)),
        NA,
        "ServerError mid-stream, no retry",
    ),
    "reset-before": Row("connection reset before the response", _both(F.reset_before), OK1, OK1),
    "reset-mid": Row(
        "connection reset mid-body / mid-stream",
        _both(F.reset_mid),
        OK1,
        "APIConnectionError mid-stream, no retry",
    ),
    "stall-mid": Row(
        "stall mid-body / mid-stream",
        _both(F.stall_mid),
        f"ok after 1 retry (read timeout {TIMEOUT:g} s), backoff 0.5 s",
        f"APITimeoutError mid-stream, no retry (stall timeout {STALL_TIMEOUT:g} s)",
    ),
    "pings-only": Row(
        "keep-alive comments only, mid-stream (SSE)",
        lambda fmt, stream: F.pings_only if stream and fmt.wire != "bedrock" else None,
        NA,
        f"APITimeoutError mid-stream, no retry (stall timeout {STALL_TIMEOUT:g} s)",
    ),
    "trickle": Row("body trickled byte by byte", _both(F.trickle), "ok", "ok"),
    "malformed-json": Row(
        "malformed JSON (body / one event)",
        _both(F.malformed_json),
        "MalformedResponseError",
        "MalformedResponseError mid-stream, no retry",
    ),
    "truncated": Row(
        "truncated: body short of its length / stream ends without its last events",
        _both(F.truncated),
        OK1,
        "MalformedResponseError mid-stream, no retry",
    ),
    "wrong-content-type": Row(
        "HTTP 200 with an HTML page (wrong content type)",
        _both(F.wrong_content_type),
        "MalformedResponseError",
        "MalformedResponseError",
    ),
    "invalid-utf8": Row(
        "invalid UTF-8 split across reads",
        _both(F.invalid_utf8_split),
        "MalformedResponseError",
        "MalformedResponseError mid-stream, no retry",
    ),
    "valid-utf8": Row(
        "multi-byte UTF-8 split across reads",
        _both(F.valid_utf8_split),
        "ok",
        "ok",
        expected=lambda text: text.replace(F.MARKER.decode(), F.VALID_UTF8, 1),
    ),
    "huge": Row(
        f"huge answer ({HUGE_WORDS} KiB; {HUGE_WORDS} events streamed)",
        _both(F.ok),
        "ok",
        "ok",
        text=_huge,
        # Rendering megabytes takes the loopback server longer than the suite's 0.3 s
        # time-to-first-byte budget on a busy machine; this row is about size, not time.
        limits={"stall_timeout": 5.0, "timeout": 5.0},
    ),
}


# -- running one cell ---------------------------------------------------------------------------


@dataclass
class Observed:
    text: str
    error: ExternalModelError | None
    waits: list[float]
    requests: int
    elapsed: float


def _client(
    fmt: Format, server: FaultServer, tokens: TokenServer, row: Row | None = None
) -> ExternalClient:
    limits = {**LIMITS, **(row.limits if row else {})}
    return ExternalClient(**fmt.target(server.base_url, tokens.uri), **limits)


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].content or "" for c in chunks if c.choices)


def run_sync(client: ExternalClient, server: FaultServer, stream: bool) -> Observed:
    waits: list[float] = []
    client.transport.sleep = waits.append
    got: list[Any] = []
    start, error = time.monotonic(), None
    try:
        if stream:
            for chunk in client.stream_chat(messages=MESSAGES):
                got.append(chunk)
        else:
            got.append(client.chat(messages=MESSAGES))
    except ExternalModelError as exc:
        error = exc
    elapsed = time.monotonic() - start
    text = _text(got) if stream else (got[0].choices[0].content if got else "")
    return Observed(text, error, waits, server.stats.requests, elapsed)


async def run_async(client: ExternalClient, server: FaultServer, stream: bool) -> Observed:
    waits: list[float] = []

    async def asleep(seconds: float) -> None:
        waits.append(seconds)

    client.transport.asleep = asleep
    got: list[Any] = []
    start, error = time.monotonic(), None
    try:
        if stream:
            async for chunk in client.astream_chat(messages=MESSAGES):
                got.append(chunk)
        else:
            got.append(await client.achat(messages=MESSAGES))
    except ExternalModelError as exc:
        error = exc
    elapsed = time.monotonic() - start
    text = _text(got) if stream else (got[0].choices[0].content if got else "")
    return Observed(text, error, waits, server.stats.requests, elapsed)


# -- what a careful user expects ------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n}"


def _waits(waits: list[float], row: Row) -> str:
    if not waits:
        return ""
    if row.advised is not None:
        for wait in waits:
            assert row.advised - row.slack <= wait <= row.advised + 1e-6, waits
        return f"waited {row.advised:g} s as advised"
    for attempt, wait in enumerate(waits):
        nominal = 0.5 * 2**attempt
        assert 0.75 * nominal <= wait <= nominal, waits  # RetryPolicy's jittered backoff
    return "backoff " + ", ".join(f"{0.5 * 2**a:g} s" for a in range(len(waits)))


def outcome(observed: Observed, row: Row, stream: bool) -> str:
    """The observed outcome in the words of the doc's table."""
    retries = observed.requests - 1
    tried = f" after {_plural(retries, 'retry')}" if retries else ""
    if observed.error is None:
        words = f"ok{tried}"
        if retries and observed.waits and row.advised is None and "stall" in row.label:
            words += f" (read timeout {TIMEOUT:g} s)"
    else:
        words = type(observed.error).__name__ + tried
        if observed.text:
            words += " mid-stream, no retry"
            if isinstance(observed.error, ProviderTimeout):
                words += f" (stall timeout {STALL_TIMEOUT:g} s)"
    waits = _waits(observed.waits, row)
    return f"{words}, {waits}" if waits else words


def check(observed: Observed, row: Row, stream: bool, full_text: str) -> str:
    """Assert the invariants of every cell; the outcome in words."""
    assert observed.elapsed < BOUND, f"took {observed.elapsed:.2f}s"
    assert observed.requests <= MAX_RETRIES + 1
    if observed.error is None:
        assert observed.text == row.expected(full_text)  # nothing missing, nothing twice
    else:
        assert full_text.startswith(observed.text)  # what arrived is a prefix, once
        assert observed.text != full_text or not stream
    return outcome(observed, row, stream)


def _pool(client: httpx.Client | httpx.AsyncClient) -> Any:
    return client._transport._pool  # type: ignore[union-attr]


def _settle(server: FaultServer, at_most: int) -> None:
    """Wait (briefly) until the server has at most ``at_most`` connections open."""
    deadline = time.monotonic() + 2.0
    while server.stats.open > at_most and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stats.open <= at_most, (
        f"{server.stats.open} connections open on the server, {at_most} in the client's pool"
    )


def check_pool(pool: Any, server: FaultServer) -> None:
    """No connection is still busy, and the server has none open that the pool forgot."""
    connections = list(pool.connections)
    busy = [c for c in connections if not (c.is_idle() or c.is_closed())]
    assert not busy, f"connections left busy: {busy}"
    _settle(server, sum(not c.is_closed() for c in connections))


# -- the matrix -----------------------------------------------------------------------------------

CELLS = [
    pytest.param(key, fmt, stream, id=f"{key}-{fmt.name}-{'stream' if stream else 'plain'}")
    for key in ROWS
    for fmt in FORMATS
    for stream in (False, True)
]


_BASELINES: dict[tuple[str, bool], str] = {}


def _baseline(fmt: Format, server: FaultServer, tokens: TokenServer, stream: bool) -> str:
    """The answer's text with no fault (once per column)."""
    if (fmt.name, stream) not in _BASELINES:
        with _client(fmt, server, tokens) as client:
            observed = run_sync(client, server, stream)
        assert observed.error is None, observed.error
        server.reset()
        _BASELINES[fmt.name, stream] = observed.text
    return _BASELINES[fmt.name, stream]


@pytest.mark.parametrize(("key", "fmt", "stream"), CELLS)
def test_fault_cell(
    key: str, fmt: Format, stream: bool, fault_server: FaultServer, tokens: TokenServer
) -> None:
    row = ROWS[key]
    fault = row.fault(fmt, stream)
    expected = row.stream if stream else row.plain
    if fault is None:
        return  # tabled as n/a
    if row.text is None:
        full_text = _baseline(fmt, fault_server, tokens, stream)
    else:
        full_text = row.text("")
        fault_server.text = row.text

    # sync
    fault_server.inject(fault, row.times)
    client = _client(fmt, fault_server, tokens, row)
    sync = check(run_sync(client, fault_server, stream), row, stream, full_text)
    check_pool(_pool(client.transport.client), fault_server)
    client.close()
    _settle(fault_server, 0)

    # async, on a fresh client and loop
    fault_server.reset()
    fault_server.text = row.text
    fault_server.inject(fault, row.times)

    async def go() -> str:
        async with _client(fmt, fault_server, tokens, row) as aclient:
            observed = await run_async(aclient, fault_server, stream)
            check_pool(_pool(aclient.transport.async_client), fault_server)
        return check(observed, row, stream, full_text)

    asynchronous = asyncio.run(go())
    _settle(fault_server, 0)
    assert (sync, asynchronous) == (expected, expected)


# -- the doc -------------------------------------------------------------------------------------


def table() -> str:
    """The markdown table of expected (= asserted, observed) outcomes."""
    columns = [(fmt, stream) for fmt in FORMATS for stream in (False, True)]
    header = "| fault | " + " | ".join(
        f"{fmt.name} {'stream' if stream else 'plain'}" for fmt, stream in columns
    )
    lines = [header + " |", "|" + "---|" * (len(columns) + 1)]
    for row in ROWS.values():
        cells = [
            NA if row.fault(fmt, stream) is None else row.stream if stream else row.plain
            for fmt, stream in columns
        ]
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_doc_tables_the_matrix() -> None:
    text = DOC.read_text()
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    fresh = f"{before}{BEGIN}\n{table()}\n{END}{after}"
    if os.environ.get("RELIABILITY_DOC") == "write":
        DOC.write_text(fresh)
    assert text == fresh, (
        "docs/reliability.md is out of date: RELIABILITY_DOC=write "
        "pytest tests/reliability/test_fault_matrix.py"
    )
