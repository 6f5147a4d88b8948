"""Circuit breakers shared by every gateway node through Redis (IMAGEGATE_REDIS_URL).

Per route key: a hash `{prefix}:circuit:{key}` (failures, opened_at, probe_until) changed only by
the Lua scripts below, so that two nodes never both take the probe and a count is never lost; and
a list `{prefix}:calls:{key}` of the most recent calls. The scripts apply `domain.circuits`' rules.
If Redis cannot be reached, calls are let through (and the problem logged): a broken breaker store
must not take the gateway down with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from ..domain.circuits import CLOSED, UNKNOWN_HEALTH, BreakerPolicy, CircuitHealth, CircuitPermit, Sample, health_of

log = logging.getLogger("imagegate.state")

_ADMIT = """
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if not opened then return 'closed' end
local now = tonumber(ARGV[1])
if now < tonumber(opened) + tonumber(ARGV[2]) then return 'open' end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if now < probe_until then return 'open' end
redis.call('HSET', KEYS[1], 'probe_until', tostring(now + tonumber(ARGV[3])))
return 'probe'
"""

_RECORD = """
local now, ok, probe = ARGV[1], ARGV[2] == '1', ARGV[3] == '1'
redis.call('LPUSH', KEYS[2], ARGV[5])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]))
if ok then
  redis.call('DEL', KEYS[1])
  return
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if probe then
  redis.call('HSET', KEYS[1], 'opened_at', now, 'probe_until', '0')
elseif failures >= tonumber(ARGV[4]) and redis.call('HEXISTS', KEYS[1], 'opened_at') == 0 then
  redis.call('HSET', KEYS[1], 'opened_at', now)
end
"""


class RedisCircuitStore:
    """Implements `domain.ports.CircuitStore` on Redis."""

    def __init__(self, url: str, policy: BreakerPolicy, prefix: str = "imagegate") -> None:
        self._redis = redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self._policy = policy
        self._prefix = prefix
        self._admit = self._redis.register_script(_ADMIT)
        self._record = self._redis.register_script(_RECORD)

    async def admit(self, key: str, *, lease_seconds: float) -> CircuitPermit:
        try:
            result = await self._admit(
                keys=[self._circuit(key)], args=[repr(time.time()), self._policy.cooldown_seconds, lease_seconds]
            )
        except (RedisError, OSError) as exc:
            log.warning("circuit store unreachable, letting route %s through: %s", key, exc)
            return CLOSED
        return result  # type: ignore[no-any-return]

    async def record(self, key: str, *, ok: bool, latency_ms: int, probe: bool) -> CircuitHealth:
        now = time.time()
        sample = Sample(now, ok, latency_ms)
        try:
            await self._record(
                keys=[self._circuit(key), self._calls(key)],
                args=[
                    repr(now),
                    int(ok),
                    int(probe),
                    self._policy.failures,
                    sample.encode(),
                    self._policy.window_calls,
                    int(self._policy.window_seconds * 2) + 1,
                ],
            )
            return (await self.health([key])).get(key, UNKNOWN_HEALTH)
        except (RedisError, OSError) as exc:
            log.warning("circuit store unreachable, call on route %s not recorded: %s", key, exc)
            return UNKNOWN_HEALTH

    async def health(self, keys: Sequence[str]) -> dict[str, CircuitHealth]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(self._circuit(key))
                pipe.lrange(self._calls(key), 0, self._policy.window_calls - 1)
            replies = await pipe.execute()
        now = time.time()
        result: dict[str, CircuitHealth] = {}
        for index, key in enumerate(keys):
            fields, calls = replies[2 * index], replies[2 * index + 1]
            if not fields and not calls:
                continue
            opened = fields.get("opened_at")
            samples = [Sample.decode(c) for c in reversed(calls)]
            result[key] = health_of(
                int(fields.get("failures", 0)), float(opened) if opened else None, samples, now, self._policy
            )
        return result

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _circuit(self, key: str) -> str:
        return f"{self._prefix}:circuit:{key}"

    def _calls(self, key: str) -> str:
        return f"{self._prefix}:calls:{key}"


__all__ = ["RedisCircuitStore"]
