"""Group commit without a timer: the first operation is flushed alone at once, those arriving during a
flush go together in the next one, each caller gets its own answer, a flush that fails as a whole fails
every member with its error, and a cancelled caller's result is handed over rather than lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from imagegate.db.group_commit import Answer, GroupCommit


class Doubler:
    """A flush that answers n -> 2n (odd n: its own ValueError), held open until `release` is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_next: Exception | None = None

    async def flush(self, ops: Sequence[int]) -> list[Answer[int]]:
        self.batches.append(list(ops))
        await self.release.wait()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        return [ValueError(f"odd {n}") if n % 2 else 2 * n for n in ops]


def test_operations_arriving_during_a_flush_go_together_in_the_next() -> None:
    async def scenario() -> None:
        doubler = Doubler()
        group = GroupCommit(doubler.flush, cap=3)
        first = asyncio.ensure_future(group.submit(2))
        await asyncio.sleep(0)  # its flush starts at once, alone
        others = [asyncio.ensure_future(group.submit(n)) for n in (4, 5, 6, 8)]
        await asyncio.sleep(0)
        assert doubler.batches == [[2]]
        doubler.release.set()
        assert await first == 4
        results = await asyncio.gather(*others, return_exceptions=True)
        assert results[0] == 8 and results[2:] == [12, 16]
        assert isinstance(results[1], ValueError)  # its own error, for its caller alone
        assert doubler.batches == [[2], [4, 5, 6], [8]]  # at most `cap` a batch

    asyncio.run(scenario())


def test_a_flush_that_fails_as_a_whole_fails_every_member() -> None:
    async def scenario() -> None:
        doubler = Doubler()
        group = GroupCommit(doubler.flush)
        doubler.fail_next = ConnectionError("the database went away")
        members = [asyncio.ensure_future(group.submit(n)) for n in (2, 4, 6)]
        await asyncio.sleep(0)
        doubler.release.set()
        for member in members:
            with pytest.raises(ConnectionError, match="went away"):
                await member
        assert await group.submit(10) == 20  # the next flush runs as usual

    asyncio.run(scenario())


def test_a_cancelled_callers_result_is_handed_to_orphaned() -> None:
    async def scenario() -> None:
        doubler = Doubler()
        orphans: list[tuple[int, int]] = []
        group = GroupCommit(doubler.flush, orphaned=lambda op, result: orphans.append((op, result)))
        kept, left = asyncio.ensure_future(group.submit(2)), asyncio.ensure_future(group.submit(4))
        await asyncio.sleep(0)
        left.cancel()
        doubler.release.set()
        assert await kept == 4
        with pytest.raises(asyncio.CancelledError):
            await left
        assert orphans == [(4, 8)]

    asyncio.run(scenario())
