"""Limiter state in Redis, shared by every node: one Lua script per decision, Redis's own clock.

Redis errors and timeouts become `StateUnavailable` here, at the adapter's edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..domain.ratelimit import WINDOW_MS, BucketStatus, Decision, Limit, StateUnavailable

# The arithmetic of domain.ratelimit.take, on Redis's clock (so nodes' clocks need not agree).
# KEYS: one per bucket. ARGV: per_minute, cost for each bucket. Returns
# {allowed, retry_after_ms, remaining_1, reset_ms_1, remaining_2, reset_ms_2, ...}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window = tonumber(ARGV[1])
local n = #KEYS
local starts, wanted, intervals = {}, {}, {}
local allowed, retry = 1, 0
for i = 1, n do
  local per_minute = tonumber(ARGV[2 * i])
  local cost = tonumber(ARGV[2 * i + 1])
  intervals[i] = window / per_minute
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  starts[i] = tat
  wanted[i] = tat + cost * intervals[i]
  local wait = wanted[i] - window - now
  if wait > 0.001 then
    allowed = 0
    if wait > retry then retry = wait end
  end
end
local out = {allowed, math.ceil(retry)}
for i = 1, n do
  local after = starts[i]
  if allowed == 1 then
    after = wanted[i]
    redis.call('SET', KEYS[i], string.format('%.3f', after), 'PX', math.ceil(after - now) + 1000)
  end
  local remaining = math.floor((window - (after - now)) / intervals[i] + 0.000001)
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = remaining
  out[#out + 1] = math.ceil(after - now)
end
return out
"""

# KEYS[1]: sorted set of tokens scored by expiry. ARGV: token, cap, ttl_ms. Returns 1 or 0.
_ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
return 1
"""

TIMEOUT_SECONDS = 0.5


class RedisLimiterState:
    def __init__(self, url: str, prefix: str = "imagegate:") -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # the request waits for nobody: one try, then open/closed
            health_check_interval=30,
        )
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE)
        self._enter = self._redis.register_script(_ENTER)

    async def take(self, key: str, limits: Sequence[Limit]) -> Decision:
        keys = [f"{self._prefix}rl:{key}:{limit.name}" for limit in limits]
        args: list[float | int] = [WINDOW_MS]
        for limit in limits:
            args += [limit.per_minute, limit.cost]
        try:
            reply = await self._take(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis: {type(exc).__name__}: {exc}") from exc
        values = [int(v) for v in reply]
        buckets = tuple(
            BucketStatus(limit.name, limit.per_minute, values[2 + 2 * i], values[3 + 2 * i])
            for i, limit in enumerate(limits)
        )
        return Decision(bool(values[0]), values[1], buckets)

    async def enter(self, scope: str, token: str, cap: int, ttl_seconds: float) -> bool:
        try:
            reply = await self._enter(keys=[f"{self._prefix}if:{scope}"], args=[token, cap, int(ttl_seconds * 1000)])
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis: {type(exc).__name__}: {exc}") from exc
        return bool(int(reply))

    async def leave(self, scope: str, token: str) -> None:
        try:
            await self._redis.zrem(f"{self._prefix}if:{scope}", token)
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._redis.aclose()


__all__ = ["RedisLimiterState"]
