"""What the transport does with a response's bytes, without httpx: typed errors from error
statuses, JSON bodies, and :class:`StreamReader`, the per-read state of a stream (decoder,
stall watch, the explanation of a body that was not a stream). Shared by the sync and async
drivers in :mod:`extmodels_integrations._transport`."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from extmodels_integrations._control import retry_after_seconds
from extmodels_integrations._exceptions import APIError, APITimeoutError, MalformedResponseError
from extmodels_integrations._wire import ErrorMapper, StreamDecoder

__all__ = ["StreamReader", "decode_json", "public_url", "status_error"]

E = TypeVar("E")


def public_url(url: str) -> str:
    """``url`` as errors and logs show it: no user info, query string or fragment (signed
    URLs and some gateways carry credentials there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def status_error(
    status: int, headers: Mapping[str, str], body: bytes, map_error: ErrorMapper
) -> APIError:
    """The typed error for an error response, with the retry advice its headers carry."""
    error = map_error(status, headers, body)
    if error.retry_after is None:
        error.retry_after = retry_after_seconds(headers)
    should_retry = headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        error.retryable = should_retry == "true"
    return error


def decode_json(body: bytes, provider: str | None) -> Any:
    """The JSON body of a response, or a :class:`MalformedResponseError` saying what came
    instead."""
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise MalformedResponseError(
            f"response is not valid UTF-8 (byte {exc.start}: {exc.reason})", provider=provider
        ) from None
    except ValueError:
        snippet = body[:200].decode("utf-8", "replace")
        raise MalformedResponseError(
            f"response is not valid JSON: {snippet!r}", provider=provider
        ) from None


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

    def explain(self, error: MalformedResponseError) -> MalformedResponseError:
        """``error``, or the reason it happened when the body was not a stream at all."""
        kind = self._headers.get("content-type", "")
        if kind.split(";")[0].strip().lower() in _STREAM_TYPES:
            return error
        snippet = self.head.decode("utf-8", "replace")
        return MalformedResponseError(
            f"expected a stream but the server answered with content-type {kind or 'none'!r}: "
            f"{snippet!r}",
            provider=error.provider,
        )


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
            raise APITimeoutError(
                f"stream stalled: no data for {self._limit:g}s (stall_timeout)",
                provider=self._provider,
            )


class StreamReader(Generic[E]):
    """Turns each network read of a stream into the events it completed.

    A decoding error before anything was yielded is explained by what the server actually
    sent; one after is raised as it is.
    """

    __slots__ = ("_decoder", "_sniff", "_watch", "_yielded")

    def __init__(
        self,
        headers: Mapping[str, str],
        decoder: StreamDecoder[E],
        stall: float | None,
        provider: str | None,
    ) -> None:
        self._decoder = decoder
        self._sniff = _Sniff(headers)
        self._watch = _StallWatch(stall, provider)
        self._yielded = False

    def feed(self, raw: bytes) -> list[E]:
        """The events ``raw`` completed (often none)."""
        self._sniff.see(raw)
        try:
            events = self._decoder.feed(raw)
        except MalformedResponseError as error:
            raise self._explained(error) from None
        self._watch.check(bool(events))
        self._yielded = self._yielded or bool(events)
        return events

    def close(self) -> list[E]:
        """The events left when the byte stream ends; raises if it was cut short."""
        try:
            return self._decoder.close()
        except MalformedResponseError as error:
            raise self._explained(error) from None

    def _explained(self, error: MalformedResponseError) -> MalformedResponseError:
        return error if self._yielded else self._sniff.explain(error)
