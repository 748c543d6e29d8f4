"""The gateway's aiohttp-backed client raises the httpx errors httpx itself would: a provider
that drops the connection is not reported as a connect timeout."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from extmodels_integrations.gateway._upstream import upstream_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> None:
    # The whole request, body included: a socket closed with unread bytes in its buffer sends a
    # reset, not an orderly close, and the client would see "connection reset" instead.
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length:\s*(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.close()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    # SO_LINGER with a zero timeout makes close() send RST.
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _half_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    await writer.drain()
    writer.close()


async def _ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()
    writer.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _post(url: str) -> httpx.Response:
    client = upstream_client()
    try:
        return await client.post(url, json={"a": 1})
    finally:
        await client.aclose()


def test_a_provider_that_hangs_up_is_a_protocol_error_not_a_connect_timeout() -> None:
    async def run() -> None:
        async with _server(_hang_up) as url:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await _post(url)
        assert not isinstance(caught.value, httpx.TimeoutException)

    asyncio.run(run())


def test_a_connection_reset_is_a_read_error_as_in_httpx() -> None:
    async def run() -> None:
        async with _server(_reset) as url:
            with pytest.raises(httpx.ReadError) as caught:
                await _post(url)
        assert not isinstance(caught.value, httpx.TimeoutException)

    asyncio.run(run())


def test_a_body_cut_short_is_a_protocol_error_as_in_httpx() -> None:
    async def run() -> None:
        async with _server(_half_body) as url:
            with pytest.raises(httpx.RemoteProtocolError):
                await _post(url)

    asyncio.run(run())


def test_nobody_listening_is_a_connect_error() -> None:
    with pytest.raises(httpx.ConnectError):
        asyncio.run(_post(f"http://127.0.0.1:{_closed_port()}"))


def test_an_answer_arrives_whole_with_its_headers() -> None:
    async def run() -> None:
        async with _server(_ok) as url:
            response = await _post(url)
        assert (response.status_code, response.text) == (200, "ok")
        assert response.headers["content-length"] == "2"

    asyncio.run(run())
