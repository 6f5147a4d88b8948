"""The ledger's request path on PostgreSQL: raw statements run on asyncpg, one hold or settlement, or a batch.

One operation is ONE statement (data-modifying CTEs, atomic on their own, no BEGIN/COMMIT): the hold
is the conditional UPDATE of the account, the hold row and its entry; the settlement closes the hold,
moves the money, writes its entries and the usage record.

A batch (group commit, `group_commit.py`) shares the round trips of many operations:

- holds: one transaction locks the batch's accounts (`FOR UPDATE`, in id order), decides in arrival
  order which holds fit, exactly as one conditional UPDATE after another would (a refused big hold
  does not refuse a later small one), and writes every granted hold, its entry and each account's
  new `held_micros` in ONE statement before COMMIT;
- settlements: ONE statement closes every hold of the batch that is open and whose capture fits,
  and writes what the one-hold statement writes, for all of them (each account's money moved by
  its sums). A hold it did not close is answered by the statement-by-statement unit (ledger.py),
  which decides exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ..domain.ids import new_id
from .budgets import PG_SETTLE_BUDGETS_CTE
from .clock import utcnow
from .runner import PostgresRunner, Runner
from .tables import accounts, holds, ledger_entries, usage_records
from .usage import UsageRecord

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def _type(column: Any) -> str:
    return str(column.type.compile(dialect=_PG))


def _cast(name: str, column: Any) -> str:
    """A typed parameter: PostgreSQL cannot infer the type of a parameter in a SELECT list."""
    return f"CAST(:{name} AS {_type(column)})"


def _array(name: str, column: Any) -> str:
    """A typed array parameter: one value per operation of a batch."""
    return f"CAST(:{name} AS {_type(column)}[])"


def _cols(table: Any) -> str:
    return ", ".join(_PG.identifier_preparer.quote(c.name) for c in table.c)


_ENTRY_COLS = _cols(ledger_entries)
_E = ledger_entries.c
_H = holds.c

# One round trip: take the credit (conditional UPDATE), insert the hold and its ledger entry. When the
# account lacks the credit, `a` is empty and so are the inserts that select from it.
_TAKE_HOLD_SQL = f"""
WITH a AS (
    UPDATE accounts SET held_micros = held_micros + {_cast("amount", accounts.c.held_micros)}
    WHERE id = {_cast("account_id", accounts.c.id)}
      AND balance_micros - held_micros >= {_cast("amount", accounts.c.held_micros)}
    RETURNING id
), h AS (
    INSERT INTO holds (id, account_id, request_id, amount_micros, status, created_at, expires_at, run_id)
    SELECT {_cast("hold_id", _H.id)}, a.id, {_cast("request_id", _H.request_id)},
           {_cast("amount", _H.amount_micros)}, 'open', {_cast("now", _H.created_at)},
           {_cast("expires_at", _H.expires_at)}, {_cast("run_id", _H.run_id)}
    FROM a
    RETURNING id, account_id
)
INSERT INTO ledger_entries ({_ENTRY_COLS})
SELECT {_cast("entry_id", _E.id)}, h.account_id, 'hold', 0, {_cast("amount", _E.held_delta_micros)},
       'hold', {_cast("request_id", _E.request_id)}, h.id, {_cast("now", _E.created_at)}
