"""Routes as the operator sees them: which are configured, their circuits, recent latency and errors.

The report reads what the running gateways recorded: Redis, or the files each process publishes
(`state/circuits_memory.py`), so it sees every worker, not only the process that answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from redis.exceptions import RedisError

from ...domain.catalog import Catalog
from ...domain.circuits import UNKNOWN_HEALTH, route_key
from ...domain.ports import CircuitHealthSource
from ...routing.router import Router

FAILING = ("open", "half_open")
"""Circuits that say a route is failing now (half open: one probe is deciding)."""


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether this gateway can serve a model to a live key now: the fact its pages show beside the
    price, so nobody is quoted for a model that will answer 503."""

    state: Literal["available", "degraded", "not_configured"]
    routes: int
    configured: int
    failing: int

    @property
    def label(self) -> str:
        return {"available": "Available", "degraded": "Degraded", "not_configured": "Not configured on this gateway"}[
            self.state
        ]

    @property
    def detail(self) -> str:
        if self.state == "not_configured":
            return (
                "No route of this model has its upstream credentials here: a live key gets 503 "
                "no_route_available (test keys still get free previews)."
            )
        if self.state == "degraded" and self.failing == self.configured:
            return "Its upstream is failing (circuit open): requests may answer 503 until it recovers."
        if self.state == "degraded":
            return f"{self.failing} of {self.configured} routes are failing (circuit open); the others serve."
        return f"Served through {self.configured} configured route{'s' if self.configured != 1 else ''}."

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "routes": self.routes,
            "configured_routes": self.configured,
            "failing_routes": self.failing,
        }


def availability_of(rows: list[dict[str, Any]]) -> Availability:
    """One model's availability from its rows of the route report."""
    configured = [r for r in rows if r["configured"]]
    failing = [r for r in configured if r["circuit"] in FAILING]
    if not configured:
        return Availability("not_configured", len(rows), 0, 0)
    return Availability("degraded" if failing else "available", len(rows), len(configured), len(failing))


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

    async def availability(self) -> dict[str, Availability]:
        """Each model's availability to a live key now: its routes' credentials and circuits."""
        rows = (await self.report())["routes"]
        return {m.id: availability_of([r for r in rows if r["model"] == m.id]) for m in self._catalog}


__all__ = ["Availability", "RouteHealth", "availability_of", "run_dir"]
