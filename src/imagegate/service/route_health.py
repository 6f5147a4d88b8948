"""Routes as the operator sees them: which are configured, their circuits, recent latency and errors.

The report reads what the running gateways recorded: Redis, or the files each process publishes
(`state/circuits_memory.py`), so it sees every worker, not only the process that answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from ..domain.catalog import Catalog
from ..domain.circuits import UNKNOWN_HEALTH, route_key
from ..domain.ports import CircuitHealthSource
from ..routing.router import Router


def run_dir(data_dir: Path) -> Path:
    """Where each serving process publishes its circuits (the embedded, Redis-less setup)."""
    return data_dir / "run"


class RouteHealth:
    def __init__(
        self, catalog: Catalog, router: Router, health: CircuitHealthSource, *, shared: bool, default_timeout: float
    ) -> None:
        self._catalog = catalog
        self._router = router
        self._health = health
        self._shared = shared
        self._default_timeout = default_timeout

    async def report(self) -> dict[str, Any]:
        """Every route of every model, in priority order, with its configuration state and health."""
        keys = [route_key(m.id, r.name) for m in self._catalog for r in m.routes]
        problem = None
        try:
            health = await self._health.health(keys)
        except (RedisError, OSError) as exc:  # show the configuration anyway, and say why health is missing
            health, problem = {}, f"could not read the circuit states: {exc}"
        rows = []
        for model in self._catalog:
            for route in sorted(model.routes, key=lambda r: r.priority):
                key = route_key(model.id, route.name)
                rows.append(
                    {
                        "model": model.id,
                        "route": route.name,
                        "provider": route.provider,
                        "upstream_model": route.upstream_model,
                        "priority": route.priority,
                        "weight": route.weight,
                        "timeout_seconds": route.timeout_seconds or self._default_timeout,
                        "configured": self._router.is_configured(model.id, route.name),
                        **health.get(key, UNKNOWN_HEALTH).as_json(),
                    }
                )
        report: dict[str, Any] = {"state": "redis" if self._shared else "process", "routes": rows}
        if problem:
            report["error"] = problem
        return report


__all__ = ["RouteHealth", "run_dir"]
