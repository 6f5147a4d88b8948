"""MemoryCircuitStore publishes its states for the CLI at most once per interval, off the request path."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from imagegate.domain.circuits import BreakerPolicy
from imagegate.state.circuits_memory import MemoryCircuitStore, PublishedCircuits


def _published(run_dir: Path) -> dict:  # type: ignore[type-arg]
    [path] = run_dir.glob("circuits-*.json")
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


def test_changes_are_published_debounced_and_the_file_goes_on_close(tmp_path: Path) -> None:
    async def go() -> None:
        interval = 1.0
        store = MemoryCircuitStore(BreakerPolicy(), tmp_path, publish_interval=interval)
        await store.record("m/a", ok=True, latency_ms=5, probe=False)
        for _ in range(500):  # the first change is written at once
            await asyncio.sleep(0.01)
            if list(tmp_path.glob("circuits-*.json")):
                break
        first = _published(tmp_path)
        assert first["routes"]["m/a"]["recent"]["calls"] == 1
        for _ in range(100):  # a burst: not written again before the interval has passed
            await store.record("m/a", ok=False, latency_ms=5, probe=False)
        await asyncio.sleep(0.05)
        assert _published(tmp_path)["written_at"] == first["written_at"]
        for _ in range(500):  # then once, with every call of the burst (polled, bounded: 5 s)
            latest = _published(tmp_path)
            if latest["written_at"] != first["written_at"]:
                break
            await asyncio.sleep(0.01)
        # not before the interval had passed (less a little for the clocks' resolution)
        assert latest["written_at"] >= first["written_at"] + interval - 0.05
        assert latest["routes"]["m/a"]["recent"]["errors"] == 100  # the window keeps the last 100 calls
        health = await PublishedCircuits(tmp_path, BreakerPolicy()).health(["m/a"])
        assert health["m/a"].circuit == "open"
        await store.aclose()
        assert not list(tmp_path.glob("circuits-*"))

    asyncio.run(go())


def test_close_while_a_write_is_pending(tmp_path: Path) -> None:
    async def go() -> None:
        store = MemoryCircuitStore(BreakerPolicy(), tmp_path, publish_interval=10)
        await store.record("m/a", ok=True, latency_ms=5, probe=False)
        await asyncio.sleep(0.05)
        await store.record("m/a", ok=True, latency_ms=5, probe=False)  # waits ~10 s to be written
        await store.aclose()
        assert not list(tmp_path.glob("circuits-*"))

    asyncio.run(go())