FROM h
RETURNING hold_id
"""

_USAGE_SELECT = ", ".join(_cast(f"u_{c.name}", c) for c in usage_records.c)


def _settle_sql(budgets: str) -> str:
    """One round trip: close the open hold (only if the capture fits in it), move held and captured
    money, write the capture and/or release entries and the usage record. When the hold is not open,
    `h` is empty and nothing else happens; the caller then runs the statement-by-statement unit.
    `budgets`: the CTE moving the hold's budget spend rows, or nothing for a hold that claimed none."""
    return f"""
WITH h AS (
    UPDATE holds SET status = {_cast("status", _H.status)}
    WHERE id = {_cast("hold_id", _H.id)} AND status = 'open'
      AND amount_micros >= {_cast("capture", _H.amount_micros)} AND {_cast("capture", _H.amount_micros)} >= 0
    RETURNING account_id, amount_micros, request_id
), a AS (
    UPDATE accounts
    SET held_micros = accounts.held_micros - h.amount_micros,
        balance_micros = accounts.balance_micros - {_cast("capture", accounts.c.balance_micros)}
    FROM h WHERE accounts.id = h.account_id
    RETURNING accounts.id
){budgets}, e AS (
    INSERT INTO ledger_entries ({_ENTRY_COLS})
    SELECT {_cast("capture_id", _E.id)}, h.account_id, 'capture', -{_cast("capture", _E.amount_micros)},
           -{_cast("capture", _E.amount_micros)}, {_cast("reason", _E.reason)}, h.request_id,
           {_cast("hold_id", _E.hold_id)}, {_cast("now", _E.created_at)}
    FROM h WHERE {_cast("capture", _E.amount_micros)} > 0
    UNION ALL
    SELECT {_cast("release_id", _E.id)}, h.account_id, 'release', 0,
           {_cast("capture", _E.amount_micros)} - h.amount_micros, {_cast("release_reason", _E.reason)}, h.request_id,
           {_cast("hold_id", _E.hold_id)}, {_cast("now", _E.created_at)}
    FROM h WHERE h.amount_micros > {_cast("capture", _E.amount_micros)}
    RETURNING id
), u AS (
    INSERT INTO usage_records ({_cols(usage_records)})
    SELECT {_USAGE_SELECT} FROM h WHERE CAST(:with_usage AS BOOLEAN)
    RETURNING id
)
SELECT h.account_id FROM h
"""


_NO_USAGE = {f"u_{c.name}": None for c in usage_records.c}

# A batch of holds, after the accounts were locked and the holds that fit chosen: every granted hold,
# its entry, and each account's held_micros raised by its granted sum (guarded as the one-hold
# statement is: under the lock the guard always passes; the caller checks it did).
_HOLD_BATCH_SQL = f"""
WITH g AS (
    SELECT * FROM unnest({_array("hold_id", _H.id)}, {_array("account_id", _H.account_id)},
                         {_array("request_id", _H.request_id)}, {_array("amount", _H.amount_micros)},
                         {_array("expires_at", _H.expires_at)}, {_array("run_id", _H.run_id)},
                         {_array("entry_id", _E.id)})
        AS g(hold_id, account_id, request_id, amount, expires_at, run_id, entry_id)
), t AS (
    SELECT account_id, CAST(sum(amount) AS BIGINT) AS total FROM g GROUP BY account_id
), a AS (
    UPDATE accounts SET held_micros = accounts.held_micros + t.total
    FROM t WHERE accounts.id = t.account_id AND accounts.balance_micros - accounts.held_micros >= t.total
    RETURNING accounts.id
), h AS (
    INSERT INTO holds (id, account_id, request_id, amount_micros, status, created_at, expires_at, run_id)
    SELECT hold_id, account_id, request_id, amount, 'open', {_cast("now", _H.created_at)}, expires_at, run_id
    FROM g
), e AS (
    INSERT INTO ledger_entries ({_ENTRY_COLS})
    SELECT entry_id, account_id, 'hold', 0, amount, 'hold', request_id, hold_id, {_cast("now", _E.created_at)}
    FROM g
)
SELECT (SELECT count(*) FROM a) AS accounts, (SELECT count(*) FROM t) AS expected
"""

_LOCK_ACCOUNTS_SQL = (
    "SELECT id, balance_micros - held_micros AS available FROM accounts WHERE id = ANY($1::varchar[]) "
    "ORDER BY id FOR UPDATE"
)

_SETTLE_FIELDS = (
    ("hold_id", _H.id),
    ("capture", _H.amount_micros),
    ("status", _H.status),
    ("reason", _E.reason),
    ("release_reason", _E.reason),
    ("capture_id", _E.id),
    ("release_id", _E.id),
)
_USAGE_FIELDS = tuple((f"u_{c.name}", c) for c in usage_records.c)
_S_COLS = ", ".join([name for name, _ in _SETTLE_FIELDS] + ["with_usage"] + [name for name, _ in _USAGE_FIELDS])
_S_ARRAYS = ", ".join(
    [_array(name, column) for name, column in _SETTLE_FIELDS]
    + ["CAST(:with_usage AS BOOLEAN[])"]
    + [_array(name, column) for name, column in _USAGE_FIELDS]
)

