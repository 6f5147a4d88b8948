"""Which previous runs of a node are dead: judged from real processes, never from another node's."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from imagegate.db.runs import RunRecord
from imagegate.service.recovery import ThisRun, process_start

NOW = datetime.now(UTC)


def _run_of(
    this: ThisRun, pid: int, started: str | None, *, node: str | None = None, boot: str | None = None
) -> RunRecord:
    return RunRecord("run_other", node or this.node_id, boot or this.boot_id, pid, started or "", NOW)


def test_a_live_sibling_process_is_alive_and_a_dead_one_is_dead() -> None:
    this = ThisRun.now("node-a")
    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        record = _run_of(this, sibling.pid, process_start(sibling.pid))
        assert not this.is_dead(record)
    finally:
        sibling.kill()
        sibling.wait(10)
    assert this.is_dead(record)


def test_a_reused_pid_is_told_from_the_original_by_its_start_time() -> None:
    this = ThisRun.now("node-a")
    # A previous run that had this very pid (a restarted container's process 1, say).
    assert this.is_dead(_run_of(this, this.pid, "1"))
    assert not this.is_dead(RunRecord(this.run_id, this.node_id, this.boot_id, this.pid, this.process_start, NOW))


def test_another_boot_of_this_node_is_dead_and_another_node_is_never_judged() -> None:
    this = ThisRun.now("node-a")
    assert this.is_dead(_run_of(this, 999_999, "5", boot="an-earlier-boot"))
    assert not this.is_dead(_run_of(this, 999_999, "5", node="node-b"))
    assert not this.is_dead(_run_of(this, 999_999, "5", node="node-b", boot="an-earlier-boot"))
