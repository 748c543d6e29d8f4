"""Rate limits of ``ai_gateway.rate_limits``, enforced by the gateway.

Windows are **fixed**, aligned to the renewal period (each UTC minute): within one window the
count is exact (never more than ``calls`` calls are let through, across every worker and replica
sharing the Redis limiter); across a window boundary a client can get up to twice ``calls`` in
any sliding 60 seconds (the end of one window and the start of the next). ``Retry-After`` is the
time left in the current window.

Which limits apply to a request (every applicable one is checked; the tightest refuses):

- ``key: endpoint`` -- one counter for the endpoint, shared by every requester;
- ``key: user`` -- one counter per user; with ``principal``, only that user's;
- ``key: user_group`` -- with ``principal``, one counter shared by the members of that group;
  without, one counter per group the requester belongs to;
- ``key: service_principal`` -- like ``user`` for the named service principal (``principal``
  is required: the gateway's tokens do not say which users are service principals).

``calls`` counts one per request when it is admitted; ``tokens`` is charged after the response
(:meth:`Limiter.add_tokens`) and refuses new requests once the window's tokens are used up, so a
window can overshoot its tokens by the last admitted responses.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from extmodels_integrations import _validation
from extmodels_integrations._endpoint_config import _HINTS, _GatewayRateLimit
from extmodels_integrations._exceptions import ConfigurationError

__all__ = [
    "Decision",
    "Limit",
    "Limiter",
    "MemoryLimiter",
    "open_limiter",
]

# The periods the service documents (only "minute"), in seconds.
PERIODS = {"minute": 60}
_WHERE = "ai_gateway.rate_limits[]"


@dataclass(frozen=True)
class Limit:
    """One entry of ``ai_gateway.rate_limits``."""

    key: str
    renewal_period: str
    calls: int | None = None
    tokens: int | None = None
    principal: str | None = None

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], *, where: str = _WHERE) -> Limit:
        """Validate one ``rate_limits`` entry; raises ConfigurationError naming the field."""
        if not isinstance(entry, Mapping):
            raise ConfigurationError(
                f"Invalid {where}: must be a mapping, not {type(entry).__name__}"
            )
        try:
            parsed = _GatewayRateLimit.model_validate(dict(entry))
        except ValidationError as exc:
            lines = _validation.problems(exc, where=where, root=_GatewayRateLimit, hints=_HINTS)
            raise ConfigurationError(_validation.message(where, lines)) from None
        problems = _problems(parsed)
        if problems:
            lines = [f"{where}{p}" for p in problems]
            raise ConfigurationError(_validation.message(where, lines))
        return cls(parsed.key, parsed.renewal_period, parsed.calls, parsed.tokens, parsed.principal)

    @property
    def seconds(self) -> int:
        """The renewal period in seconds."""
        return PERIODS[self.renewal_period]

    def describe(self) -> str:
        """How the limit reads in a 429 message, e.g. ``10 calls per minute per user``."""
        amounts = [
            f"{n} {unit}" for n, unit in ((self.calls, "calls"), (self.tokens, "tokens")) if n
        ]
        who = {"endpoint": "for the endpoint", "user": "per user", "user_group": "per group"}.get(
            self.key, "per service principal"
        )
        if self.principal:
            who = f"for {self.key.replace('_', ' ')} {self.principal!r}"
        return f"{' and '.join(amounts)} per {self.renewal_period} {who}"


def _problems(parsed: _GatewayRateLimit) -> list[str]:
    problems: list[str] = []
    if parsed.calls is None and parsed.tokens is None:
        problems.append(f": set calls or tokens (or both) per {parsed.renewal_period}")
    for name in ("calls", "tokens"):
        value = getattr(parsed, name)
        if value is not None and value < 1:
            problems.append(f".{name}: must be at least 1 per {parsed.renewal_period}")
    if parsed.key == "service_principal" and not parsed.principal:
        problems.append(
            ".principal: required with key 'service_principal': set it to the service "
            "principal's name as the gateway's token file maps it"
        )
    if parsed.principal is not None and parsed.key == "endpoint":
        problems.append(".principal: only for keys user, user_group, service_principal")
    return problems


@dataclass(frozen=True)
class Decision:
    """Whether a request may go ahead; when not, for how long and because of which limit."""

    allowed: bool
    retry_after: float | None
    limit: Limit | None
    message: str
    outage: bool = False
    """True when the limiter's backend is unreachable (answer 503, not 429)."""


ALLOWED = Decision(True, None, None, "")


class Limiter(Protocol):
    """Counts calls and tokens against rate limits."""

    async def acquire(
        self, endpoint: str, user: str, groups: Sequence[str], limits: Sequence[Limit]
    ) -> Decision:
        """Count one call against every applicable limit, all or none."""

    async def add_tokens(
        self,
        endpoint: str,
        user: str,
        groups: Sequence[str],
        limits: Sequence[Limit],
        tokens: int,
    ) -> None:
        """Charge ``tokens`` to every applicable tokens limit."""

    async def aclose(self) -> None:
        """Release the backend connection."""


