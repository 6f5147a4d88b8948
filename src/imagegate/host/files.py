"""Writing a file so that readers see all of it or none of it (write a sibling, then rename)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per process: two writers never share one
    try:
        fh = open(tmp, "wb")  # noqa: SIM115 - the directory may be missing; reopened below
    except FileNotFoundError:  # the first file of its directory (or the directory was cleaned away)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(tmp, "wb")  # noqa: SIM115
    with fh:
        fh.write(data)
    os.replace(tmp, path)


__all__ = ["write_atomically"]
