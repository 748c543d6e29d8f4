"""What the errors of the fault matrix say: a careful user reads the message to decide what to
fix, so it must name the real cause and the setting that governs it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations._exceptions import APITimeoutError, MalformedResponseError
from tests.reliability import faults as F
from tests.reliability.conftest import FORMATS, LIMITS, STALL_TIMEOUT, TIMEOUT, Format
from tests.reliability.fault_server import FaultServer
from tests.support.wires.vertex import TokenServer

MESSAGES = [{"role": "user", "content": "Say QQ please"}]


def _error(
    fmt: Format, server: FaultServer, tokens: TokenServer, stream: bool, asynchronous: bool
) -> Exception:
    client = ExternalClient(
        **fmt.target(server.base_url, tokens.uri), **{**LIMITS, "max_retries": 0}
    )

    async def acall() -> Any:
        async with client:
            if stream:
                return [c async for c in client.astream_chat(messages=MESSAGES)]
            return await client.achat(messages=MESSAGES)

    def call() -> Any:
        with client:
            if stream:
                return list(client.stream_chat(messages=MESSAGES))
            return client.chat(messages=MESSAGES)

    with pytest.raises(Exception) as caught:
        asyncio.run(acall()) if asynchronous else call()
    return caught.value


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
def test_an_html_page_instead_of_a_stream_is_named_as_such(
    fmt: Format, asynchronous: bool, fault_server: FaultServer, tokens: TokenServer
) -> None:
    # Before: "stream ended before the model finished ... the connection was probably cut"
    # (or, for Bedrock, "prelude CRC mismatch"), which sends the user chasing the network.
    fault_server.inject(F.wrong_content_type)
    error = _error(fmt, fault_server, tokens, True, asynchronous)
    assert isinstance(error, MalformedResponseError)
    assert "text/html" in str(error) and "502 Bad Gateway" in str(error)
    assert "connection was probably cut" not in str(error)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_timeout_names_the_setting_that_ran_out(
    stream: bool, asynchronous: bool, fault_server: FaultServer, tokens: TokenServer
) -> None:
    # Before: "ReadTimeout (openai): the request timed out" for both.
    fault_server.inject(F.stall_mid)
    error = _error(FORMATS[0], fault_server, tokens, stream, asynchronous)
    assert isinstance(error, APITimeoutError)
    setting = f"stall_timeout={STALL_TIMEOUT:g}s" if stream else f"timeout={TIMEOUT:g}s"
    assert setting in str(error)


def test_a_body_that_is_not_utf8_is_named_as_such(
    fault_server: FaultServer, tokens: TokenServer
) -> None:
    fault_server.inject(F.invalid_utf8_split)
    error = _error(FORMATS[0], fault_server, tokens, False, False)
    assert isinstance(error, MalformedResponseError) and "not valid UTF-8" in str(error)
