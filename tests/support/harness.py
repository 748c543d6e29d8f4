"""Provider conformance harness: a fake provider behind ``httpx.MockTransport`` that checks the
exact request the package sends and answers in the provider's wire format.

A :class:`Case` fixes, for one target and one call, every HTTP exchange (method, exact URL, the
headers the package chose with credential values redacted, the exact body) and the exact unified
result. Each case runs through the sync and the async client methods (see ``tests/providers``'
``run`` fixture). Requests are matched to exchanges by (method, URL, body), not by order, so
targets that fan out concurrently (one text per embeddings call) are checked the same way.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from extmodels_integrations import ExternalClient

REDACTED = "<redacted>"
#: Header names whose values are credentials or signatures: compared as ``<redacted>``.
SECRET_HEADERS = frozenset(
    {"authorization", "api-key", "x-api-key", "x-goog-api-key", "x-amz-security-token"}
)
#: Added by httpx itself; everything else the package sends is asserted exactly.
TRANSPORT_HEADERS = frozenset(
    {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}
)
JSON_HEADERS = {"content-type": "application/json"}
#: What an ``ExternalClient`` call name maps to, for ids and for picking the task.
TASK_OF_CALL = {
    "chat": "llm/v1/chat",
    "stream_chat": "llm/v1/chat",
    "complete": "llm/v1/completions",
    "stream_complete": "llm/v1/completions",
    "embed": "llm/v1/embeddings",
}


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body delivered in several small reads, so events, frames and UTF-8 sequences
    are split across reads as they are on a real network."""

    def __init__(self, body: bytes, size: int = 11) -> None:
        self.parts = [body[i : i + size] for i in range(0, len(body), size)]

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts

    async def __aiter__(self):  # type: ignore[override]
        for part in self.parts:
            yield part


def sse(*events: Any, named: bool = False) -> bytes:
    """An SSE body. Dicts are JSON-encoded and strings (``[DONE]``) sent as they are; with
    ``named=True`` each item is ``(event_name, data)`` and gets an ``event:`` line."""
    out = []
    for item in events:
        name, data = item if named else (None, item)
        text = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    return "".join(out).encode()


@dataclass(frozen=True)
class Reply:
    """What the fake provider answers: JSON, an SSE body, or raw bytes, with a status."""

    status: int = 200
    json: Any = None
    events: tuple[Any, ...] = ()
    named_events: bool = False
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def response(self) -> httpx.Response:
        headers = dict(self.headers)
        if self.raw is not None:
            headers.setdefault("content-type", self.content_type or "application/octet-stream")
            return httpx.Response(self.status, headers=headers, stream=Chunks(self.raw))
        if self.events:
            headers.setdefault("content-type", self.content_type or "text/event-stream")
            body = sse(*self.events, named=self.named_events)
            return httpx.Response(self.status, headers=headers, stream=Chunks(body))
        return httpx.Response(self.status, json=self.json, headers=headers)


@dataclass(frozen=True)
class Exchange:
    """One request the package must send, and the reply it gets."""

    url: str  # exact, query string included
    body: Any  # the exact JSON body (or bytes when the body is not JSON; None when empty)
    reply: Reply
    headers: Mapping[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))
    method: str = "POST"


@dataclass(frozen=True)
class Raises:
    """The expected outcome when a call must fail: the type, a regex on ``str(error)``, and
    attributes the error must carry (``status_code``, ``request_id``, ``retryable``...)."""

    type: type[BaseException]
    match: str
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """One conformance case: a target, a call, the exchanges it must make, the unified result.

    ``id`` reads ``<provider>-<task>-<mode>[-<detail>]``, mode being plain, stream or tools.
    ``credentials`` maps a redacted header to the exact value it must carry (checked apart so
    the request table never spells a secret); a callable value checks the value instead (for
    signatures that change with the clock).
    """

    id: str
    target: Mapping[str, Any]  # ExternalClient kwargs
    call: str  # chat | stream_chat | complete | stream_complete | embed
    request: Any  # ChatRequest | CompletionRequest | dict of embed() kwargs
    exchanges: tuple[Exchange, ...]
    expected: Any  # ChatResponse | list of chunks | EmbeddingsResponse | Raises
    credentials: Mapping[str, str | Callable[[str], bool]] = field(default_factory=dict)
    #: Extra requests (token endpoints) answered by this callable instead of the table.
    side: Callable[[httpx.Request], httpx.Response | None] | None = None
    #: Headers whose values vary run to run (signing dates): compared as ``<redacted>``.
    volatile_headers: frozenset[str] = frozenset()