# A batch of settlements in one statement: each hold of the batch that is open and whose capture fits
# is closed, and its entries and usage record written, as by the one-hold statement; each account's
# money moves by its holds' sums. `l` first locks the batch's accounts in id order, as a batch of holds
# does (the scalar count is computed once, before any hold is updated): two nodes' batches on the same
# accounts then queue, and never deadlock (PostgreSQL would break a deadlock only after a second). `n`
# (the operation's place in the batch) answers which were closed; a hold named twice is closed once,
# by one of them (the other is not open any more).
_SETTLE_BATCH_SQL = f"""
WITH s AS (
    SELECT * FROM unnest({_S_ARRAYS}) WITH ORDINALITY AS s({_S_COLS}, n)
), l AS (
    SELECT id FROM accounts WHERE id IN (SELECT account_id FROM holds WHERE id IN (SELECT hold_id FROM s))
    ORDER BY id FOR UPDATE
), h AS (
    UPDATE holds SET status = s.status FROM s
    WHERE holds.id = s.hold_id AND holds.status = 'open' AND holds.amount_micros >= s.capture AND s.capture >= 0
      AND (SELECT count(*) FROM l) >= 0
    RETURNING s.n, holds.account_id, holds.amount_micros, holds.request_id
), hs AS (
    SELECT h.account_id, h.amount_micros, h.request_id, s.* FROM h JOIN s ON s.n = h.n
), t AS (
    SELECT account_id, CAST(sum(amount_micros) AS BIGINT) AS held, CAST(sum(capture) AS BIGINT) AS captured
    FROM hs GROUP BY account_id
), a AS (
    UPDATE accounts
    SET held_micros = accounts.held_micros - t.held, balance_micros = accounts.balance_micros - t.captured
    FROM t WHERE accounts.id = t.account_id
    RETURNING accounts.id
), e AS (
    INSERT INTO ledger_entries ({_ENTRY_COLS})
    SELECT capture_id, account_id, 'capture', -capture, -capture, reason, request_id, hold_id,
           {_cast("now", _E.created_at)}
    FROM hs WHERE capture > 0
    UNION ALL
    SELECT release_id, account_id, 'release', 0, capture - amount_micros, release_reason, request_id, hold_id,
           {_cast("now", _E.created_at)}
    FROM hs WHERE amount_micros > capture
), u AS (
    INSERT INTO usage_records ({_cols(usage_records)})
    SELECT {", ".join(name for name, _ in _USAGE_FIELDS)} FROM hs WHERE with_usage
)
SELECT n FROM h
"""


def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters -> asyncpg's `$n`, and the names in their order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"(?<![:\w]):(\w+)", number, sql), tuple(names)


class Statement:
    """One statement in both forms: SQLAlchemy's `text()` (any PostgreSQL runner) and asyncpg's own."""

    def __init__(self, sql: str) -> None:
        self.text = text(sql)
        self.raw, self.names = _positional(sql)

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]

    async def fetchrow(self, runner: Runner, params: dict[str, Any]) -> Any:
        if isinstance(runner, PostgresRunner):
            return await runner.fetchrow(self.raw, *self.args(params))
        return await runner.atomic(partial(_first, self.text, params))

    async def fetch(self, runner: Runner, params: dict[str, Any]) -> list[Any]:
        if isinstance(runner, PostgresRunner):
            return list(await runner.fetch(self.raw, *self.args(params)))
        return await runner.atomic(partial(_all, self.text, params))


def _first(statement: Any, params: dict[str, Any], conn: Connection) -> Any:
    return conn.execute(statement, params).first()


def _all(statement: Any, params: dict[str, Any], conn: Connection) -> list[Any]:
    return list(conn.execute(statement, params).all())


TAKE_HOLD = Statement(_TAKE_HOLD_SQL)
SETTLE = {True: Statement(_settle_sql(PG_SETTLE_BUDGETS_CTE)), False: Statement(_settle_sql(""))}
"""By whether the hold may have claimed budgets (unknown: True)."""
_HOLD_BATCH = Statement(_HOLD_BATCH_SQL)
_SETTLE_BATCH = Statement(_SETTLE_BATCH_SQL)


