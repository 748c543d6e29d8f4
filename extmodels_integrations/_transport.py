"""The only module that imports httpx: clients, timeouts, and the I/O drivers of a call.

Retries are bounded, use exponential backoff with jitter, honor ``Retry-After`` /
``retry-after-ms`` / ``x-should-retry``, and never replay a stream that already yielded
anything: the loop and its policy live in :mod:`~extmodels_integrations._control`, what is
done with the bytes in :mod:`~extmodels_integrations._reading`. Streams also get a stall
timeout: httpx's read timeout only notices silence, while a server that keeps sending
keep-alive comments but no data would otherwise hang a caller forever.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from extmodels_integrations import _control
from extmodels_integrations._control import RetryPolicy, asleep, retry_after_seconds
from extmodels_integrations._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ExternalModelError,
)
from extmodels_integrations._reading import StreamReader, decode_json, public_url, status_error
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
_log = logging.getLogger(__name__)


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
        return _control.call(self.retry, lambda _: self._json(request, map_error), self.sleep)

    def send_json_once(
        self, request: HttpRequest, map_error: ErrorMapper
    ) -> tuple[Any, httpx.Headers]:
        """:meth:`send_json` without retries, for questions a failure only leaves unanswered."""
        return self._json(request, map_error)

    async def asend_json(
        self, request: HttpRequest, map_error: ErrorMapper
    ) -> tuple[Any, httpx.Headers]:
        """Async twin of :meth:`send_json`."""
        return await _control.acall(
            self.retry, lambda _: self._ajson(request, map_error), self.asleep
        )

    def _json(self, request: HttpRequest, map_error: ErrorMapper) -> tuple[Any, httpx.Headers]:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s (%s)", request.method, public_url(request.url), self.provider)
        with self._translate(request, stream=False):
            response = self.client.request(**_arguments(request))
            return self._body(response, map_error), response.headers

    async def _ajson(
        self, request: HttpRequest, map_error: ErrorMapper
    ) -> tuple[Any, httpx.Headers]:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s (%s)", request.method, public_url(request.url), self.provider)
        with self._translate(request, stream=False):
            response = await self.async_client.request(**_arguments(request))
            return self._body(response, map_error), response.headers

    def _body(self, response: httpx.Response, map_error: ErrorMapper) -> Any:
        if response.status_code >= 400:
            raise status_error(response.status_code, response.headers, response.content, map_error)
        return decode_json(response.content, self.provider)

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
        return _control.stream(
            self.retry, lambda _: self._stream(request, map_error, decoder), self.sleep
        )

    def astream(
        self,
        request: HttpRequest,
        map_error: ErrorMapper,
        decoder: Callable[[], StreamDecoder[E]],
    ) -> AsyncIterator[list[E]]:
        """Async twin of :meth:`stream`."""
        return _control.astream(
            self.retry, lambda _: self._astream(request, map_error, decoder), self.asleep
        )

    def _stream(
        self, request: HttpRequest, map_error: ErrorMapper, decoder: Callable[[], StreamDecoder[E]]
    ) -> Generator[list[E], None, None]:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s (%s, stream)", request.method, public_url(request.url), self.provider)
        with (
            self._translate(request, stream=True),
            self.client.stream(**_arguments(request), timeout=self._stream_timeout) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise status_error(
                    response.status_code, response.headers, response.content, map_error
                )
            reader = StreamReader(response.headers, decoder(), self._stall, self.provider)
            for raw in response.iter_bytes():
                events = reader.feed(raw)
                if events:
                    yield events
            tail = reader.close()
            if tail:
                yield tail

    async def _astream(
        self, request: HttpRequest, map_error: ErrorMapper, decoder: Callable[[], StreamDecoder[E]]
    ) -> AsyncGenerator[list[E], None]:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s (%s, stream)", request.method, public_url(request.url), self.provider)
        with self._translate(request, stream=True):
            async with self.async_client.stream(
                **_arguments(request), timeout=self._stream_timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise status_error(
                        response.status_code, response.headers, response.content, map_error
                    )
                reader = StreamReader(response.headers, decoder(), self._stall, self.provider)
                async for raw in response.aiter_bytes():
                    events = reader.feed(raw)
                    if events:
                        yield events
                tail = reader.close()
                if tail:
                    yield tail

    def _translate(self, request: HttpRequest, *, stream: bool) -> _HttpxErrors:
        timeout = self._stream_timeout if stream else self._timeout
        return _HttpxErrors(
            self.provider,
            request.url,
            connect=timeout.connect,
            read=timeout.read,
            read_setting="stall_timeout" if stream else "timeout",
        )


def _arguments(request: HttpRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.url,
        "json": request.json if request.content is None else None,
        "content": request.content,
        "headers": request.headers,
        "params": request.params,
    }


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


class _HttpxErrors:
    """Context manager that turns httpx transport errors into our typed errors, and says in
    every error of ours raised inside it which URL the request went to."""

    __slots__ = ("_connect", "_provider", "_read", "_read_setting", "_url")

    def __init__(
        self,
        provider: str | None,
        url: str,
        *,
        connect: float | None = None,
        read: float | None = None,
        read_setting: str = "timeout",
    ) -> None:
        self._provider = provider
        # The request's URL; shown only once something failed (public_url parses it).
        self._url = url
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
        if isinstance(exc, ExternalModelError):
            exc.locate(url=public_url(self._url))
            return
        if exc is None or not isinstance(exc, httpx.HTTPError):
            return
        url = public_url(self._url)
        where = f" ({', '.join(filter(None, (self._provider, url)))})"
        error: ExternalModelError
        if isinstance(exc, httpx.TimeoutException):
            kind = type(exc).__name__
            error = APITimeoutError(f"{kind}{where}: {self._hint(kind)}", provider=self._provider)
        else:
            error = APIConnectionError(
                f"{type(exc).__name__}{where}: {exc}", provider=self._provider
            )
        error.url = url
        raise error from exc
