"""The Redis limiter: fixed-window counters shared by every worker and replica.

One Lua script checks and increments every applicable counter atomically (Redis runs a script
alone), with the window taken from the Redis server's clock so replicas agree on it. Counter
keys expire two periods after their window starts. Works on a standalone Redis (the script
derives window keys from its KEYS, which Redis Cluster would not route).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from extmodels_integrations._exceptions import ConfigurationError

from ._ratelimit import ALLOWED, Decision, Limit, counters, refusal
from ._usage import url_without_password

__all__ = ["RedisLimiter"]

log = logging.getLogger("extmodels_integrations.gateway.ratelimit")

# KEYS: counter names; ARGV: n, then per counter kind ("calls"/"tokens"), cap, period.
# Returns {0, index, seconds_left} when counter `index` (1-based) is used up, else {1}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local n = tonumber(ARGV[1])
local keys = {}
for i = 1, n do
  local at = 3 * (i - 1)
  local kind, cap, period = ARGV[2 + at], tonumber(ARGV[3 + at]), tonumber(ARGV[4 + at])
  local window = math.floor(now / period)
  local key = KEYS[i] .. '|' .. kind .. '|' .. window
  local used = tonumber(redis.call('GET', key) or '0')
  if (kind == 'calls' and used + 1 > cap) or (kind == 'tokens' and used >= cap) then
    return {0, i, tostring((window + 1) * period - now)}
  end
  keys[i] = {key, kind, period}
end
for i = 1, n do
  if keys[i][2] == 'calls' then
    redis.call('INCR', keys[i][1])
    redis.call('EXPIRE', keys[i][1], 2 * keys[i][3])
  end
end
return {1}
"""
# KEYS: tokens counter names; ARGV: tokens, then per counter its period.
_ADD_TOKENS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
for i = 1, #KEYS do
  local period = tonumber(ARGV[1 + i])
  local key = KEYS[i] .. '|tokens|' .. math.floor(now / period)
  redis.call('INCRBY', key, ARGV[1])
  redis.call('EXPIRE', key, 2 * period)
end
return 1
"""
_PREFIX = "extmodels:rl:"
# Connections per limiter (per worker): a script run takes well under a millisecond, so 32
# serve thousands of admissions a second; Redis's own default allows 10,000 clients.
POOL_SIZE = 32


def _no_backoff(backoff: Any) -> Any:
    # redis 5.x ships NoBackoff untyped and 6+ typed; going through Any keeps mypy strict
    # quiet on both ends of the supported range without a version-dependent ignore.
    return backoff.NoBackoff()


class RedisLimiter:
    """Rate-limit counters in Redis: ``open_limiter('redis://127.0.0.1:6379/0')``."""

    def __init__(self, url: str, *, on_outage: Literal["open", "closed"] = "closed") -> None:
        try:
            import redis.asyncio as aioredis
            import redis.backoff as backoff
            from redis.asyncio.retry import Retry
            from redis.exceptions import ConnectionError as RedisConnectionError
        except ImportError:
            raise ConfigurationError(
                "a redis:// rate limiter needs the redis client: pip install "
                "'extmodels-integrations[redis]'"
            ) from None
        self.where = url_without_password(url)
        self.on_outage = on_outage
        # A blocking pool: a burst of requests waits (up to the socket timeout) for one of a
        # bounded set of connections. redis-py's default pool instead raises "Too many
        # connections" past 100 at once (redis 8), which would read as an outage under load.
        self._pool: Any = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=2.0,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=10,
            # After Redis restarts, a pooled socket is dead until used: one immediate retry on a
            # fresh connection turns that into a normal answer. redis-py's own default differs by
            # version (none in 5.x, three with up to 10 s of backoff in 6+) and retries timeouts
            # too; an outage must answer fast, so the policy is set here: dropped sockets only.
            retry=Retry(_no_backoff(backoff), 1, supported_errors=(RedisConnectionError,)),
            retry_on_error=[RedisConnectionError],
        )
        self._redis: Any = aioredis.Redis(connection_pool=self._pool)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._add = self._redis.register_script(_ADD_TOKENS)
        self._down = False

    def __repr__(self) -> str:
        return f"RedisLimiter({self.where!r}, on_outage={self.on_outage!r})"

    def __reduce__(self) -> Any:
        raise TypeError(f"{self!r} cannot be pickled: it holds a connection and its password")

    async def acquire(
        self, endpoint: str, user: str, groups: Sequence[str], limits: Sequence[Limit]
    ) -> Decision:
        """Count one call against every applicable limit, all or none (one script run)."""
        touched = counters(endpoint, user, groups, limits)
        if not touched:
            return ALLOWED
        argv: list[Any] = [len(touched)]
        for c in touched:
            argv += [c.kind, c.cap, c.period]
        try:
            answer = await self._acquire(keys=[_PREFIX + c.name for c in touched], args=argv)
        except Exception as exc:
            return self._outage(exc)
        self._recovered()
        if int(answer[0]) == 1:
            return ALLOWED
        return refusal(touched[int(answer[1]) - 1], float(answer[2]))

    async def add_tokens(
        self,
        endpoint: str,
        user: str,
        groups: Sequence[str],
        limits: Sequence[Limit],
        tokens: int,
    ) -> None:
        """Charge ``tokens`` to every applicable tokens limit (lost while Redis is down)."""
        touched = [c for c in counters(endpoint, user, groups, limits) if c.kind == "tokens"]
        if tokens <= 0 or not touched:
            return
        try:
            await self._add(
                keys=[_PREFIX + c.name for c in touched],
                args=[tokens, *(c.period for c in touched)],
            )
        except Exception as exc:
            self._outage(exc)
            return
        self._recovered()

    def _outage(self, exc: BaseException) -> Decision:
        if not self._down:
            self._down = True
            # The exception text can carry the URL; only its type is logged.
            log.error(
                "rate limiter Redis at %s unreachable (%s): failing %s until it answers again",
                self.where,
                type(exc).__name__,
                self.on_outage,
            )
        if self.on_outage == "open":
            return ALLOWED
        return Decision(
            False,
            5.0,
            None,
            f"Rate limiting is unavailable (its Redis at {self.where} does not answer) and the "
            "gateway fails closed (on_outage='closed'): retry later",
            outage=True,
        )

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("rate limiter Redis at %s answers again", self.where)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
        # A pool handed to the client is the caller's to close.
        await self._pool.disconnect()