@dataclass(frozen=True, slots=True)
class HoldAsk:
    """One hold to take: the arguments of `LedgerRepo.take_hold` (without budgets)."""

    account_id: str
    request_id: str
    amount: int
    ttl_seconds: int
    run_id: str | None


@dataclass(frozen=True, slots=True)
class SettleAsk:
    """One settlement of a hold that claimed no budget."""

    hold_id: str
    capture: int
    reason: str
    usage: UsageRecord | None


def take_hold_params(ask: HoldAsk, now: datetime) -> dict[str, Any]:
    return {
        "amount": ask.amount,
        "account_id": ask.account_id,
        "hold_id": new_id("hold"),
        "request_id": ask.request_id,
        "now": now,
        "expires_at": now + timedelta(seconds=ask.ttl_seconds),
        "run_id": ask.run_id,
        "entry_id": new_id("led"),
    }


def settle_params(hold_id: str, capture: int, reason: str, usage: UsageRecord | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "status": "settled" if capture else "released",
        "hold_id": hold_id,
        "capture": capture,
        "capture_id": new_id("led"),
        "release_id": new_id("led"),
        "reason": reason,
        "release_reason": reason if not capture else "rest of the hold released",
        "now": utcnow(),
        "with_usage": usage is not None,
    }
    params.update({f"u_{k}": v for k, v in asdict(usage).items()} if usage is not None else _NO_USAGE)
    return params


async def take_one(runner: Runner, ask: HoldAsk) -> str | None:
    params = take_hold_params(ask, utcnow())
    return params["hold_id"] if await TAKE_HOLD.fetchrow(runner, params) is not None else None


async def take_batch(runner: PostgresRunner, asks: Sequence[HoldAsk]) -> list[str | None]:
    """Each ask's hold id, or None where its account lacked the credit (as if taken one by one)."""
    if len(asks) == 1:
        return [await take_one(runner, asks[0])]

    async def unit(conn: Any) -> list[str | None]:
        locked = await conn.fetch(_LOCK_ACCOUNTS_SQL, sorted({a.account_id for a in asks}))
        available = {row["id"]: int(row["available"]) for row in locked}
        now = utcnow()
        granted = [_fits(ask, available, now) for ask in asks]
        rows = [params for params in granted if params is not None]
        if rows:
            columns = {name: [row[name] for row in rows] for name in _HOLD_BATCH.names if name != "now"}
            got = await conn.fetchrow(_HOLD_BATCH.raw, *_HOLD_BATCH.args({**columns, "now": now}))
            if got["accounts"] != got["expected"]:  # the lock makes this impossible: never commit it
                raise RuntimeError(f"a batch of holds found {got['accounts']} of {got['expected']} accounts")
        return [params["hold_id"] if params is not None else None for params in granted]

    return list(await runner.transaction(unit))


def _fits(ask: HoldAsk, available: dict[str, int], now: datetime) -> dict[str, Any] | None:
    """The hold's row if the account still has its amount available (then taken from it), else None."""
    left = available.get(ask.account_id)
    if left is None or left < ask.amount:
        return None
    available[ask.account_id] = left - ask.amount
    return take_hold_params(ask, now)


async def settle_batch(runner: Runner, asks: Sequence[SettleAsk]) -> list[bool]:
    """Which asks' holds the batch statement closed (the others: not open, or the capture outside it)."""
    if len(asks) == 1:
        ask = asks[0]
        row = await SETTLE[False].fetchrow(runner, settle_params(ask.hold_id, ask.capture, ask.reason, ask.usage))
        return [row is not None]
    each = [settle_params(a.hold_id, a.capture, a.reason, a.usage) for a in asks]
    params: dict[str, Any] = {name: [p[name] for p in each] for name in _SETTLE_BATCH.names if name != "now"}
    params["now"] = utcnow()
    closed = {int(row[0]) for row in await _SETTLE_BATCH.fetch(runner, params)}
    return [n in closed for n in range(1, len(asks) + 1)]


__all__ = [
    "SETTLE",
    "TAKE_HOLD",
    "HoldAsk",
    "SettleAsk",
    "Statement",
    "settle_batch",
    "settle_params",
    "take_batch",
    "take_hold_params",
    "take_one",
]
