"""The only module that imports httpx: clients, timeouts, retries and stream decoding.

Retries are bounded, use exponential backoff with jitter, honor ``Retry-After`` /
``retry-after-ms`` / ``x-should-retry``, and never replay a stream that already yielded
anything. Streams also get a stall timeout: httpx's read timeout only notices silence, while a
server that keeps sending keep-alive comments but no data would otherwise hang a caller forever.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import random
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from extmodels_integrations._exceptions import (
    APIError,
    ConnectionError,
    ExternalModelError,
    StreamError,
    TimeoutError,
)
from extmodels_integrations._wire import (
    ErrorMapper,
    HttpRequest,
    SSEDecoder,
    SSEEvent,
    StreamDecoder,
)

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "ErrorMapper",
    "HttpRequest",
    "RetryPolicy",
    "SSEDecoder",
    "SSEEvent",
    "StreamDecoder",
    "Transport",
    "asleep",
    "retry_after_seconds",
]

E = TypeVar("E")


async def asleep(seconds: float) -> None:
    """``asyncio.sleep``, imported when first awaited: importing the core does not load
    asyncio (about 20 ms) for callers that never go async."""
    import asyncio  # here: async code runs only once asyncio is loaded

    await asyncio.sleep(seconds)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The delay a server asks for, from ``retry-after-ms`` or ``retry-after`` (seconds or date)."""
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _seconds(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    # float() accepts "nan" and "inf"; neither is a delay.
    return max(number, 0.0) if number is not None and math.isfinite(number) else None


@dataclass(slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; a server's advice wins when it is reasonable."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, error: ExternalModelError) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up."""
        if attempt >= self.max_retries or not error.retryable:
            return None
        advised = error.retry_after if isinstance(error, APIError) else None
        if advised is not None:
            # Waiting minutes inside a call hangs the caller; surface the error instead.
            return advised if advised <= self.max_retry_after else None
        backoff: float = min(self.initial_delay * 2**attempt, self.max_delay)
        return backoff * (0.75 + random.random() * 0.25)


def _status_error(
    status: int, headers: Mapping[str, str], body: bytes, map_error: ErrorMapper
) -> APIError:
    error = map_error(status, headers, body)
    if error.retry_after is None:
        error.retry_after = retry_after_seconds(headers)
    should_retry = headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        error.retryable = should_retry == "true"
    return error


def _decode_json(body: bytes, provider: str | None) -> Any:
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise StreamError(
            f"response is not valid UTF-8 (byte {exc.start}: {exc.reason})", provider=provider
        ) from None
    except ValueError:
        snippet = body[:200].decode("utf-8", "replace")
        raise StreamError(f"response is not valid JSON: {snippet!r}", provider=provider) from None


# Content types of the streams we decode; anything else that fails to decode is explained by
# what the server actually sent (a proxy's HTML page, a JSON error with status 200...).
_STREAM_TYPES = ("text/event-stream", "application/vnd.amazon.eventstream")


class _Sniff:
    """Keeps the first bytes of a stream, to explain a stream that was not one."""

    __slots__ = ("_headers", "head")

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers
        self.head = b""

    def see(self, raw: bytes) -> None:
        if len(self.head) < 200:
            self.head += raw[: 200 - len(self.head)]

    def explain(self, error: StreamError) -> StreamError:
        """``error``, or the reason it happened when the body was not a stream at all."""
        kind = self._headers.get("content-type", "")
        if kind.split(";")[0].strip().lower() in _STREAM_TYPES:
            return error
        snippet = self.head.decode("utf-8", "replace")
        return StreamError(
            f"expected a stream but the server answered with content-type {kind or 'none'!r}: "
            f"{snippet!r}",
            provider=error.provider,
        )


class Transport:
    """Sends provider requests over httpx with timeouts, retries and stream decoding.

    The httpx clients are created on first use; pass ``http_client`` / ``http_async_client``
    to share a pool or to add proxies (they are then never closed by this object). Async
    clients are kept per event loop, because an httpx pool cannot outlive the loop it was
    created on and users do call ``asyncio.run`` more than once.
    """

    def __init__(
        self,
        *,
        provider: str | None = None,
        timeout: float | None = 60.0,
        connect_timeout: float = 10.0,
        stall_timeout: float | None = 60.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.provider = provider
        self.retry = RetryPolicy(max_retries=max_retries)
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._stream_timeout = httpx.Timeout(stall_timeout, connect=connect_timeout)
        self._stall = stall_timeout
        self._client = http_client
        self._owns_client = http_client is None
        self._async_client = http_async_client
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep
        self.asleep: Callable[[float], Any] = asleep

    # -- clients -----------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """The sync httpx client, created on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(timeout=self._timeout)
        return self._client

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The async httpx client of the running event loop, created on first use there."""
        if self._async_client is not None:
            return self._async_client
        import asyncio  # here: async code runs only once asyncio is loaded

        loop = asyncio.get_running_loop()
        entry = self._async_clients.get(loop)
        if entry is None:
            with self._lock:  # loops of other threads may be adding theirs
                # A pool refers to its loop, so a finished loop stays alive as a key while its
                # entry is here: drop those whose pools were closed as their loops shut down.
                for done, old in list(self._async_clients.items()):
                    if done.is_closed() and old.closed:
                        del self._async_clients[done]
                entry = _LoopClient(httpx.AsyncClient(timeout=self._timeout))
                self._async_clients[loop] = entry
        return entry.client

    def close(self) -> None:
        """Close the clients this transport created (not injected ones)."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async client of the running loop and the sync client."""
        import asyncio  # here: async code runs only once asyncio is loaded

        entry = self._async_clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry.aclose()
        self.close()

    # -- plain requests ----------------------------------------------------------------------

    def send_json(self, request: HttpRequest, map_error: ErrorMapper) -> tuple[Any, httpx.Headers]:
        """Send ``request`` with retries and return the decoded JSON body and headers."""
        attempt = 0
        while True:
            try:
                response = self._send(self.client, request)
                if response.status_code >= 400:
                    raise _status_error(
                        response.status_code, response.headers, response.content, map_error
                    )
                return _decode_json(response.content, self.provider), response.headers
            except ExternalModelError as error:
                wait = self.retry.delay(attempt, error)
                if wait is None:
                    raise
                self.sleep(wait)
                attempt += 1

    async def asend_json(
        self, request: HttpRequest, map_error: ErrorMapper
    ) -> tuple[Any, httpx.Headers]:
        """Async twin of :meth:`send_json`."""
        attempt = 0
        while True:
            try:
                response = await self._asend(self.async_client, request)
                if response.status_code >= 400:
                    raise _status_error(
                        response.status_code, response.headers, response.content, map_error
                    )
                return _decode_json(response.content, self.provider), response.headers
            except ExternalModelError as error:
                wait = self.retry.delay(attempt, error)
                if wait is None:
                    raise
                await self.asleep(wait)
                attempt += 1

    def _send(self, client: httpx.Client, request: HttpRequest) -> httpx.Response:
        with self._translate(stream=False):
            return client.request(
                request.method,
                request.url,
                json=request.json if request.content is None else None,
                content=request.content,
                headers=request.headers,
                params=request.params,
            )

    async def _asend(self, client: httpx.AsyncClient, request: HttpRequest) -> httpx.Response:
        with self._translate(stream=False):
            return await client.request(
                request.method,
                request.url,
                json=request.json if request.content is None else None,
                content=request.content,
                headers=request.headers,
                params=request.params,
            )

    # -- streams -----------------------------------------------------------------------------

    def stream(
        self,
        request: HttpRequest,
        map_error: ErrorMapper,
        decoder: Callable[[], StreamDecoder[E]],
    ) -> Iterator[list[E]]:
        """Yield the events each network read completed, as one list; retry only while nothing
        has been yielded. One generator step per read rather than per event: every layer
        above iterates the list, and a step costs more than the loop (measured on 200- and
        2,000-chunk streams, most visibly through async generators)."""
        attempt = 0
        while True:
            yielded = False
            try:
                with (
                    self._translate(stream=True),
                    self.client.stream(
                        request.method,
                        request.url,
                        json=request.json if request.content is None else None,
                        content=request.content,
                        headers=request.headers,
                        params=request.params,
                        timeout=self._stream_timeout,
                    ) as response,
                ):
                    if response.status_code >= 400:
                        response.read()
                        raise _status_error(
                            response.status_code, response.headers, response.content, map_error
                        )
                    watch = _StallWatch(self._stall, self.provider)
                    sniff = _Sniff(response.headers)
                    dec = decoder()
                    try:
                        for raw in response.iter_bytes():
                            sniff.see(raw)
                            events = dec.feed(raw)
                            watch.check(bool(events))
                            if events:
                                yielded = True
                                yield events
                        tail = dec.close()
                    except StreamError as error:
                        raise error if yielded else sniff.explain(error) from None
                    if tail:
                        yielded = True
                        yield tail
                return
            except ExternalModelError as error:
                wait = None if yielded else self.retry.delay(attempt, error)
                if wait is None:
                    raise
                self.sleep(wait)
                attempt += 1

    async def astream(
        self,
        request: HttpRequest,
        map_error: ErrorMapper,
        decoder: Callable[[], StreamDecoder[E]],
    ) -> AsyncIterator[list[E]]:
        """Async twin of :meth:`stream`."""
        attempt = 0
        while True:
            yielded = False
            try:
                with self._translate(stream=True):
                    async with self.async_client.stream(
                        request.method,
                        request.url,
                        json=request.json if request.content is None else None,
                        content=request.content,
                        headers=request.headers,
                        params=request.params,
                        timeout=self._stream_timeout,
                    ) as response:
                        if response.status_code >= 400:
                            await response.aread()
                            raise _status_error(
                                response.status_code,
                                response.headers,
                                response.content,
                                map_error,
                            )
                        watch = _StallWatch(self._stall, self.provider)
                        sniff = _Sniff(response.headers)
                        dec = decoder()
                        try:
                            async for raw in response.aiter_bytes():
                                sniff.see(raw)
                                events = dec.feed(raw)
                                watch.check(bool(events))
                                if events:
                                    yielded = True
                                    yield events
                            tail = dec.close()
                        except StreamError as error:
                            raise error if yielded else sniff.explain(error) from None
                        if tail:
                            yielded = True
                            yield tail
                return
            except ExternalModelError as error:
                wait = None if yielded else self.retry.delay(attempt, error)
                if wait is None:
                    raise
                await self.asleep(wait)
                attempt += 1

    def _translate(self, *, stream: bool) -> _HttpxErrors:
        timeout = self._stream_timeout if stream else self._timeout
        return _HttpxErrors(
            self.provider,
            connect=timeout.connect,
            read=timeout.read,
            read_setting="stall_timeout" if stream else "timeout",
        )


class _LoopClient:
    """An async client that is closed when its event loop shuts down.

    ``asyncio.run`` (and every runner that shuts down cleanly) closes the async generators
    still open on the loop before closing it. A generator started here, parked at its
    ``yield``, is one of them: closing it closes the client on its own loop, so a script that
    calls ``asyncio.run`` per request does not leave a pool of open sockets behind per loop.
    """

    __slots__ = ("_guard", "client", "closed")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        #: Whether the client was closed (by :meth:`aclose` or as its loop shut down). A loop
        #: closed without shutting down its async generators leaves it open; dropping it then
        #: would only end in an "Event loop is closed" error when it is collected.
        self.closed = False
        self._guard = self._close_at_loop_end()
        # Run it to its yield now: that registers it with the running loop (the loop only
        # tracks async generators that started) without awaiting anything.
        with contextlib.suppress(StopIteration):
            self._guard.asend(None).send(None)

    async def aclose(self) -> None:
        """Close the client now (it is not closed again when the loop ends)."""
        await self._guard.aclose()

    async def _close_at_loop_end(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            self.closed = True
            await self.client.aclose()


class _StallWatch:
    """Raises when bytes keep arriving but no event completes for longer than the limit."""

    __slots__ = ("_last", "_limit", "_provider")

    def __init__(self, limit: float | None, provider: str | None) -> None:
        self._limit = limit
        self._provider = provider
        self._last = time.monotonic()

    def check(self, progressed: bool) -> None:
        if self._limit is None:
            return
        now = time.monotonic()
        if progressed:
            self._last = now
        elif now - self._last > self._limit:
            raise TimeoutError(
                f"stream stalled: no data for {self._limit:g}s (stall_timeout)",
                provider=self._provider,
            )


class _HttpxErrors:
    """Context manager that turns httpx transport errors into our typed errors."""

    __slots__ = ("_connect", "_provider", "_read", "_read_setting")

    def __init__(
        self,
        provider: str | None,
        *,
        connect: float | None = None,
        read: float | None = None,
        read_setting: str = "timeout",
    ) -> None:
        self._provider = provider
        # Which of our settings ran out goes into the message, so users know what to raise.
        self._connect = connect
        self._read = read
        self._read_setting = read_setting

    def _hint(self, kind: str) -> str:
        if kind == "ConnectTimeout" and self._connect is not None:
            return f"no connection within connect_timeout={self._connect:g}s"
        if kind == "ReadTimeout" and self._read is not None:
            return f"no data for {self._read_setting}={self._read:g}s"
        return "the request timed out"

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or not isinstance(exc, httpx.HTTPError):
            return
        where = f" ({self._provider})" if self._provider else ""
        if isinstance(exc, httpx.TimeoutException):
            kind = type(exc).__name__
            raise TimeoutError(
                f"{kind}{where}: {self._hint(kind)}", provider=self._provider
            ) from exc
        raise ConnectionError(
            f"{type(exc).__name__}{where}: {exc}", provider=self._provider
        ) from exc
