"""A node's life in one place: what a gateway process starts beside (or instead of) serving HTTP,
and how it stops.

`Node.start()` opens the gateway (`wiring.open_gateway`: the database migrated) and checks its image
store, releases what this node's dead previous run held, and, when the node runs background work,
starts the sweeps, the webhook sender, the batch runner and the job workers; `Node.stop()` undoes it in reverse order
(a job still running is queued again with its hold, for another node or the next start). `imagegate
serve` runs a node in its app's lifespan; `imagegate worker` runs one with no HTTP server at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from .config import Settings
from .observability.logs import configure_logging
from .wiring import Gateway, configured_secrets, open_gateway

log = logging.getLogger("imagegate.sweeper")


class Node:
    """One node of the gateway. `background`: run the job workers, the webhook sender, the batch runner
    and the sweeps (an API-only node, `IMAGEGATE_NODE_ROLE=api`, leaves them to `imagegate worker` nodes)."""

    def __init__(self, settings: Settings, *, background: bool = True) -> None:
        self._settings = settings
        self._background = background
        self._stack: AsyncExitStack | None = None

    async def start(self) -> Gateway:
        if self._stack is not None:
            raise RuntimeError("this node is already started")
        async with AsyncExitStack() as stack:
            gateway = await stack.enter_async_context(open_gateway(self._settings))
            await gateway.files.check_store()  # a missing bucket stops the start, naming it
            await gateway.recovery.start()  # release what this node's dead previous run held
            stack.push_async_callback(_quietly, gateway.recovery.stop)  # a clean stop releases what it holds
            if self._background:
                sweeps = _sweeps(gateway)
                loops = [
                    asyncio.create_task(_every(self._settings.node.sweep_interval_seconds, sweeps)),
                    asyncio.create_task(gateway.webhook_delivery.run_forever()),  # sends due webhooks
                    asyncio.create_task(gateway.batch_runner.run_forever()),  # advances batches
                ]
                stack.push_async_callback(_cancel, loops)
                await gateway.job_workers.start()  # IMAGEGATE_JOB_WORKERS of them
                stack.push_async_callback(gateway.job_workers.stop)  # a running job is queued again
            self._stack = stack.pop_all()
        return gateway

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()


Sweep = Callable[[], Awaitable[None]]


def _sweeps(gateway: Gateway) -> tuple[Sweep, ...]:
    """Each ends what nobody else will, and logs (never raises) what it did or why it failed."""

    async def holds() -> None:
        try:
            swept = await gateway.admin.ledger.sweep_holds()
        except Exception:
            log.exception("hold sweep failed")
            return
        if swept["released"]:
            log.warning("released %d expired hold(s)", swept["released"])

    return (holds, gateway.retention.sweep_logged, gateway.job_workers.sweep_logged, gateway.responses.sweep_logged)


async def _every(interval: float, sweeps: tuple[Sweep, ...]) -> None:
    """Every sweep, now and then every `interval` seconds; a failed sweep does not stop the next one."""
    while True:
        for sweep in sweeps:
            await sweep()
        await asyncio.sleep(interval)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _quietly(step: Callable[[], Awaitable[None]]) -> None:
    """A step of stopping that must not keep the rest from running (the database may be gone)."""
    try:
        await step()
    except Exception:
        log.debug("stopping: %s failed", getattr(step, "__qualname__", step), exc_info=True)


async def run_worker(settings: Settings) -> None:
    """`imagegate worker`: a node with its background work and no HTTP server, until SIGTERM or SIGINT."""
    configure_logging(settings.logs.level, configured_secrets(settings))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    node = Node(settings)
    await node.start()
    log.info("worker %s running %d job worker(s)", settings.node.node_id, settings.jobs.workers)
    try:
        await stopping.wait()
    finally:
        await node.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


__all__ = ["Node", "run_worker"]
