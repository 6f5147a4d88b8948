"""`domain/wakeups.py` on PostgreSQL: LISTEN/NOTIFY, so work queued on one node wakes every node's
idle loops at once, and idle loops poll only as a safety net.

One connection per process (its own, outside the pool; `application_name` `imagegate-wakeups` in
`pg_stat_activity`) listens on a channel per kind of work and also sends this process's notices:
`notify` wakes this process's loops at once and leaves the kind to send, so a burst of queued jobs
costs one `pg_notify` round trip, sent after the work's commit. A notice from this connection itself
is ignored (its loops were woken already).

While the connection is down every loop is woken and goes back to its poll interval, notices to send
are kept until it is back, and it is opened again after a pause that doubles from
`RECONNECT_FIRST_SECONDS` to `RECONNECT_MAX_SECONDS` (a database blip neither stops the node nor
spins it). Once listening again, every loop looks at once: notices sent meanwhile were missed. An
idle connection is pinged every `SAFETY_NET_SECONDS`, so one cut without a word (a firewall's idle
timeout) is noticed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from ..domain.wakeups import KINDS, SAFETY_NET_SECONDS, LocalWakeups, WorkKind

log = logging.getLogger("imagegate.wakeups")

CHANNELS: dict[WorkKind, str] = {kind: f"imagegate_{kind}" for kind in KINDS}
KIND_OF: dict[str, WorkKind] = {channel: kind for kind, channel in CHANNELS.items()}
APPLICATION_NAME = "imagegate-wakeups"
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
STATEMENT_TIMEOUT_SECONDS = 10.0
CLOSE_SECONDS = 2.0
"""Connecting, a notice or a ping that takes longer: the connection is taken as lost."""
_NOTIFY = "SELECT pg_notify(channel, '') FROM unnest($1::text[]) AS channel"


class PostgresWakeups(LocalWakeups):
    def __init__(self, url: URL, *, ping_seconds: float = SAFETY_NET_SECONDS) -> None:
        super().__init__()
        self._engine = create_async_engine(
            url, poolclass=NullPool, connect_args={"server_settings": {"application_name": APPLICATION_NAME}}
        )
        self._ping_seconds = ping_seconds
        self._raw: Any = None  # the asyncpg connection while listening
        self._pid: int | None = None
        self._outgoing: set[WorkKind] = set()
        self._stir = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def listening(self) -> bool:
        return self._raw is not None and not self._raw.is_closed()

    def notify(self, kind: WorkKind) -> None:
        self.wake_here(kind)
        self._outgoing.add(kind)
        self._stir.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        """Stop listening; notices still owed (a job queued again by a stopping worker) are sent first,
        if the connection is up (bounded: `CLOSE_SECONDS`)."""
        self._closing = True
        self._stir.set()
        if self._task is not None:
            if self.listening:
                with contextlib.suppress(TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(self._task), CLOSE_SECONDS)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._engine.dispose()

    async def _run(self) -> None:
        """Listen, and when the connection is lost, poll again and reconnect after a growing pause."""
        pause = RECONNECT_FIRST_SECONDS
        while not self._closing:
            opened = time.monotonic()
            try:
                await self._listen()  # returns only when closing
                if self._closing:
                    return
            except Exception as exc:  # the database is away, or the connection broke
                level = logging.WARNING if pause == RECONNECT_FIRST_SECONDS else logging.DEBUG
                log.log(level, "wakeups: not listening (%s); idle loops poll until it is back", type(exc).__name__)
            self._raw, self._pid = None, None
            self.wake_all_here()  # back to the poll interval, and look now
            if time.monotonic() - opened > RECONNECT_MAX_SECONDS:
                pause = RECONNECT_FIRST_SECONDS  # it had been up a while: a new outage
            await asyncio.sleep(pause * random.uniform(0.8, 1.2))
            pause = min(pause * 2, RECONNECT_MAX_SECONDS)

    async def _listen(self) -> None:
        conn = await asyncio.wait_for(self._engine.connect(), STATEMENT_TIMEOUT_SECONDS)
        try:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            lost = asyncio.Event()

            def closed(_conn: Any) -> None:
                lost.set()
                self._stir.set()

            raw.add_termination_listener(closed)
            for channel in CHANNELS.values():
                await asyncio.wait_for(raw.add_listener(channel, self._heard), STATEMENT_TIMEOUT_SECONDS)
            self._raw, self._pid = raw, raw.get_server_pid()
            log.info("wakeups: listening for queued work on PostgreSQL")
            self.wake_all_here()  # notices sent before now were missed
            await self._serve(raw, lost)
        finally:
            await _drop(conn)

    async def _serve(self, raw: Any, lost: asyncio.Event) -> None:
        """Send the notices this process owes; ping when idle; raise when the connection is lost,
        return once closing and nothing is owed."""
        while True:
            stirred = True
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stir.wait(), self._ping_seconds)
                stirred = self._stir.is_set()
            self._stir.clear()
            if lost.is_set():
                raise ConnectionError("the listening connection was closed")
            if self._outgoing:
                kinds, self._outgoing = self._outgoing, set()
                try:
                    await asyncio.wait_for(
                        raw.execute(_NOTIFY, [CHANNELS[k] for k in kinds]), STATEMENT_TIMEOUT_SECONDS
                    )
                except BaseException:
                    self._outgoing |= kinds  # sent once the connection is back
                    raise
            elif self._closing:
                return
            elif not stirred:
                await asyncio.wait_for(raw.execute("SELECT 1"), STATEMENT_TIMEOUT_SECONDS)

    def _heard(self, _conn: Any, pid: int, channel: str, _payload: str) -> None:
        kind = KIND_OF.get(channel)
        if kind is not None and pid != self._pid:
            self.wake_here(kind)


async def _drop(conn: AsyncConnection) -> None:
    """Close the listening connection without a goodbye (it may be dead already)."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


__all__ = ["APPLICATION_NAME", "CHANNELS", "PostgresWakeups"]
