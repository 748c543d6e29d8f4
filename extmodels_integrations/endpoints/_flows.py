"""The multi-call operations (wait for an endpoint, apply a file) written once as generators
that yield what to do (:class:`Call` a request, :class:`Sleep`) and receive the answer; the
sync and async clients only drive them. Pure: no I/O here."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from extmodels_integrations._exceptions import EndpointWaitTimeoutError
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations.endpoints._plan import Plan, Step, plan_apply, request
from extmodels_integrations.endpoints._state import Progress, readiness, state_summary

__all__ = ["ApplyResult", "Call", "Flow", "Sleep", "WaitOptions", "apply_flow", "send_flow"]

R = TypeVar("R")
MAX_POLL_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class Call:
    """Send ``request``; the answer is its JSON body (``None`` for a missing endpoint when
    ``missing_ok``)."""

    request: HttpRequest
    missing_ok: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause ``seconds`` between polls."""

    seconds: float


Flow = Generator[Call | Sleep, Any, R]


@dataclass(frozen=True, slots=True)
class WaitOptions:
    """How to wait for an endpoint: ``wait`` at all, for at most ``timeout`` seconds, polling
    first after ``poll_interval`` seconds (then up to 1.5 times longer each time, at most
    10 s), with ``progress`` (``None``: a status line on stderr when it is a terminal)."""

    wait: bool = True
    timeout: float = 1200.0
    poll_interval: float = 2.0
    progress: Callable[[str], Progress] | None = None
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What ``apply`` did: its :class:`Plan` (``action``, the changes), the endpoint as the
    workspace last returned it, and whether anything was sent."""

    plan: Plan
    endpoint: Mapping[str, Any] | None
    sent: bool

    @property
    def action(self) -> str:
        """``create``, ``update`` or ``none``."""
        return self.plan.action

    @property
    def changes(self) -> tuple[str, ...]:
        """One line per difference between the live endpoint and the file."""
        return self.plan.changes

    def requests(self) -> list[dict[str, Any]]:
        """The calls the plan makes, as ``--dry-run`` prints them (secrets as ``***``)."""
        return [step.shown(self.plan.name) for step in self.plan.steps]

    def __str__(self) -> str:
        return self.plan.describe()


def wait_flow(host: str, name: str, options: WaitOptions) -> Flow[Mapping[str, Any]]:
    """Poll the endpoint until it is ready; raise with its own state if it fails or the
    timeout passes."""
    progress = options.progress(name) if options.progress else Progress(name)
    start, delay = options.clock(), options.poll_interval
    try:
        while True:
            endpoint = yield Call(request(host, "GET", name))
            elapsed = options.clock() - start
            progress.update(endpoint, elapsed)
            if readiness(endpoint) == "ready":
                return dict(endpoint)
            if elapsed >= options.timeout:
                state = endpoint.get("state") or {}
                raise EndpointWaitTimeoutError(
                    f"endpoint '{name}' not ready after {options.timeout:g}s: "
                    f"{state_summary(endpoint)}; it keeps updating on the workspace: wait "
                    "again or give a longer timeout",
                    name=name,
                    state={k: str(v) for k, v in state.items()},
                )
            yield Sleep(min(delay, max(options.timeout - elapsed, 0.0)))
            delay = min(delay * 1.5, MAX_POLL_INTERVAL)
    finally:
        progress.close()


def send_flow(
    host: str, call: Call, name: str | None, options: WaitOptions
) -> Flow[Mapping[str, Any]]:
    """Send ``call``; then, when ``name`` is given and ``options.wait``, wait for the endpoint
    and return it as it is once ready."""
    answer = yield call
    if name is not None and options.wait:
        return (yield from wait_flow(host, name, options))
    return dict(answer or {})


def apply_flow(
    host: str, body: Mapping[str, Any], options: WaitOptions, *, dry_run: bool, force: bool
) -> Flow[ApplyResult]:
    """Read the live endpoint, plan, and (unless ``dry_run`` or nothing differs) make each
    call of the plan, waiting after a config change before the next."""
    name = str(body["name"])
    live = yield Call(request(host, "GET", name), missing_ok=True)
    plan = plan_apply(body, live, force)
    if dry_run or plan.action == "none":
        return ApplyResult(plan, live, sent=False)
    endpoint: Mapping[str, Any] | None = live
    waited_last = False
    for step in plan.steps:
        call = Call(_step_request(host, name, step))
        waits = step.waits and options.wait
        answer = yield from send_flow(host, call, name if waits else None, options)
        # Create and config updates answer with the endpoint; the other calls with their part.
        if step.suffix in (None, "/config"):
            endpoint = answer
        waited_last = waits
    if options.wait and not waited_last:
        endpoint = yield Call(request(host, "GET", name))
    return ApplyResult(plan, endpoint, sent=True)


def _step_request(host: str, name: str, step: Step) -> HttpRequest:
    if step.suffix is None:
        return request(host, step.method, body=step.body)
    return request(host, step.method, name, step.suffix, step.body)
