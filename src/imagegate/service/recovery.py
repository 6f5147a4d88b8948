"""A restarted node releases at once what its previous run held (holds, idempotency claims).

Each gateway process is a *run* of a *node* (`IMAGEGATE_NODE_ID`, default the host name; it must be
unique among the nodes sharing a database). At start-up a run looks at the other runs registered
under its own node id and releases those that are certainly dead:

- a run registered under another boot of this machine (the kernel's boot id differs): dead;
- a run of this boot whose process (pid *and* its start time) no longer exists: dead. The start time
  tells a reused pid from the original, including a restarted container whose new process got the
  same pid.

Runs of other node ids are never judged here (their processes cannot be seen from this one), so a
live node's holds are never released by another node; those of a node that never comes back expire
with their hold TTL (the request deadline plus a small margin) through the sweeper. Sibling workers
of `serve --workers N` share a node id and see each other's processes alive.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..db.clock import utcnow
from ..db.runs import RunRecord, RunsRepo
from ..domain.ids import new_id
from ..host.processes import pid_alive

log = logging.getLogger("imagegate.recovery")


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name before ")" may hold spaces


@dataclass(frozen=True, slots=True)
class ThisRun:
    run_id: str
    node_id: str
    boot_id: str
    pid: int
    process_start: str

    @classmethod
    def now(cls, node_id: str) -> ThisRun:
        pid = os.getpid()
        return cls(new_id("run"), node_id, boot_id(), pid, process_start(pid) or "")

    def is_dead(self, other: RunRecord) -> bool:
        """Whether `other`, a run of this node, is certainly no longer running."""
        if other.run_id == self.run_id or other.node_id != self.node_id:
            return False
        if other.boot_id != self.boot_id:
            return other.boot_id != "unknown" and self.boot_id != "unknown"
        if not other.process_start:  # no /proc where it ran: only a missing process is proof
            return not pid_alive(other.pid)
        return process_start(other.pid) != other.process_start


class NodeRecovery:
    """Registers this run and releases what dead runs of the same node left behind."""

    def __init__(self, runs: RunsRepo, this: ThisRun) -> None:
        self._runs = runs
        self.this = this

    async def start(self) -> dict[str, int]:
        """At start-up: register, then release every dead previous run of this node."""
        await self._runs.register(
            RunRecord(
                self.this.run_id, self.this.node_id, self.this.boot_id, self.this.pid, self.this.process_start, utcnow()
            )
        )
        return await self.release_dead()

    async def release_dead(self) -> dict[str, int]:
        totals = {"runs": 0, "holds": 0, "claims": 0}
        for run in await self._runs.runs_of(self.this.node_id):
            if not self.this.is_dead(run):
                continue
            released = await self._runs.release(run.run_id, f"node restarted: hold of dead run {run.run_id} released")
            totals["runs"] += 1
            totals["holds"] += released.holds
            totals["claims"] += released.claims
            log.warning(
                "released %d hold(s) and %d idempotency claim(s) of the dead run %s (pid %d) of node %s",
                released.holds,
                released.claims,
                run.run_id,
                run.pid,
                run.node_id,
            )
        return totals

    async def stop(self) -> None:
        """A clean stop: whatever this run still holds is released, and its row goes."""
        await self._runs.release(self.this.run_id, "node stopped: hold released")


__all__ = ["NodeRecovery", "ThisRun", "boot_id", "process_start"]
