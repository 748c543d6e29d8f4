"""Running an endpoint config locally: traffic split, client-side rate limits, fallbacks.

:class:`Router` sits in front of one client per served entity. Each call takes one rate-limit
slot, picks an entity by the traffic split and, when fallbacks are on, hands a retryable failure
(429, 5xx, connection, timeout) that happened before anything was streamed to the next entity,
in served-entity order and round the list, as the service's ``ai_gateway.fallback_config``
documents. Results say in their ``metadata`` which served entity and provider answered.

Rate limits are shared by every thread and asyncio task of the process through one registry:
two clients built from configs with the same endpoint name and the same limit share the slots.
Key ``endpoint`` gives one budget to the endpoint; key ``user`` gives one per local user — the
``rate_limit_user`` a client is given (for instance the end user a web app serves), by default
the operating-system login name, so a single-user process sees the same budget either way.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from . import _control
from ._control import asleep
from ._endpoint_config import EndpointConfig, RateLimit
from ._events import Fallback, RateLimitWait, emit
from ._exceptions import ExternalModelError, RateLimitError
from ._types import ChatChunk, ChatResponse, CompletionChunk, CompletionResponse, EmbeddingsResponse
from ._warn import warn_user

__all__ = [
    "RateLimitBehavior",
    "RateLimiter",
    "Router",
    "TrafficSplit",
    "rate_limiter",
    "routing_metadata",
]

_log = logging.getLogger(__name__)

RateLimitBehavior = Literal["wait", "raise"]
ROUTING_KEYS = ("endpoint", "served_entity", "served_entity_provider", "fallback", "failed")

C = TypeVar("C")
R = TypeVar("R")


# -- results that say who answered -----------------------------------------------------------


def routing_metadata(result: object) -> dict[str, Any]:
    """The routing part of a result's ``metadata`` (empty when it did not come through a
    :class:`Router`)."""
    metadata = getattr(result, "metadata", None)
    if not isinstance(metadata, dict):
        return {}
    return {k: metadata[k] for k in ROUTING_KEYS if k in metadata}


def _tagged(result: Any, info: dict[str, Any]) -> Any:
    if not isinstance(
        result, (ChatResponse, CompletionResponse, ChatChunk, CompletionChunk, EmbeddingsResponse)
    ):
        raise TypeError(f"cannot tag {type(result).__name__} with routing metadata")
    result.metadata.update(info)
    return result


# -- traffic split ---------------------------------------------------------------------------


class TrafficSplit:
    """Picks a served entity with probability ``percentage / 100``; thread-safe.

    ``seed`` makes the sequence of picks repeat exactly (for tests and reproducible runs).
    """

    def __init__(self, percentages: Sequence[int], seed: int | None = None) -> None:
        if sum(percentages) != 100:
            raise ValueError("percentages must add up to 100")
        self._bounds: list[int] = []
        total = 0
        for share in percentages:
            total += share
            self._bounds.append(total)
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self) -> int:
        """The index of the entity for the next call."""
        with self._lock:
            roll = self._random.randrange(100)
        # First bound above the roll; entities with 0% are never picked.
        return next(i for i, bound in enumerate(self._bounds) if roll < bound)


# -- rate limits -----------------------------------------------------------------------------


class RateLimiter:
    """At most ``calls`` in any ``period``-second window, shared by threads and tasks.

    A call reserves the earliest time that keeps every window within the limit (the
    ``calls``-th latest reservation plus one period) and then waits until then, so calls are
    served in the order they asked and none waits longer than the limit requires. ``now`` comes
    from the caller's clock, so tests can drive it.
    """

    def __init__(self, calls: int, period: float) -> None:
        self.calls = calls
        self.period = period
        self._granted: deque[float] = deque(maxlen=calls)
        self._lock = threading.Lock()

    def reserve(self, now: float, *, wait: bool = True) -> float:
        """Reserve a slot and return the time it starts (``now`` when free). With
        ``wait=False`` nothing is reserved when the slot is in the future."""
        with self._lock:
            start = now
            if len(self._granted) == self.calls:
                start = max(now, self._granted[0] + self.period)
            if start <= now or wait:
                self._granted.append(start)
            return start


_REGISTRY: dict[tuple[str, str, str | None, int, float], RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def rate_limiter(endpoint: str, limit: RateLimit, user: str | None) -> RateLimiter:
    """The process-wide limiter for ``limit`` of endpoint ``endpoint`` (per user when the key
    asks for it): every client built from the same config shares it."""
    assert limit.calls is not None
    identity = user if limit.key == "user" else None
    key = (endpoint, limit.key, identity, limit.calls, limit.seconds)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = _REGISTRY[key] = RateLimiter(limit.calls, limit.seconds)
        return found


def local_user() -> str:
    """The operating-system login name: who ``key: user`` limits mean by default."""
    import getpass  # here: only rate limits keyed by user need it

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "local-user"


def _applicable(limits: Sequence[RateLimit], user: str) -> list[RateLimit]:
    applied, skipped = [], []
    for limit in limits:
        if limit.calls is None or limit.key == "user_group":
            skipped.append(limit)
        elif limit.principal is None or limit.principal == user:
            applied.append(limit)
    for limit in skipped:
        what = "token limits" if limit.calls is None else "user_group limits"
        warn_user(f"{limit.path}: {what} are kept for deployment but not applied locally")
    return applied


class _Limits:
    """The limiters that apply to one client, its clock and how it waits."""

    def __init__(
        self, config: EndpointConfig, user: str | None, behavior: RateLimitBehavior
    ) -> None:
        who = user or local_user()
        self.endpoint = config.name
        self.limiters = [
            (rate_limiter(config.name, limit, who), limit)
            for limit in _applicable(config.rate_limits, who)
        ]
        self.behavior = behavior
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep
        self.asleep: Callable[[float], Awaitable[Any]] = asleep

    def delay(self) -> float:
        """Take a slot of every limit; the seconds to wait for the latest of them."""
        now = self.clock()
        start = now
        for limiter, limit in self.limiters:
            slot = limiter.reserve(now, wait=self.behavior == "wait")
            if slot > now and self.behavior == "raise":
                raise RateLimitError(
                    f"{limit.path}: {limiter.calls} calls per {limit.renewal_period} used up "
                    f"locally; next slot in {slot - now:.1f}s "
                    "(rate_limit_behavior='raise'; the default 'wait' waits for it)",
                    status_code=429,
                    retry_after=slot - now,
                )
            start = max(start, slot)
        return start - now

    def acquire(self) -> None:
        wait = self._logged(self.delay())
        if wait > 0:
            self.sleep(wait)

    async def aacquire(self) -> None:
        wait = self._logged(self.delay())
        if wait > 0:
            await self.asleep(wait)

    def _logged(self, wait: float) -> float:
        if wait > 0:
            # A wait over a second is what a user notices as a hang: say why at INFO.
            level = logging.INFO if wait > 1 else logging.DEBUG
            _log.log(level, "endpoint %r: waiting %.1fs for a rate-limit slot", self.endpoint, wait)
            emit(RateLimitWait(self.endpoint, wait))
        return wait


# -- router ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entity(Generic[C]):
    """A served entity and the client that calls it."""

    name: str
    provider: str
    client: C


class Router(Generic[C]):
    """Routes calls over the served entities of an endpoint config (see the module docs)."""

    def __init__(
        self,
        config: EndpointConfig,
        clients: Sequence[C],
        *,
        seed: int | None = None,
        fallbacks: bool | None = None,
        rate_limit_behavior: RateLimitBehavior = "wait",
        rate_limit_user: str | None = None,
    ) -> None:
        if rate_limit_behavior not in ("wait", "raise"):
            raise ValueError("rate_limit_behavior must be 'wait' or 'raise'")
        self.endpoint = config.name
        self.entities = [
            Entity(e.name, e.external_model.provider, client)
            for e, client in zip(config.served_entities, clients, strict=True)
        ]
        self.split = TrafficSplit([e.traffic_percentage for e in config.served_entities], seed)
        self.fallbacks = config.fallbacks if fallbacks is None else fallbacks
        self.limits = _Limits(config, rate_limit_user, rate_limit_behavior)

    def _order(self) -> list[int]:
        first = self.split.pick()
        if not self.fallbacks:
            return [first]
        count = len(self.entities)
        return [(first + step) % count for step in range(count)]

    def _attempt(self, order: list[int], attempt: int) -> tuple[Entity[C], dict[str, Any]]:
        """The entity of attempt ``attempt`` and what results are tagged with: the entities
        tried before it failed with an error another entity might not have."""
        entity = self.entities[order[attempt]]
        failed = [self.entities[i].name for i in order[:attempt]]
        if not attempt:
            _log.debug("endpoint %r: routed to served entity %r", self.endpoint, entity.name)
        info = {
            "endpoint": self.endpoint,
            "served_entity": entity.name,
            "served_entity_provider": entity.provider,
            "fallback": bool(failed),
            "failed": failed,
        }
        return entity, info

    def _policy(self, order: list[int]) -> _HandOver:
        return _HandOver(self.endpoint, [self.entities[i].name for i in order])

    def call(self, send: Callable[[C], R]) -> R:
        """One call through the limits, the split and the fallbacks."""
        self.limits.acquire()
        order = self._order()

        def once(attempt: int) -> R:
            entity, info = self._attempt(order, attempt)
            with _named(entity):
                return _tagged(send(entity.client), info)  # type: ignore[no-any-return]

        return _control.call(self._policy(order), once, _control.no_wait)

    async def acall(self, send: Callable[[C], Awaitable[R]]) -> R:
        """Async twin of :meth:`call`."""
        await self.limits.aacquire()
        order = self._order()

        async def once(attempt: int) -> R:
            entity, info = self._attempt(order, attempt)
            with _named(entity):
                return _tagged(await send(entity.client), info)  # type: ignore[no-any-return]

        return await _control.acall(self._policy(order), once, _control.ano_wait)

    def stream(self, open_stream: Callable[[C], Iterator[R]]) -> Iterator[R]:
        """Stream from the chosen entity; fall back only while nothing has been yielded."""
        self.limits.acquire()
        order = self._order()

        def once(attempt: int) -> Generator[R, None, None]:
            entity, info = self._attempt(order, attempt)
            with _named(entity):
                for chunk in open_stream(entity.client):
                    yield _tagged(chunk, info)

        yield from _control.stream(self._policy(order), once, _control.no_wait)

    async def astream(self, open_stream: Callable[[C], AsyncIterator[R]]) -> AsyncIterator[R]:
        """Async twin of :meth:`stream`."""
        await self.limits.aacquire()
        order = self._order()

        async def once(attempt: int) -> AsyncGenerator[R, None]:
            entity, info = self._attempt(order, attempt)
            with _named(entity):
                async for chunk in open_stream(entity.client):
                    yield _tagged(chunk, info)

        async for chunk in _control.astream(self._policy(order), once, _control.ano_wait):
            yield chunk


@contextlib.contextmanager
def _named(entity: Entity[Any]) -> Iterator[None]:
    """Errors say which served entity raised them: two entities may share a provider."""
    try:
        yield
    except ExternalModelError as error:
        error.locate(served_entity=entity.name)
        raise


class _HandOver:
    """The fallback policy: an error another served entity might not have (a retryable one:
    5xx, 429, connection and timeout errors) moves the call to the next entity in the order,
    at once; the last entity's error is raised."""

    __slots__ = ("_endpoint", "_names")

    def __init__(self, endpoint: str, names: list[str]) -> None:
        self._endpoint = endpoint
        self._names = names

    def delay(self, attempt: int, error: ExternalModelError) -> float | None:
        if not error.retryable or attempt >= len(self._names) - 1:
            return None
        _log.info(
            "endpoint %r: served entity %r failed (%s); falling back to %r",
            self._endpoint,
            self._names[attempt],
            type(error).__name__,
            self._names[attempt + 1],
        )
        emit(Fallback(self._endpoint, self._names[attempt], self._names[attempt + 1], error))
        return 0.0
