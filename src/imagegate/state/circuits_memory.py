"""Circuit breakers in process (the default), published to a file for `imagegate routes list`.

Each gateway process keeps its own breakers in memory and publishes their health to
`{run_dir}/circuits-{pid}.json` (atomically), so that the CLI, a separate process, can show them.
Publishing is debounced: a recorded call marks the states changed, and one background task writes
them at most once per `publish_interval` seconds (the first change after a quiet spell at once), so
the file is at most that stale and no request waits on file I/O. `PublishedCircuits` reads those
files back, for processes that are still alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import anyio.to_thread

from ..domain.circuits import BreakerPolicy, CircuitHealth, CircuitPermit, CircuitState
from ..host.files import write_atomically
from ..host.processes import pid_alive

log = logging.getLogger("imagegate.state")

_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}


class MemoryCircuitStore:
    """Implements `domain.ports.CircuitStore` for one process."""

    def __init__(self, policy: BreakerPolicy, run_dir: Path | None = None, *, publish_interval: float = 1.0) -> None:
        self._policy = policy
        self._states: dict[str, CircuitState] = {}
        self._path = run_dir / f"circuits-{os.getpid()}.json" if run_dir is not None else None
        self._interval = publish_interval
        self._dirty = False
        self._last_write = -math.inf  # time.monotonic() of the last write
        self._publisher: asyncio.Task[None] | None = None

    async def admit(self, key: str, *, lease_seconds: float) -> CircuitPermit:
        return self._state(key).admit(time.time(), self._policy, lease_seconds)

    async def record(self, key: str, *, ok: bool, latency_ms: int, probe: bool) -> CircuitHealth:
        state = self._state(key)
        now = time.time()
        state.record(now, self._policy, ok=ok, latency_ms=latency_ms, probe=probe)
        self._changed()
        return state.health(now, self._policy)

    async def health(self, keys: Sequence[str]) -> dict[str, CircuitHealth]:
        now = time.time()
        return {k: self._states[k].health(now, self._policy) for k in keys if k in self._states}

    async def aclose(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.cancel()  # a write already in its thread finishes first (anyio defers the cancel)
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
        if self._path is not None:
            self._path.unlink(missing_ok=True)

    def _state(self, key: str) -> CircuitState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = CircuitState()
        return state

    def _changed(self) -> None:
        """Mark the states changed; the publisher task (started when none runs) writes them soon."""
        if self._path is None:
            return
        self._dirty = True
        if self._publisher is None:
            delay = self._last_write + self._interval - time.monotonic()
            self._publisher = asyncio.get_running_loop().create_task(self._publish(delay))

    async def _publish(self, delay: float) -> None:
        """Write the states, then again every interval while they keep changing; ends when they stop."""
        try:
            while True:
                if delay > 0:
                    await asyncio.sleep(delay)
                self._dirty = False
                await self._write()
                self._last_write = time.monotonic()
                if not self._dirty:
                    return
                delay = self._interval
        except Exception:  # never leave an unretrieved task error; the next change tries again
            log.exception("could not publish circuit states to %s", self._path)
        finally:
            if self._publisher is asyncio.current_task():
                self._publisher = None

    async def _write(self) -> None:
        assert self._path is not None
        now = time.time()
        routes = {k: s.health(now, self._policy).as_json() for k, s in self._states.items()}
        text = json.dumps({"pid": os.getpid(), "written_at": now, "routes": routes})
        try:
            await anyio.to_thread.run_sync(write_atomically, self._path, text.encode())
        except OSError as exc:
            log.warning("could not publish circuit states to %s: %s", self._path, exc)


class PublishedCircuits:
    """The health the running gateway processes last published (read-only; for the CLI).

    An open circuit whose cool-down has passed since it was written is shown half open.
    """

    def __init__(self, run_dir: Path, policy: BreakerPolicy) -> None:
        self._run_dir = run_dir
        self._policy = policy

    async def health(self, keys: Sequence[str]) -> dict[str, CircuitHealth]:
        """Per route, the most severe circuit any live process reports, with its recent calls."""
        merged: dict[str, CircuitHealth] = {}
        for routes in self._live_snapshots():
            for key, data in routes.items():
                if key not in keys:
                    continue
                health = CircuitHealth.from_json(data)
                if (
                    health.circuit == "open"
                    and health.opened_at is not None
                    and time.time() >= health.opened_at + self._policy.cooldown_seconds
                ):
                    health = replace(health, circuit="half_open")
                current = merged.get(key)
                if current is None or _SEVERITY[health.circuit] > _SEVERITY[current.circuit]:
                    merged[key] = health
        return merged

    async def aclose(self) -> None:
        """Nothing to release."""

    def _live_snapshots(self) -> list[dict[str, dict]]:  # type: ignore[type-arg]
        snapshots = []
        for path in sorted(self._run_dir.glob("circuits-*.json")):
            try:
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(pid := data.get("pid"), int) and pid_alive(pid):
                snapshots.append(data.get("routes") or {})
        return snapshots


__all__ = ["MemoryCircuitStore", "PublishedCircuits"]
