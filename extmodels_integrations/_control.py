"""The one control loop every call goes through: attempt, and on a typed error ask a policy
whether to try again, written once for plain calls and for streams, sync and async.

Retrying one target (the transport's :class:`RetryPolicy`: wait, then send again) and handing
a call over to the next served entity (the router's fallback: no wait, next entity) are the
same loop with different policies. The rule that a stream which already yielded is never
replayed is kept here and nowhere else. Pure: no httpx, no asyncio until an async loop runs.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from extmodels_integrations._events import Retry, emit
from extmodels_integrations._exceptions import APIError, ExternalModelError

__all__ = [
    "Policy",
    "RetryPolicy",
    "acall",
    "asleep",
    "astream",
    "call",
    "retry_after_seconds",
    "stream",
]

_log = logging.getLogger(__name__)

R = TypeVar("R")
T = TypeVar("T")


class Policy(Protocol):
    """Decides whether a failed attempt is followed by another."""

    def delay(self, attempt: int, error: ExternalModelError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to raise ``error``."""
        ...


@dataclass(slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; a server's advice wins when it is reasonable."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, error: ExternalModelError) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up."""
        wait = self._delay(attempt, error)
        if wait is not None:
            # A wait over a second is what a user notices as a hang: say why at INFO.
            level = logging.INFO if wait > 1 else logging.DEBUG
            _log.log(
                level,
                "retry %d of %d in %.2fs after %s",
                attempt + 1,
                self.max_retries,
                wait,
                error,
            )
            emit(Retry(attempt + 1, self.max_retries, wait, error))
        elif error.retryable and attempt:
            _log.debug("giving up after %d retries: %s", attempt, error)
        return wait

    def _delay(self, attempt: int, error: ExternalModelError) -> float | None:
        if attempt >= self.max_retries or not error.retryable:
            return None
        advised = error.retry_after if isinstance(error, APIError) else None
        if advised is not None:
            # Waiting minutes inside a call hangs the caller; surface the error instead.
            return advised if advised <= self.max_retry_after else None
        backoff: float = min(self.initial_delay * 2**attempt, self.max_delay)
        return backoff * (0.75 + random.random() * 0.25)


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


def call(policy: Policy, once: Callable[[int], R], sleep: Callable[[float], Any]) -> R:
    """``once(attempt)`` until it returns or ``policy`` gives up on its error."""
    attempt = 0
    while True:
        try:
            return once(attempt)
        except ExternalModelError as error:
            wait = policy.delay(attempt, error)
            if wait is None:
                raise
            sleep(wait)
            attempt += 1


async def acall(
    policy: Policy, once: Callable[[int], Awaitable[R]], sleep: Callable[[float], Any]
) -> R:
    """Async twin of :func:`call`; ``sleep`` returns an awaitable."""
    attempt = 0
    while True:
        try:
            return await once(attempt)
        except ExternalModelError as error:
            wait = policy.delay(attempt, error)
            if wait is None:
                raise
            await sleep(wait)
            attempt += 1


def stream(
    policy: Policy,
    open_stream: Callable[[int], Generator[T, None, None]],
    sleep: Callable[[float], Any],
) -> Generator[T, None, None]:
    """Yield from ``open_stream(attempt)``; a failure is retried only while nothing has been
    yielded (a replay would repeat text the caller already has)."""
    attempt = 0
    while True:
        started = False
        try:
            # Closed here rather than when collected: an abandoned stream frees its connection
            # at once.
            with contextlib.closing(open_stream(attempt)) as items:
                for item in items:
                    started = True
                    yield item
            return
        except ExternalModelError as error:
            wait = None if started else policy.delay(attempt, error)
            if wait is None:
                raise
            sleep(wait)
            attempt += 1


async def astream(
    policy: Policy,
    open_stream: Callable[[int], AsyncGenerator[T, None]],
    sleep: Callable[[float], Any],
) -> AsyncGenerator[T, None]:
    """Async twin of :func:`stream`; an async generator is only closed when awaited, so this
    closes it explicitly instead of leaving it to the event loop's finalizer."""
    attempt = 0
    while True:
        started = False
        try:
            async with contextlib.aclosing(open_stream(attempt)) as items:
                async for item in items:
                    started = True
                    yield item
            return
        except ExternalModelError as error:
            wait = None if started else policy.delay(attempt, error)
            if wait is None:
                raise
            await sleep(wait)
            attempt += 1


async def asleep(seconds: float) -> None:
    """``asyncio.sleep``, imported when first awaited: importing the core does not load
    asyncio (about 20 ms) for callers that never go async."""
    import asyncio  # here: async code runs only once asyncio is loaded

    await asyncio.sleep(seconds)


def no_wait(seconds: float) -> None:
    """The sleep of a policy that never waits (handing over to another served entity)."""


async def ano_wait(seconds: float) -> None:
    """Async twin of :func:`no_wait`."""
