"""The routes' live cost items are read on every settled request: from memory while fresh, and when the
memory is stale, the requests asking meanwhile share one read of the table (not one read each)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event

from imagegate.db.engine import create_engine, migrate
from imagegate.db.upstream_costs import FRESH_SECONDS, UpstreamCostsRepo


def test_requests_asking_while_the_memory_is_stale_share_one_read(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[int], list[Any]]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'costs.db'}")
        await migrate(engine)
        reads: list[str] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "upstream_cost_overrides" in statement:
                reads.append(statement)

        now = [1_000.0]
        repo = UpstreamCostsRepo(engine, clock=lambda: now[0])
        counted: list[int] = []
        try:
            await repo.set("gpt-image-1", "openai", "tokens.image_output", 40_000_000)
            first = await asyncio.gather(*(repo.overrides() for _ in range(64)))
            counted.append(len(reads))  # one read for the 64
            await repo.overrides()
            counted.append(len(reads))  # fresh: from memory
            now[0] += FRESH_SECONDS
            await asyncio.gather(*(repo.overrides() for _ in range(64)))
            counted.append(len(reads))  # stale: one more read for the 64
            await repo.overrides(fresh=True)
            counted.append(len(reads))  # asked fresh: read now
        finally:
            await engine.dispose()
        return counted, first

    counted, first = asyncio.run(scenario())
    assert counted == [1, 1, 2, 3]
    assert all(answer == {("gpt-image-1", "openai"): {"tokens.image_output": 40_000_000}} for answer in first)