@dataclass(frozen=True)
class Counter:
    """One counter a request touches: its name (without the window), cap and limit."""

    name: str
    kind: Literal["calls", "tokens"]
    cap: int
    period: int
    limit: Limit


def counters(
    endpoint: str, user: str, groups: Sequence[str], limits: Sequence[Limit]
) -> list[Counter]:
    """The counters the request of ``user`` (in ``groups``) to ``endpoint`` touches; two limits on
    the same subject share a counter and its tightest cap."""
    found: dict[tuple[str, str], Counter] = {}
    for limit in limits:
        for subject in _subjects(limit, user, groups):
            base = f"{endpoint}|{limit.key}|{subject}|{limit.seconds}"
            for kind, cap in (("calls", limit.calls), ("tokens", limit.tokens)):
                if cap is None:
                    continue
                old = found.get((base, kind))
                if old is None or cap < old.cap:
                    found[(base, kind)] = Counter(base, kind, cap, limit.seconds, limit)  # type: ignore[arg-type]
    return list(found.values())


def _subjects(limit: Limit, user: str, groups: Sequence[str]) -> list[str]:
    if limit.key == "endpoint":
        return [""]
    if limit.key == "user_group":
        if limit.principal is not None:
            return [limit.principal] if limit.principal in groups else []
        return list(dict.fromkeys(groups))
    if limit.principal is not None:
        return [user] if user == limit.principal else []
    return [user]


def refusal(counter: Counter, retry_after: float) -> Decision:
    """The 429 decision for a used-up ``counter``."""
    retry_after = max(1.0, math.ceil(retry_after))
    return Decision(
        False,
        retry_after,
        counter.limit,
        f"Rate limit exceeded: {counter.limit.describe()} ({counter.kind} used up); "
        f"retry after {retry_after:.0f} s",
    )


class MemoryLimiter:
    """Fixed-window counters in this process (one worker): ``open_limiter(None)``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, str, int], int] = {}
        # No await between check and increment makes one event loop safe; the lock covers
        # several threads (a sync server, or loops in threads).
        self._lock = threading.Lock()

    async def acquire(
        self, endpoint: str, user: str, groups: Sequence[str], limits: Sequence[Limit]
    ) -> Decision:
        """Count one call against every applicable limit, all or none."""
        touched = counters(endpoint, user, groups, limits)
        if not touched:
            return ALLOWED
        now = self._clock()
        with self._lock:
            self._expire(now)
            for c in touched:
                window = int(now // c.period)
                used = self._counts.get((c.name, c.kind, window), 0)
                if (used + 1 > c.cap) if c.kind == "calls" else (used >= c.cap):
                    return refusal(c, (window + 1) * c.period - now)
            for c in touched:
                if c.kind == "calls":
                    key = (c.name, c.kind, int(now // c.period))
                    self._counts[key] = self._counts.get(key, 0) + 1
        return ALLOWED

    async def add_tokens(
        self,
        endpoint: str,
        user: str,
        groups: Sequence[str],
        limits: Sequence[Limit],
        tokens: int,
    ) -> None:
        """Charge ``tokens`` to every applicable tokens limit of the current window."""
        if tokens <= 0:
            return
        now = self._clock()
        with self._lock:
            for c in counters(endpoint, user, groups, limits):
                if c.kind == "tokens":
                    key = (c.name, c.kind, int(now // c.period))
                    self._counts[key] = self._counts.get(key, 0) + tokens

    def _expire(self, now: float) -> None:
        # Counters of past windows are never read again (windows are counted in minutes: the
        # only period there is).
        stale = [k for k in self._counts if k[2] < int(now // PERIODS["minute"])]
        for key in stale:
            del self._counts[key]

    async def aclose(self) -> None:
        """Nothing to release."""


def open_limiter(url: str | None, *, on_outage: Literal["open", "closed"] = "closed") -> Limiter:
    """The limiter ``url`` names: ``None`` / ``memory://`` (this process only) or
    ``redis://[:password@]host:port/db`` (shared by every worker and replica)."""
    if on_outage not in ("open", "closed"):
        raise ConfigurationError(f"on_outage must be 'open' or 'closed', not {on_outage!r}")
    if url is None or url in ("memory://", "memory"):
        return MemoryLimiter()
    if url.split("://", 1)[0].lower() in ("redis", "rediss", "unix"):
        from ._ratelimit_redis import RedisLimiter

        return RedisLimiter(url, on_outage=on_outage)
    raise ConfigurationError(
        "rate limiter URL scheme is not supported: use 'memory://' (one process) or "
        "'redis://host:port/0' (shared by workers and replicas)"
    )
