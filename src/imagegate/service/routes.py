"""Routes as the operator sees them: which are configured, their circuits, recent latency and errors.

`circuit_store(settings)` is the store a serving gateway keeps its breakers in; `route_report`
reads what the running gateways recorded (Redis, or the files the processes publish).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from ..config import Settings
from ..domain.circuits import UNKNOWN_HEALTH, BreakerPolicy, route_key
from ..domain.ports import CircuitStore
from ..providers.http_client import UpstreamClient
from ..providers.registry import default_registry
from ..routing.router import route_credentials
from ..state.circuits import MemoryCircuitStore, PublishedCircuits
from ..state.circuits_redis import RedisCircuitStore


def breaker_policy(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(failures=settings.breaker_failures, cooldown_seconds=settings.breaker_cooldown_seconds)


def run_dir(settings: Settings) -> Path:
    return settings.data_dir / "run"


def circuit_store(settings: Settings) -> CircuitStore:
    """Redis when IMAGEGATE_REDIS_URL is set (shared by every node), else this process's memory."""
    if settings.redis_url:
        return RedisCircuitStore(settings.redis_url, breaker_policy(settings), settings.redis_prefix)
    return MemoryCircuitStore(breaker_policy(settings), run_dir(settings))


async def route_report(settings: Settings) -> dict[str, Any]:
    """Every route of every model, in priority order, with its configuration state and health."""
    registry = default_registry()
    store: RedisCircuitStore | PublishedCircuits
    if settings.redis_url:
        store = RedisCircuitStore(settings.redis_url, breaker_policy(settings), settings.redis_prefix)
    else:
        store = PublishedCircuits(run_dir(settings), breaker_policy(settings))
    keys = [route_key(m.id, r.name) for m in settings.catalog for r in m.routes]
    problem = None
    try:
        health = await store.health(keys)
    except (RedisError, OSError) as exc:  # show the configuration anyway, and say why health is missing
        health, problem = {}, f"could not read the circuit states: {exc}"
    finally:
        await store.aclose()
    rows = []
    client = UpstreamClient()  # the factories only keep it; nothing is sent, no session is opened
    for model in settings.catalog:
        for route in sorted(model.routes, key=lambda r: r.priority):
            factory = registry.get(route.provider)
            configured = bool(factory and factory(route, route_credentials(route, settings.credentials), client))
            key = route_key(model.id, route.name)
            rows.append(
                {
                    "model": model.id,
                    "route": route.name,
                    "provider": route.provider,
                    "upstream_model": route.upstream_model,
                    "priority": route.priority,
                    "weight": route.weight,
                    "timeout_seconds": route.timeout_seconds or settings.upstream_timeout_seconds,
                    "configured": configured,
                    **health.get(key, UNKNOWN_HEALTH).as_json(),
                }
            )
    report: dict[str, Any] = {"state": "redis" if settings.redis_url else "process", "routes": rows}
    if problem:
        report["error"] = problem
    return report


__all__ = ["breaker_policy", "circuit_store", "route_report"]