def request_body(request: httpx.Request) -> Any:
    raw = request.content
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def sent_headers(request: httpx.Request, volatile: frozenset[str] = frozenset()) -> dict[str, str]:
    """The headers the package chose, credential and volatile values redacted."""
    hidden = SECRET_HEADERS | volatile
    return {
        k: (REDACTED if k in hidden else v)
        for k, v in request.headers.items()
        if k not in TRANSPORT_HEADERS
    }


class FakeProvider:
    """Answers each request with the reply of the exchange it matches; records the rest."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.requests: list[httpx.Request] = []
        self.unmatched: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        if self.case.side is not None and (side := self.case.side(request)) is not None:
            return side
        body = request_body(request)
        for exchange in self.case.exchanges:
            if (exchange.method, exchange.url, exchange.body) == (
                request.method,
                str(request.url),
                body,
            ):
                return exchange.reply.response()
        with self._lock:
            self.unmatched.append(f"{request.method} {request.url}\n{body!r}")
        return httpx.Response(599, json={"error": {"message": "no exchange matches"}})

    def table_requests(self) -> list[httpx.Request]:
        side = self.case.side
        return [r for r in self.requests if side is None or side(r) is None]


def check_exchanges(case: Case, provider: FakeProvider) -> None:
    """Every request matched an exchange, every exchange was made once, headers exact."""
    assert not provider.unmatched, "requests that match no exchange:\n" + "\n".join(
        provider.unmatched
    )
    made = provider.table_requests()
    assert len(made) == len(case.exchanges), [str(r.url) for r in made]
    for exchange in case.exchanges:
        hits = [
            r
            for r in made
            if (r.method, str(r.url), request_body(r))
            == (exchange.method, exchange.url, exchange.body)
        ]
        assert len(hits) == 1, f"{exchange.url} was requested {len(hits)} times"
        assert sent_headers(hits[0], case.volatile_headers) == dict(exchange.headers)
        for name, want in case.credentials.items():
            got = hits[0].headers.get(name, "")
            assert want(got) if callable(want) else got == want, f"credential header {name!r}"


def connect(
    provider: Callable[[httpx.Request], httpx.Response], opened: list[Any], **target: Any
) -> ExternalClient:
    """An ExternalClient whose sync and async httpx clients both go to ``provider``."""
    mock = httpx.MockTransport(provider)
    pair = (httpx.Client(transport=mock), httpx.AsyncClient(transport=mock))
    opened.append(pair)
    target.setdefault("max_retries", 0)
    return ExternalClient(**target, http_client=pair[0], http_async_client=pair[1])


class SyncRunner:
    """Calls the sync client method; streams are drained into a list."""

    async def __call__(self, client: ExternalClient, call: str, request: Any) -> Any:
        if call == "embed":
            return client.embed(**request)
        result = getattr(client, call)(request)
        return list(result) if call.startswith("stream_") else result


class AsyncRunner:
    """Calls the async twin (``a`` + name); streams are drained into a list."""

    async def __call__(self, client: ExternalClient, call: str, request: Any) -> Any:
        if call == "embed":
            return await client.aembed(**request)
        method = getattr(client, "a" + call)
        if call.startswith("stream_"):
            return [chunk async for chunk in method(request)]
        return await method(request)


_CASE_ID = re.compile(r"^[a-z0-9-]+-(chat|completions|embeddings)-(plain|stream|tools)(-[\w.-]+)?$")


def collect_cases() -> list[Case]:
    """Every ``CASES`` list under ``tests/providers/cases``, ids checked and unique."""
    from tests.providers import cases as package

    found: list[Case] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found += module.CASES
    ids = [c.id for c in found]
    bad = [i for i in ids if not _CASE_ID.match(i)]
    assert not bad, f"case ids must read <provider>-<task>-<mode>[-detail]: {bad}"
    assert len(set(ids)) == len(ids), "duplicate case ids"
    return found
