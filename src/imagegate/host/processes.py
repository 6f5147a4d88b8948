"""Whether a process id names a live process on this machine."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a process of another user counts: signalling it is merely not allowed)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["pid_alive"]
