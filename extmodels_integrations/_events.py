"""Retries, fallbacks and rate-limit waits as events, for the framework layers to report to
their own callback systems (LangChain ``on_retry`` / custom events, LlamaIndex instrumentation).

The core logs each of these under ``extmodels_integrations``; a framework call additionally
installs an observer for the duration of one step of its work. The observer lives in a
context variable so the control loop, the router and the rate limiter need no extra argument
threaded through every target, and set and reset happen within one synchronous step (one
``next()`` / one ``await``), so a generator suspended between steps never leaks or strands it.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from extmodels_integrations._exceptions import ExternalModelError

__all__ = [
    "Event",
    "Fallback",
    "Observer",
    "RateLimitWait",
    "Retry",
    "aobserved",
    "emit",
    "observed",
    "observing",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Retry:
    """Attempt ``attempt`` failed with ``error``; the next one goes out in ``wait`` seconds."""

    attempt: int
    max_retries: int
    wait: float
    error: ExternalModelError


@dataclass(frozen=True, slots=True)
class Fallback:
    """Served entity ``failed`` of ``endpoint`` failed with ``error``; ``next`` takes the call."""

    endpoint: str
    failed: str
    next: str
    error: ExternalModelError


@dataclass(frozen=True, slots=True)
class RateLimitWait:
    """A local rate limit of ``endpoint`` holds the call for ``seconds``."""

    endpoint: str
    seconds: float


Event = Retry | Fallback | RateLimitWait
Observer = Callable[[Event], None]

_observer: contextvars.ContextVar[Observer | None] = contextvars.ContextVar(
    "extmodels_integrations_observer", default=None
)


def emit(event: Event) -> None:
    """Hand ``event`` to the observer of the current call, if a framework installed one."""
    observer = _observer.get()
    if observer is not None:
        observer(event)


@contextmanager
def observing(observer: Observer | None) -> Iterator[None]:
    """Report the events of the calls made inside the block to ``observer``."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def observed(items: Iterator[T], observer: Observer | None) -> Iterator[T]:
    """``items``, each step taken with ``observer`` installed (retries and fallbacks of a
    stream happen inside its first step). Closing it closes ``items`` (its connection)."""
    try:
        while True:
            with observing(observer):
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


async def aobserved(items: AsyncIterator[T], observer: Observer | None) -> AsyncIterator[T]:
    """Async twin of :func:`observed`."""
    try:
        while True:
            with observing(observer):
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
            yield item
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
