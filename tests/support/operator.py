"""Operator actions for the tests (`Gateway.admin`): the service the CLI uses, kept open per gateway.

A fresh `open_admin` per action, as each CLI run does, costs an engine, a connection and a migration
check (about 0.15 s on SQLite, more on PostgreSQL); tests call it for every account, balance and usage
look-up. Here each gateway's `AdminService` is opened once, on one event loop thread shared by every
gateway of the test session, and closed when the gateway stops (or at the end of the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import anyio.from_thread
from anyio.from_thread import BlockingPortal

from imagegate.config import load_settings
from imagegate.db.unreachable import is_unreachable
from imagegate.service.operator.admin import AdminService
from imagegate.wiring import open_admin

Action = Callable[[AdminService], Awaitable[Any]]

MAX_OPEN = 8
"""Services kept open at once; the least recently used beyond this is closed (its engine disposed)."""


class AdminDesk:
    """`run(env, action)`: `action` on the AdminService of the gateway configured by `env`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._portal_cm: contextlib.AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._open: OrderedDict[tuple[tuple[str, str], ...], tuple[AdminService, AsyncExitStack]] = OrderedDict()
        self._opening: asyncio.Lock | None = None

    def run(self, env: dict[str, str], action: Action) -> Any:
        return self._loop().call(self._run, _key(env), action)

    def close(self, env: dict[str, str]) -> None:
        """Close the service of the gateway configured by `env` (when it stops)."""
        if self._portal is not None:
            self._portal.call(self._close, _key(env))

    def close_all(self) -> None:
        with self._lock:
            portal, portal_cm = self._portal, self._portal_cm
            self._portal = self._portal_cm = None
        if portal is None or portal_cm is None:
            return
        try:
            for key in list(self._open):
                portal.call(self._close, key)
        finally:
            portal_cm.__exit__(None, None, None)

    def _loop(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None:
                self._portal_cm = anyio.from_thread.start_blocking_portal(backend_options={"use_uvloop": True})
                self._portal = self._portal_cm.__enter__()
            return self._portal

    async def _run(self, key: tuple[tuple[str, str], ...], action: Action) -> Any:
        admin = await self._admin(key)
        try:
            return await action(admin)
        except Exception as exc:
            if not is_unreachable(exc):
                raise
        # The database went away under a pooled connection (a test restarted it): a fresh service, as
        # the next CLI run would open, tries once more.
        await self._close(key)
        return await action(await self._admin(key))

    async def _admin(self, key: tuple[tuple[str, str], ...]) -> AdminService:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key][0]
            stack = AsyncExitStack()
            admin = await stack.enter_async_context(open_admin(load_settings(dict(key))))
            self._open[key] = (admin, stack)
            while len(self._open) > MAX_OPEN:
                await self._close(next(iter(self._open)))
            return admin

    async def _close(self, key: tuple[tuple[str, str], ...]) -> None:
        entry = self._open.pop(key, None)
        if entry is not None:
            with contextlib.suppress(Exception):  # its database may already be dropped
                await entry[1].aclose()


def _key(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(env.items()))


DESK = AdminDesk()
"""The test session's one desk (each xdist worker has its own)."""


@contextlib.contextmanager
def desk_open() -> Iterator[AdminDesk]:
    """For the session fixture: the desk, closed at the end."""
    try:
        yield DESK
    finally:
        DESK.close_all()
