"""Retries, fallbacks and rate-limit waits reported to LlamaIndex's instrumentation.

LlamaIndex has no retry hook of its own; its instrumentation module is where every handler
(Arize Phoenix, Langfuse, OpenTelemetry, a user's ``BaseEventHandler``) listens, so each
becomes an event there: :class:`ExternalRetryEvent`, :class:`ExternalFallbackEvent` and
:class:`ExternalRateLimitWaitEvent`, dispatched under this module's dispatcher (it propagates
to the root one) and tied to the span of the LLM or embedding call that was active.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from llama_index.core.instrumentation.event_handlers import NullEventHandler
from llama_index.core.instrumentation.events import BaseEvent

# llama-index-core re-exports it without declaring it; this is its own (typed) package.
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.dispatcher import Dispatcher

from extmodels_integrations._events import (
    Event,
    Fallback,
    Observer,
    RateLimitWait,
    Retry,
    aobserved,
    observed,
)

__all__ = [
    "ExternalFallbackEvent",
    "ExternalRateLimitWaitEvent",
    "ExternalRetryEvent",
    "aobserve_stream",
    "observe_stream",
    "observer",
]

T = TypeVar("T")

dispatcher = get_dispatcher(__name__)


class ExternalRetryEvent(BaseEvent):
    """Attempt ``attempt`` of ``max_retries + 1`` failed; the next goes out in ``wait`` s."""

    attempt: int
    max_retries: int
    wait: float
    error_type: str
    error: str

    @classmethod
    def class_name(cls) -> str:
        """Event name."""
        return "ExternalRetryEvent"


class ExternalFallbackEvent(BaseEvent):
    """Served entity ``failed_entity`` of ``endpoint`` failed; ``next_entity`` takes the call."""

    endpoint: str
    failed_entity: str
    next_entity: str
    error_type: str
    error: str

    @classmethod
    def class_name(cls) -> str:
        """Event name."""
        return "ExternalFallbackEvent"


class ExternalRateLimitWaitEvent(BaseEvent):
    """A local rate limit of ``endpoint`` holds the call for ``seconds``."""

    endpoint: str
    seconds: float

    @classmethod
    def class_name(cls) -> str:
        """Event name."""
        return "ExternalRateLimitWaitEvent"


def _event(event: Event) -> BaseEvent:
    if isinstance(event, Retry):
        return ExternalRetryEvent(
            attempt=event.attempt,
            max_retries=event.max_retries,
            wait=event.wait,
            error_type=type(event.error).__name__,
            error=str(event.error),  # already masked: errors never carry a credential
        )
    if isinstance(event, Fallback):
        return ExternalFallbackEvent(
            endpoint=event.endpoint,
            failed_entity=event.failed,
            next_entity=event.next,
            error_type=type(event.error).__name__,
            error=str(event.error),
        )
    assert isinstance(event, RateLimitWait)
    return ExternalRateLimitWaitEvent(endpoint=event.endpoint, seconds=event.seconds)


def _report(event: Event) -> None:
    dispatcher.event(_event(event))


def _listened() -> bool:
    # Walks the dispatcher chain the way Dispatcher.event does; the root one only holds a
    # NullEventHandler until someone registers, and then nothing needs observing.
    current: Dispatcher | None = dispatcher
    while current is not None:
        if any(not isinstance(h, NullEventHandler) for h in current.event_handlers):
            return True
        current = current.parent if current.propagate else None
    return False


def observer() -> Observer | None:
    """The observer for one call: ``None`` while no event handler listens (no cost then)."""
    return _report if _listened() else None


def observe_stream(items: Iterator[T]) -> Iterator[T]:
    """``items``, their retries and fallbacks reported (the stream's first step holds them)."""
    report = observer()
    return items if report is None else observed(items, report)


def aobserve_stream(items: AsyncIterator[T]) -> AsyncIterator[T]:
    """Async twin of :func:`observe_stream`."""
    report = observer()
    return items if report is None else aobserved(items, report)
