"""Waking every node's idle loops when work is queued, instead of each loop asking the database
every few seconds.

A loop (the job workers, the webhook sender, the batch runner) subscribes to the kind of work it
runs; the code that queues work calls `notify(kind)` once it is committed. `LocalWakeups` wakes this
process's loops only: work queued by another process is found by the loops' polls
(`IMAGEGATE_JOB_POLL_SECONDS`, `IMAGEGATE_WEBHOOK_POLL_SECONDS`). An adapter that also reaches the
other nodes (PostgreSQL's LISTEN/NOTIFY, `db/wakeups.py`) says so with `listening`, and idle loops
then poll only as a safety net (`idle_seconds`): a notice lost on the way (a dropped connection, a
node stopped between its commit and its notice) is still found within `SAFETY_NET_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

WorkKind = Literal["jobs", "webhooks", "batches"]
KINDS: tuple[WorkKind, ...] = ("jobs", "webhooks", "batches")
SAFETY_NET_SECONDS = 30.0
"""While notices arrive, an idle loop still looks this often (or its poll interval, if longer)."""


class Wakeups(Protocol):
    @property
    def listening(self) -> bool:
        """Other nodes' notices reach this node now: its idle loops poll only as a safety net."""

    def notify(self, kind: WorkKind) -> None:
        """Work of `kind` was committed: wake this node's loops at once and tell the other nodes'
        (best effort: what is lost is found by their polls)."""

    def subscribe(self, kind: WorkKind, wake: Callable[[], None]) -> None:
        """Call `wake` (which must not block) whenever work of `kind` may be waiting."""

    def idle_seconds(self, poll_seconds: float) -> float:
        """How long an idle loop whose poll interval is `poll_seconds` waits before looking anyway."""


class LocalWakeups:
    """This process's loops only: work queued here wakes them at once; other processes' work is
    found by polling (SQLite: `serve --workers N` and `imagegate worker` may share the file)."""

    def __init__(self) -> None:
        self._subscribers: dict[WorkKind, list[Callable[[], None]]] = {kind: [] for kind in KINDS}

    @property
    def listening(self) -> bool:
        """Other nodes' notices reach this one now (never, here)."""
        return False

    def notify(self, kind: WorkKind) -> None:
        self.wake_here(kind)

    def subscribe(self, kind: WorkKind, wake: Callable[[], None]) -> None:
        self._subscribers[kind].append(wake)

    def idle_seconds(self, poll_seconds: float) -> float:
        return max(poll_seconds, SAFETY_NET_SECONDS) if self.listening else poll_seconds

    def wake_here(self, kind: WorkKind) -> None:
        for wake in self._subscribers[kind]:
            wake()

    def wake_all_here(self) -> None:
        """Every loop of this node looks now (notices may have been missed, or the poll interval changed)."""
        for kind in KINDS:
            self.wake_here(kind)


__all__ = ["KINDS", "SAFETY_NET_SECONDS", "LocalWakeups", "Wakeups", "WorkKind"]
