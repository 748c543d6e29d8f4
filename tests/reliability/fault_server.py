"""A loopback HTTP/1.1 server that answers like the providers do, then breaks the answer on
purpose: resets, stalls, trickles, corrupts, truncates, or sends errors first.

The well-formed answers come from the stub server's own machinery (``tests/support``): the
provider wires re-render the stub's scripted OpenAI answer in each provider's format, and
OpenAI/Databricks answers are rendered here from the same scripted answer. A *fault* is a
function from that well-formed :class:`Reply` to a *script*: the raw bytes to write, pauses,
and how the connection ends. Raw asyncio sockets (one event loop in a background thread) let a
script do what an HTTP library would not: reset a connection, stop mid-chunk, or cut a UTF-8
sequence between two TCP writes.

The server counts the connections it has open, so a test can check that a client's pool
holds exactly the connections the server sees (nothing leaked, nothing half-closed).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.openai_server import StubHTTPError, answer, pieces, wires
from tests.support.wires.bedrock import frame

# Script steps besides bytes (written and flushed) and floats (pause that long, or until the
# client hangs up): end the connection with a TCP reset, or with a clean close.
RESET = "reset"
CLOSE = "close"
Step = bytes | float | str
Fault = Callable[["Reply"], Iterable[Step]]

_READ_LIMIT = 1 << 20


@dataclass
class Reply:
    """A well-formed answer: status, headers, and body parts (one part when not streamed; one
    SSE event or event-stream frame per part when streamed)."""

    status: int
    headers: dict[str, str]
    parts: list[bytes]
    stream: bool
    text: str
    """The assistant text the answer carries (what a caller should end up with)."""
    wire: str
    """``openai`` (OpenAI and Databricks), ``anthropic``, ``cohere``, ``bedrock``, ``vertex``."""


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Stats:
    """What the server saw: requests answered and connections open / accepted."""

    requests: int = 0
    accepted: int = 0
    open: int = 0
    paths: list[str] = field(default_factory=list)


class FaultServer:
    """See the module docstring. Use as a context manager; ``inject`` queues faults for the
    next requests, ``text`` overrides the assistant text of every answer."""

    def __init__(self) -> None:
        self.stats = Stats()
        self.text: Callable[[str], str] | None = None
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FaultServer:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_READ_LIMIT)
            )
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fault-server", daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    # -- control --------------------------------------------------------------------------------

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``fault`` applied."""
        with self._lock:
            self._faults.extend([fault] * times)

    def reset(self) -> None:
        """Forget pending faults, the text override and the request log."""
        with self._lock:
            self._faults.clear()
            self.text = None
            self.stats.requests = 0
            self.stats.paths.clear()

    # -- serving --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.accepted += 1
        self.stats.open += 1
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while (request := await _read_request(reader)) is not None:
                with self._lock:
                    fault = self._faults.popleft() if self._faults else None
                    self.stats.requests += 1
                    self.stats.paths.append(request.path)
                reply = well_formed(request, self.text)
                script = fault(reply) if fault is not None else ok(reply)
                if not await _play(script, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # shutdown; asyncio 3.11 logs handler tasks that end cancelled
        finally:
            self.stats.open -= 1
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head.strip():
        return None
    line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = line.split(" ", 2)
    headers = {}
    for item in lines:
        if item:
            name, _, value = item.partition(":")
            headers[name.strip().lower()] = value.strip()
    raw = await reader.readexactly(int(headers.get("content-length") or 0))
    url = urlsplit(target)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return _Request(method, url.path, dict(parse_qsl(url.query)), headers, body)


async def _play(
    script: Iterable[Step], reader: asyncio.StreamReader, w: asyncio.StreamWriter
) -> bool:
    """Run ``script``; whether the connection stays open for another request."""
    for step in script:
        if isinstance(step, bytes):
            w.write(step)
            await w.drain()
        elif isinstance(step, float):
            # A stall ends early when the client gives up and hangs up.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(1), step)
            if reader.at_eof():
                return False
        elif step == RESET:
            w.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            w.transport.abort()
            return False
        else:
            return False
    return True


# -- well-formed answers ----------------------------------------------------------------------


def well_formed(request: _Request, text: Callable[[str], str] | None = None) -> Reply:
    """The answer the stub server would give, with the assistant text replaced by
    ``text(original)`` when given."""
    wire = next((w for w in wires() if w.route(request.method, request.path, request.query)), None)
    if wire is None:
        kind, stream = _openai_kind(request), bool(request.body.get("stream"))
        body = request.body
    else:
        found = wire.route(request.method, request.path, request.query)
        assert found is not None
        kind = found
        body, stream = wire.to_openai(kind, request.path, request.query, request.body)
    response = answer(kind, request.path, body)
    content = ""
    if kind != "embeddings":
        choice = response["choices"][0]
        key, holder = ("content", choice["message"]) if kind == "chat" else ("text", choice)
        if text is not None:
            holder[key] = text(holder[key])
        content = holder[key]
    name = type(wire).__name__.removesuffix("Wire").lower() if wire else "openai"
    if wire is None:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        payload, headers = _openai(kind, response, stream, include_usage)
    else:
        payload, headers = wire.render(kind, response, request.body, stream)
    parts = payload if isinstance(payload, list) else [payload]
    headers = {"content-type": "application/json", **headers}
    return Reply(200, headers, parts, stream, content, name)


def _openai_kind(request: _Request) -> str:
    """The task of an OpenAI route, or of a serving endpoint's ``invocations`` by its body."""
    path = request.path.rstrip("/")
    for suffix, kind in (("chat/completions", "chat"), ("completions", "completions")):
        if path.endswith(suffix):
            return kind
    if path.endswith("embeddings") or "input" in request.body:
        return "embeddings"
    return "chat" if "messages" in request.body else "completions"


def _openai(
    kind: str, response: dict[str, Any], stream: bool, include_usage: bool
) -> tuple[bytes | list[bytes], dict[str, str]]:
    """OpenAI (chat) completion chunks, as the openai-python SDK's types shape them."""
    if not stream:
        return _dumps(response), {}
    choice = response["choices"][0]
    chat = kind == "chat"
    head = {k: response[k] for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk" if chat else "text_completion"

    def chunk(text: str | None, finish: str | None = None) -> dict[str, Any]:
        if not chat:
            item = {"index": 0, "text": text or "", "finish_reason": finish}
        else:
            item = {"index": 0, "delta": {} if text is None else {"content": text}}
            item["finish_reason"] = finish
        return {**head, "choices": [item]}

    text = choice["message"]["content"] if chat else choice["text"]
    events = [chunk(p) for p in pieces(text or "")]
    if chat:
        role = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        events.insert(0, {**head, "choices": [role]})
    events.append(chunk(None, choice["finish_reason"]))
    if include_usage:
        events.append({**head, "choices": [], "usage": response["usage"]})
    sse = [b"data: " + _dumps(e) + b"\n\n" for e in events]
    return [*sse, b"data: [DONE]\n\n"], {"content-type": "text/event-stream"}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


# -- scripts ----------------------------------------------------------------------------------

_REASONS = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 529: "Overloaded"}


def head(status: int, headers: dict[str, str], length: int | None) -> bytes:
    """Status line and headers; chunked transfer encoding when ``length`` is ``None``."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    framing = {"transfer-encoding": "chunked"} if length is None else {"content-length": length}
    lines += [f"{k}: {v}" for k, v in {**headers, **framing}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body."""
    return b"%X\r\n%s\r\n" % (len(data), data)


END = b"0\r\n\r\n"


def ok(reply: Reply) -> list[Step]:
    """The well-formed answer."""
    if not reply.stream:
        body = reply.parts[0]
        return [head(reply.status, reply.headers, len(body)) + body]
    return [head(reply.status, reply.headers, None), *map(chunk, reply.parts), END]


def with_parts(reply: Reply, parts: list[bytes], *, end: bool = True) -> list[Step]:
    """A streamed ``reply`` carrying ``parts`` instead, ending cleanly or not."""
    return [head(reply.status, reply.headers, None), *map(chunk, parts), *([END] if end else [])]


def with_body(reply: Reply, body: bytes, content_type: str | None = None) -> list[Step]:
    """``reply`` with another body (and content type), plain or as one chunk."""
    headers = {**reply.headers, **({"content-type": content_type} if content_type else {})}
    if reply.stream:
        return [head(reply.status, headers, None), chunk(body), END]
    return [head(reply.status, headers, len(body)) + body]


def status(code: int, headers: dict[str, str] | None = None) -> Fault:
    """Fail with ``code`` and the provider's error body for it."""

    def fault(reply: Reply) -> list[Step]:
        kind = "server_error" if code >= 500 else "rate_limit_error"
        error = StubHTTPError(code, f"Injected failure ({code}).", None, kind)
        wire = next((w for w in wires() if type(w).__name__.lower() == f"{reply.wire}wire"), None)
        body = wire.error(error) if wire is not None else _dumps(error.body())
        extra = {"content-type": "application/json", **(headers or {})}
        return [head(code, extra, len(body)) + body]

    return fault


# -- editing stream parts ---------------------------------------------------------------------


def edit_json(part: bytes, edit: Callable[[bytes], bytes], wire: str) -> bytes:
    """``part`` with the JSON it carries passed through ``edit``: the ``data:`` line of an SSE
    event, or the base64-wrapped model event of a Bedrock ``chunk`` frame (re-framed, so the
    CRCs stay right and only the JSON is wrong)."""
    if wire == "bedrock":
        headers, payload = parse_frame(part)
        outer = json.loads(payload)
        inner = edit(base64.b64decode(outer["bytes"]))
        outer["bytes"] = base64.b64encode(inner).decode()
        return frame(headers, json.dumps(outer).encode())
    start = part.index(b"data:") + 5
    end = part.index(b"\n", start)
    tail = part[end:]
    if part[end - 1 : end] == b"\r":
        end, tail = end - 1, part[end - 1 :]
    return part[:start] + edit(part[start:end]) + tail


def parse_frame(data: bytes) -> tuple[dict[str, str], bytes]:
    """Headers (string-valued, as Bedrock sends them) and payload of one event-stream frame."""
    total, head_len = struct.unpack(">II", data[:8])
    raw, at, headers = data[12 : 12 + head_len], 0, {}
    while at < len(raw):
        size = raw[at]
        name = raw[at + 1 : at + 1 + size].decode()
        length = struct.unpack(">H", raw[at + 2 + size : at + 4 + size])[0]
        headers[name] = raw[at + 4 + size : at + 4 + size + length].decode()
        at += 4 + size + length
    return headers, data[12 + head_len : total - 4]
