"""The pixel budget: never more in flight than the bound, waiters served in order, none lost on cancel."""

from __future__ import annotations

import asyncio

from imagegate.imaging.pixels import PixelBudget


async def _work(budget: PixelBudget, pixels: int, started: list[int], gate: asyncio.Event, name: int) -> None:
    async with budget.reserve(pixels):
        started.append(name)
        assert budget.used <= budget.limit
        await gate.wait()


def test_work_past_the_bound_waits_in_order_and_runs_when_pixels_come_back() -> None:
    async def scenario() -> None:
        budget = PixelBudget(limit=100)
        started: list[int] = []
        gates = [asyncio.Event() for _ in range(5)]
        tasks = [asyncio.create_task(_work(budget, 40, started, gates[i], i)) for i in range(5)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert started == [0, 1] and budget.used == 80  # the third would exceed 100: it waits
        gates[0].set()
        await tasks[0]
        for _ in range(5):
            await asyncio.sleep(0)
        assert started == [0, 1, 2] and budget.used == 80
        for gate in gates:
            gate.set()
        await asyncio.gather(*tasks)
        assert started == [0, 1, 2, 3, 4] and budget.used == 0 and budget.peak == 80

    asyncio.run(scenario())


def test_an_image_larger_than_the_bound_runs_alone_and_a_cancelled_waiter_gives_nothing_away() -> None:
    async def scenario() -> None:
        budget = PixelBudget(limit=100)
        started: list[int] = []
        first, huge_gate, small_gate = asyncio.Event(), asyncio.Event(), asyncio.Event()
        holder = asyncio.create_task(_work(budget, 30, started, first, 0))
        huge = asyncio.create_task(_work(budget, 10_000, started, huge_gate, 1))
        small = asyncio.create_task(_work(budget, 10, started, small_gate, 2))
        for _ in range(5):
            await asyncio.sleep(0)
        assert started == [0]  # the huge one waits for the budget to empty, the small one behind it
        huge.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
        assert started == [0, 2] and budget.used == 40  # the cancelled waiter no longer blocks the line
        first.set()
        small_gate.set()
        await asyncio.gather(holder, small)
        assert budget.used == 0

        alone = asyncio.create_task(_work(budget, 10_000, started, huge_gate, 3))
        huge_gate.set()
        await alone
        assert started[-1] == 3 and budget.used == 0 and budget.peak == 100

    asyncio.run(scenario())


def test_a_zero_bound_is_no_bound() -> None:
    async def scenario() -> None:
        budget = PixelBudget(limit=0)
        async with budget.reserve(10**12), budget.reserve(10**12):
            assert budget.used == 0

    asyncio.run(scenario())
