"""Read-only looks into a test gateway's embedded database (what the operator's tools would show)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def usage_row(data_dir: Path, request_id: str) -> dict[str, Any] | None:
    """The usage record the gateway wrote for `request_id`, or None."""
    with sqlite3.connect(data_dir / "imagegate.db") as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM usage_records WHERE id = ?", (request_id,)).fetchone()
    return dict(row) if row is not None else None
