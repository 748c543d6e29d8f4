"""Retries, fallbacks and rate-limit waits reported to LangChain's callbacks.

A retry goes to ``on_retry``, the place LangChain gives it (LangSmith shows it as a ``retry``
event of the run); its argument is a tenacity ``RetryCallState`` because that is what every
handler of ``on_retry`` reads (tenacity comes with langchain-core). A fallback to another
served entity and a local rate-limit wait have no place of their own: they go out as custom
events of the model's run (``astream_events`` shows them as ``on_custom_event``), named
:data:`FALLBACK_EVENT` and :data:`RATE_LIMIT_WAIT_EVENT`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from tenacity import Future, RetryCallState, Retrying

from extmodels_integrations._events import Event, Fallback, Observer, RateLimitWait, Retry

__all__ = ["FALLBACK_EVENT", "RATE_LIMIT_WAIT_EVENT", "async_reporting", "sync_observer"]

FALLBACK_EVENT = "extmodels_integrations.fallback"
RATE_LIMIT_WAIT_EVENT = "extmodels_integrations.rate_limit_wait"


def _retry_state(event: Retry) -> RetryCallState:
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = event.attempt
    outcome: Future = Future(event.attempt)
    outcome.set_exception(event.error)
    state.outcome = outcome
    # LangSmith reports it as "slept": the wait before the next attempt.
    state.idle_for = event.wait
    return state


def _custom(event: Fallback | RateLimitWait) -> tuple[str, dict[str, Any]]:
    if isinstance(event, Fallback):
        return FALLBACK_EVENT, {
            "endpoint": event.endpoint,
            "failed_entity": event.failed,
            "next_entity": event.next,
            "error_type": type(event.error).__name__,
            "error": str(event.error),
        }
    return RATE_LIMIT_WAIT_EVENT, {"endpoint": event.endpoint, "seconds": event.seconds}


def sync_observer(run_manager: CallbackManagerForLLMRun | None) -> Observer | None:
    """An observer reporting to ``run_manager``'s handlers, or ``None`` when it has none."""
    if run_manager is None or not run_manager.handlers:
        return None
    manager = CallbackManager(
        handlers=run_manager.handlers,
        parent_run_id=run_manager.parent_run_id,
        tags=run_manager.tags,
        metadata=run_manager.metadata,
    )

    def report(event: Event) -> None:
        if isinstance(event, Retry):
            run_manager.on_retry(_retry_state(event))
        else:
            manager.on_custom_event(*_custom(event), run_id=run_manager.run_id)

    return report


class _AsyncReporter:
    """The core emits from inside the event loop, synchronously: each report becomes a task
    (run while the call waits), and all of them are awaited before the model's run ends."""

    def __init__(self, run_manager: AsyncCallbackManagerForLLMRun) -> None:
        self._run = run_manager
        self._manager = AsyncCallbackManager(
            handlers=run_manager.handlers,
            parent_run_id=run_manager.parent_run_id,
            tags=run_manager.tags,
            metadata=run_manager.metadata,
        )
        self._pending: list[asyncio.Task[None]] = []

    def __call__(self, event: Event) -> None:
        self._pending.append(asyncio.get_running_loop().create_task(self._report(event)))

    async def _report(self, event: Event) -> None:
        if isinstance(event, Retry):
            await self._run.on_retry(_retry_state(event))
        else:
            await self._manager.on_custom_event(*_custom(event), run_id=self._run.run_id)

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        await asyncio.gather(*pending)


@asynccontextmanager
async def async_reporting(
    run_manager: AsyncCallbackManagerForLLMRun | None,
) -> AsyncIterator[Observer | None]:
    """An observer for ``run_manager`` (``None`` without handlers); its reports are delivered
    when the block ends."""
    if run_manager is None or not run_manager.handlers:
        yield None
        return
    reporter = _AsyncReporter(run_manager)
    try:
        yield reporter
    finally:
        await reporter.flush()
