"""CPU and memory of process trees, read from /proc while a load run goes on."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def read_stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, CPU ticks user+system, RSS bytes) of one process, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE_BYTES


def process_tree(root: int) -> dict[int, tuple[int, int]]:
    """{pid: (CPU ticks, RSS bytes)} for `root` and all its descendants."""
    stats: dict[int, tuple[int, int, int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = read_stat(int(name))
            if found is not None:
                stats[int(name)] = found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            tree[pid] = stats[pid][1:]
            todo.extend(children.get(pid, ()))
    return tree


def tree_cpu_seconds(root: int) -> float:
    return sum(ticks for ticks, _ in process_tree(root).values()) / TICKS_PER_SECOND


def host_cpu() -> tuple[int, int]:
    """(all ticks, idle ticks) of the whole machine so far."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    return sum(values), values[3] + values[4]


@dataclass
class TreeUsage:
    first_ticks: dict[int, int] = field(default_factory=dict)
    last_ticks: dict[int, int] = field(default_factory=dict)
    peak_rss: int = 0
    start_rss: int | None = None

    def add(self, tree: dict[int, tuple[int, int]]) -> None:
        for pid, (ticks, _) in tree.items():
            self.first_ticks.setdefault(pid, ticks)
            self.last_ticks[pid] = ticks
        rss = sum(rss for _, rss in tree.values())
        self.start_rss = rss if self.start_rss is None else self.start_rss
        self.peak_rss = max(self.peak_rss, rss)

    def cpu_seconds(self) -> float:
        return sum(self.last_ticks[p] - t for p, t in self.first_ticks.items()) / TICKS_PER_SECOND


class Sampler(threading.Thread):
    """Samples named process trees every `interval` seconds until stopped: peak RSS and CPU used.

    CPU of a process that starts during the run counts from its first sample (a uvicorn worker
    respawn would lose at most one interval).
    """

    def __init__(self, roots: dict[str, int], interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.interval = interval
        self.usage = {name: TreeUsage() for name in roots}
        self._halt = threading.Event()
        self._host_start = host_cpu()
        self._host_end = self._host_start
        self.sample()

    def sample(self) -> None:
        for name, root in self.roots.items():
            self.usage[name].add(process_tree(root))

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def finish(self) -> dict[str, dict[str, float]]:
        self._halt.set()
        self.join()
        self.sample()
        self._host_end = host_cpu()
        return {
            name: {
                "cpu_s": round(u.cpu_seconds(), 3),
                "peak_rss_mb": round(u.peak_rss / 2**20, 1),
                "start_rss_mb": round((u.start_rss or 0) / 2**20, 1),
            }
            for name, u in self.usage.items()
        }

    def host_busy_cores(self, seconds: float) -> float:
        total = self._host_end[0] - self._host_start[0]
        idle = self._host_end[1] - self._host_start[1]
        return round((total - idle) / TICKS_PER_SECOND / max(seconds, 1e-9), 2)


__all__ = ["Sampler", "host_cpu", "process_tree", "read_stat", "tree_cpu_seconds"]
