"""The gateway's HTTP client to the providers: httpx's interface on aiohttp's connection pool.

httpx (the core's client) spends more CPU per request in its pool and anyio layers than the
gateway's whole routing does; on 2 cores that capped the gateway at a third of MLflow's
aiohttp-based one (benchmarks/RESULTS-gateway.md). ``httpx-aiohttp`` (the transport the OpenAI
SDK offers as ``DefaultAioHttpClient``) keeps httpx's request and response objects, so the core
and every provider adapter run unchanged; only the gateway, which owns its client, uses it.

One correction on top: that library maps every ``aiohttp.ClientConnectionError`` to
``httpx.ConnectTimeout``, so a refused connection or a provider that drops it mid-answer would be
reported as "no connection within connect_timeout", and a body cut short is a ReadError where httpx
says RemoteProtocolError. Each becomes the error httpx itself raises for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["upstream_client"]

# httpx keeps 20 idle connections by default: with more requests in flight than that, every answer
# past the 20th would close its provider connection and the next request open a new one.
_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=256)


def _corrected(exc: httpx.TransportError) -> httpx.TransportError:
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientPayloadError):  # a body cut short, as httpx names it
        return httpx.RemoteProtocolError(f"incomplete response body: {cause}")
    if not isinstance(exc, httpx.ConnectTimeout) or isinstance(cause, aiohttp.ServerTimeoutError):
        return exc
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, unreachable, bad DNS name
        return httpx.ConnectError(str(cause))
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(f"server disconnected: {cause}")
    return httpx.ReadError(str(cause or exc))


class _Body(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise _corrected(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._inner = AiohttpTransport(limits=_LIMITS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            raise _corrected(exc) from exc.__cause__
        if not isinstance(response.stream, httpx.AsyncByteStream):
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Body(response.stream),
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def upstream_client() -> httpx.AsyncClient:
    """The client a gateway process sends every provider request with."""
    return httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0), transport=_Transport())
