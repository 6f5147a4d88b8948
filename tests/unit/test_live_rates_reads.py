"""The live rates are read on every request: the price cards (at admission) and the routes' cost items
(at settlement). Each is served from memory while fresh; when it is stale, the requests asking meanwhile
share one read of the table, not one read each (64 in flight: 64 reads through the pool)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegate.db.engine import create_engine, migrate
from imagegate.db.prices import PricesRepo
from imagegate.db.upstream_costs import FRESH_SECONDS, UpstreamCostsRepo


def with_counted_reads(
    tmp_path: Path, table: str, scenario: Callable[[AsyncEngine, Callable[[], int]], Awaitable[Any]]
) -> Any:
    """`scenario(engine, reads)` on a migrated SQLite database; `reads()` counts the SELECTs of `table`."""

    async def run() -> Any:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'rates.db'}")
        await migrate(engine)
        seen: list[str] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and table in statement:
                seen.append(statement)

        try:
            return await scenario(engine, lambda: len(seen))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_requests_finding_the_cost_items_stale_share_one_read(tmp_path: Path) -> None:
    async def scenario(engine: AsyncEngine, reads: Callable[[], int]) -> tuple[list[int], list[Any]]:
        now = [1_000.0]
        repo = UpstreamCostsRepo(engine, clock=lambda: now[0])
        await repo.set("gpt-image-1", "openai", "tokens.image_output", 40_000_000)
        counted = []
        first = await asyncio.gather(*(repo.overrides() for _ in range(64)))
        counted.append(reads())  # one read for the 64
        await repo.overrides()
        counted.append(reads())  # fresh: from memory
        now[0] += FRESH_SECONDS
        await asyncio.gather(*(repo.overrides() for _ in range(64)))
        counted.append(reads())  # stale: one more read for the 64
        await repo.overrides(fresh=True)
        counted.append(reads())  # asked fresh: read now
        return counted, first

    counted, first = with_counted_reads(tmp_path, "upstream_cost_overrides", scenario)
    assert counted == [1, 1, 2, 3]
    assert all(answer == {("gpt-image-1", "openai"): {"tokens.image_output": 40_000_000}} for answer in first)


def test_requests_finding_a_new_price_stamp_share_one_read(tmp_path: Path) -> None:
    async def scenario(engine: AsyncEngine, reads: Callable[[], int]) -> tuple[list[int], list[Any]]:
        repo = PricesRepo(engine)
        await repo.set("gpt-image-1", "high", "1024x1024", 190_000)
        counted = []
        first = await asyncio.gather(*(repo.overrides("gpt-image-1", "1:a") for _ in range(64)))
        counted.append(reads())  # one read for the 64
        await repo.overrides("gpt-image-1", "1:a")
        counted.append(reads())  # the same stamp: from memory
        await repo.set("gpt-image-1", "low", "1024x1024", 11_000)
        later = await asyncio.gather(*(repo.overrides("gpt-image-1", "2:b") for _ in range(64)))
        counted.append(reads())  # a new stamp (a price was set on some node): one read for the 64
        return counted, [first[0], later[0]]

    counted, answers = with_counted_reads(tmp_path, "price_cards", scenario)
    assert counted == [1, 1, 2]
    assert answers == [
        {("gpt-image-1", "high", "1024x1024"): 190_000},
        {("gpt-image-1", "high", "1024x1024"): 190_000, ("gpt-image-1", "low", "1024x1024"): 11_000},
    ]
