"""The ledger's request path on SQLite: the hold and the settlement as raw sqlite3 statements.

On SQLite a statement costs microseconds, and SQLAlchemy's execution of it (compiled-cache lookup,
bind processors, result wrapping) several times that: the two units of a paid request spent ~0.4 ms
of CPU, most of it in SQLAlchemy. These units run the same statements on the driver's connection
(sqlite3 keeps each prepared, by its text), inside the runner's own transaction (`BEGIN IMMEDIATE`
... COMMIT, runner.py), and write the same rows as ledger.py's units; a settlement whose hold is not
open (or whose capture is outside it) is handed, in the same transaction, to ledger.py's unit, which
decides exactly as before. Holds with budget claims keep ledger.py's unit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ..domain.ids import new_id
from .clock import utcnow
from .tables import ledger_entries, usage_records
from .usage import UsageRecord

T = TypeVar("T")

_TAKE = "UPDATE accounts SET held_micros = held_micros + ? WHERE id = ? AND balance_micros - held_micros >= ?"
_INSERT_HOLD = (
    "INSERT INTO holds (id, account_id, request_id, amount_micros, status, created_at, expires_at, run_id) "
    "VALUES (?, ?, ?, ?, 'open', ?, ?, ?)"
)
_INSERT_ENTRY = (
    f"INSERT INTO ledger_entries ({', '.join(c.name for c in ledger_entries.c)}) "
    f"VALUES ({', '.join('?' for _ in ledger_entries.c)})"
)
_CLOSE = (
    "UPDATE holds SET status = ? WHERE id = ? AND status = 'open' AND amount_micros >= ? AND ? >= 0 "
    "RETURNING account_id, amount_micros, request_id"
)
_SETTLE_ACCOUNT = "UPDATE accounts SET held_micros = held_micros - ?, balance_micros = balance_micros - ? WHERE id = ?"
_USAGE_COLUMNS = tuple(c.name for c in usage_records.c)
_QUOTED = ", ".join(f'"{name}"' for name in _USAGE_COLUMNS)  # `user` is a keyword elsewhere: quoted everywhere
_INSERT_USAGE = f"INSERT INTO usage_records ({_QUOTED}) VALUES ({', '.join('?' for _ in _USAGE_COLUMNS)})"
assert set(UsageRecord.__dataclass_fields__) == set(_USAGE_COLUMNS), "UsageRecord and usage_records drifted apart"


def stored(when: datetime) -> str:
    """A UTC instant as SQLAlchemy keeps a DateTime on SQLite (tables.DateTime: zone-free UTC text)."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _driver(conn: Connection) -> sqlite3.Connection:
    return conn.connection.driver_connection  # type: ignore[return-value]


def _raw(unit: Callable[[sqlite3.Connection], T], conn: Connection) -> T:
    """`unit` on the driver's connection, its errors raised as SQLAlchemy's (as if it had executed them)."""
    try:
        return unit(_driver(conn))
    except sqlite3.Error as error:
        raise DBAPIError.instance("a raw ledger statement", None, error, sqlite3.Error) from error


def take_hold(
    account_id: str, request_id: str, amount: int, ttl_seconds: int, run_id: str | None, conn: Connection
) -> str | None:
    def unit(db: sqlite3.Connection) -> str | None:
        if db.execute(_TAKE, (amount, account_id, amount)).rowcount != 1:
            return None
        hold_id, now = new_id("hold"), utcnow()
        at = stored(now)
        db.execute(
            _INSERT_HOLD,
            (hold_id, account_id, request_id, amount, at, stored(now + timedelta(seconds=ttl_seconds)), run_id),
        )
        db.execute(_INSERT_ENTRY, (new_id("led"), account_id, "hold", 0, amount, "hold", request_id, hold_id, at))
        return hold_id

    return _raw(unit, conn)


def settle(
    hold_id: str,
    capture: int,
    reason: str,
    usage: UsageRecord | None,
    otherwise: Callable[[Connection], bool],
    conn: Connection,
) -> bool:
    """Close the open hold whose capture fits and write what ledger.py's unit writes; when it is not
    open or the capture is outside it, `otherwise` (that unit) decides, in this same transaction."""

    def unit(db: sqlite3.Connection) -> bool:
        row = db.execute(_CLOSE, ("settled" if capture else "released", hold_id, capture, capture)).fetchone()
        if row is None:
            return False
        account_id, held, request_id = row
        db.execute(_SETTLE_ACCOUNT, (held, capture, account_id))
        at = stored(utcnow())
        if capture:
            db.execute(
                _INSERT_ENTRY,
                (new_id("led"), account_id, "capture", -capture, -capture, reason, request_id, hold_id, at),
            )
        if held - capture:
            release_reason = reason if not capture else "rest of the hold released"
            db.execute(
                _INSERT_ENTRY,
                (new_id("led"), account_id, "release", 0, capture - held, release_reason, request_id, hold_id, at),
            )
        if usage is not None:
            db.execute(_INSERT_USAGE, _usage_row(usage))
        return True

    return _raw(unit, conn) or otherwise(conn)


def _usage_row(usage: UsageRecord) -> tuple[Any, ...]:
    return tuple(stored(usage.created_at) if name == "created_at" else getattr(usage, name) for name in _USAGE_COLUMNS)


__all__ = ["settle", "stored", "take_hold"]
