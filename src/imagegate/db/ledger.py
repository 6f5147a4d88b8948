"""The credit ledger: holds, captures, releases and their append-only entries.

Each change of an account's `balance_micros` or `held_micros` is written in the same transaction
as a ledger entry carrying the same deltas, so that for every account

    balance_micros == Σ entries.amount_micros
    held_micros    == Σ entries.held_delta_micros == Σ open holds
    0 <= held_micros <= balance_micros

A hold is taken with one conditional UPDATE (no read-then-write race), so the last invariant holds
with any number of nodes on one database. `verify()` proves all of it.

On PostgreSQL every statement is a network round trip, so the request path's two units are each ONE
statement (data-modifying CTEs, atomic on their own, run without BEGIN/COMMIT): the hold is the
conditional UPDATE, the hold row and its entry; the settlement closes the hold, moves the money,
writes its entries and the usage record. The same rows, the same guards: a hold whose account lacks
the credit inserts nothing, a settlement whose hold is no longer open (or whose capture exceeds it)
changes nothing and falls back to the statement-by-statement unit, which decides exactly as before.
The statements are in ledger_pg.py. Under load a node takes its holds, and its settlements, in
batches (group commit, no timer: group_commit.py): a batch of holds decides under the accounts' row
locks in arrival order, a batch of settlements is one statement; each caller gets the answer it
would have got alone (docs/ledger.md, "Batched holds and settlements"). Holds with budget claims,
and settlements of holds that may have them, run one at a time.

SQLite keeps the statement-by-statement units (there a statement costs microseconds, not a trip);
those of a hold without budgets run as raw sqlite3 statements (ledger_sqlite.py), the same rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ..domain.budgets import BudgetClaim
from ..domain.ids import new_id
from ..domain.money import MAX_BALANCE_MICROS
from . import ledger_sqlite
from .budgets import claim_budgets, close_budgets, refund_budgets, spend_discrepancies
from .clock import utcnow
from .group_commit import Answer, GroupCommit
from .ledger_pg import SETTLE, HoldAsk, SettleAsk, settle_batch, settle_params, take_batch, take_one
from .runner import EngineRunner, PostgresRunner, Runner, SqliteRunner
from .tables import accounts, holds, jobs, ledger_entries, usage_records
from .unreachable import is_unreachable
from .usage import INSERT_USAGE, UsageRecord, insert_once, mark_refunded

log = logging.getLogger("imagegate.db")
T = TypeVar("T")

# The hot path's statements, built once (building a statement costs more than running it on SQLite).
_TAKE = (
    update(accounts)
    .where(
        and_(
            accounts.c.id == bindparam("account_id"),
            accounts.c.balance_micros - accounts.c.held_micros >= bindparam("amount"),
        )
    )
    .values(held_micros=accounts.c.held_micros + bindparam("amount"))
)
_INSERT_HOLD = insert(holds)
_INSERT_ENTRY = insert(ledger_entries)
_CLOSE_HOLD = (
    update(holds)
    .where(holds.c.id == bindparam("hold_id"), holds.c.status == "open")
    .values(status=bindparam("new_status"))
    .returning(holds.c.account_id, holds.c.amount_micros, holds.c.request_id)
)
_SETTLE_ACCOUNT = (
    update(accounts)
    .where(accounts.c.id == bindparam("account_id"))
    .values(
        held_micros=accounts.c.held_micros - bindparam("held"),
        balance_micros=accounts.c.balance_micros - bindparam("capture"),
    )
)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    account_id: str
    problem: str


def entry(
    account_id: str,
    kind: str,
    *,
    amount: int = 0,
    held_delta: int = 0,
    reason: str,
    request_id: str | None = None,
    hold_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One ledger row; `amount` changes the balance, `held_delta` what is held."""
    return {
        "id": new_id("led"),
        "account_id": account_id,
        "kind": kind,
        "amount_micros": amount,
        "held_delta_micros": held_delta,
        "reason": reason,
        "request_id": request_id,
        "hold_id": hold_id,
        "created_at": at or utcnow(),
    }


def _take_hold(
    account_id: str,
    request_id: str,
    amount: int,
    ttl_seconds: int,
    run_id: str | None,
    conn: Connection,
    budgets: tuple[BudgetClaim, ...] = (),
) -> str | None:
    if conn.execute(_TAKE, {"account_id": account_id, "amount": amount}).rowcount != 1:
        return None
    hold_id = new_id("hold")
    claim_budgets(hold_id, amount, budgets, conn)  # raises BudgetShort: the transaction rolls back
    now = utcnow()
    conn.execute(
        _INSERT_HOLD,
        {
            "id": hold_id,
            "account_id": account_id,
            "request_id": request_id,
            "amount_micros": amount,
            "status": "open",
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
            "run_id": run_id,
        },
    )
    conn.execute(
        _INSERT_ENTRY,
        entry(account_id, "hold", held_delta=amount, reason="hold", request_id=request_id, hold_id=hold_id, at=now),
    )
    return hold_id


def _settle(
    hold_id: str, capture: int, reason: str, usage: UsageRecord | None, conn: Connection, *, budgeted: bool = True
) -> bool:
    closed = _close(hold_id, capture, reason, "settled" if capture else "released", conn, budgeted=budgeted)
    if usage is not None and closed:
        conn.execute(INSERT_USAGE, asdict(usage))
    elif usage is not None and not capture:  # a capture that found no open hold is not recorded as one
        insert_once(usage, conn)  # a release retried after its first commit, or after the sweeper's
    return closed


_MARK_REFUNDED = (
    update(holds)
    .where(holds.c.id == bindparam("hold_id"), holds.c.status == "settled")
    .values(status="refunded")
    .returning(holds.c.account_id, holds.c.request_id)
)


def _entries_of(hold_id: str, kind: str, conn: Connection) -> int:
    """Σ amount_micros of the hold's entries of `kind`."""
    query = select(func.coalesce(func.sum(ledger_entries.c.amount_micros), 0)).where(
        ledger_entries.c.hold_id == hold_id, ledger_entries.c.kind == kind
    )
    return int(conn.execute(query).scalar_one())


def _refund(hold_id: str, reason: str, usage: UsageRecord | None, conn: Connection) -> int | None:
    # The hold's status is the guard: settled -> refunded happens once, whoever asks and however often.
    row = conn.execute(_MARK_REFUNDED, {"hold_id": hold_id}).first()
    if row is None:
        status = conn.execute(select(holds.c.status).where(holds.c.id == hold_id)).scalar_one_or_none()
        return _entries_of(hold_id, "refund", conn) if status == "refunded" else None
    amount = -_entries_of(hold_id, "capture", conn)
    # Not bounded by MAX_BALANCE_MICROS: this gives back money the account had, it creates none.
    conn.execute(
        update(accounts)
        .where(accounts.c.id == row.account_id)
        .values(balance_micros=accounts.c.balance_micros + amount)
    )
    conn.execute(
        _INSERT_ENTRY,
        entry(row.account_id, "refund", amount=amount, reason=reason, request_id=row.request_id, hold_id=hold_id),
    )
    if usage is not None:
        mark_refunded(usage, conn)
    refund_budgets(hold_id, amount, conn)
    return amount


def _close(hold_id: str, capture: int, reason: str, status: str, conn: Connection, *, budgeted: bool = True) -> bool:
    """Close the open hold (False if it is not open); `budgeted`: it may have claimed budgets."""
    row = conn.execute(_CLOSE_HOLD, {"hold_id": hold_id, "new_status": status}).first()
    if row is None:
        return False
    if not 0 <= capture <= row.amount_micros:
        raise ValueError(f"capture {capture} is outside the hold of {row.amount_micros}")
    conn.execute(_SETTLE_ACCOUNT, {"account_id": row.account_id, "held": row.amount_micros, "capture": capture})
    if budgeted:
        close_budgets(hold_id, row.amount_micros, capture, conn)
    now = utcnow()
    entries = []
    if capture:
        entries.append(
            entry(
                row.account_id,
                "capture",
                amount=-capture,
                held_delta=-capture,
                reason=reason,
                request_id=row.request_id,
                hold_id=hold_id,
                at=now,
            )
        )
    if row.amount_micros - capture:
        entries.append(
            entry(
                row.account_id,
                "release",
                held_delta=capture - row.amount_micros,
                reason=reason if not capture else "rest of the hold released",
                request_id=row.request_id,
                hold_id=hold_id,
                at=now,
            )
        )
    if entries:
        conn.execute(_INSERT_ENTRY, entries)
    return True


async def _answer(work: Awaitable[T]) -> Answer[T]:
    """One operation's own outcome in a batch: its result, or its exception (for its caller alone)."""
    try:
        return await work
    except Exception as error:
        return error


class LedgerRepo:
    BATCH_CAP = 256
    """The most holds (or settlements) one batch takes on PostgreSQL."""

    def __init__(self, engine: AsyncEngine, runner: Runner | None = None, run_id: str | None = None) -> None:
        self._engine = engine
        self._runner = runner or EngineRunner(engine)
        self._run_id = run_id  # this process's run: a restart releases its open holds (service/recovery.py)
        self._one_statement = engine.dialect.name == "postgresql"
        self._raw_sqlite = isinstance(self._runner, SqliteRunner)  # the hot units as raw sqlite3 (ledger_sqlite.py)
        # PostgreSQL's request path in batches (group commit, ledger_pg.py); with asyncpg only
        self._holds: GroupCommit[HoldAsk, str | None] | None = None
        self._settles: GroupCommit[SettleAsk, bool] | None = None
        if isinstance(self._runner, PostgresRunner):
            self._holds = GroupCommit(self._take_batch, cap=self.BATCH_CAP, orphaned=self._give_back)
            self._settles = GroupCommit(self._settle_batch, cap=self.BATCH_CAP)
        self._orphans: set[asyncio.Future[bool]] = set()  # releases under way (a task is kept until it ends)

    async def take_hold(
        self,
        account_id: str,
        request_id: str,
        amount: int,
        ttl_seconds: int,
        *,
        detached: bool = False,
        budgets: tuple[BudgetClaim, ...] = (),
    ) -> str | None:
        """Reserve `amount` if the account has it available; the hold's id, or None if short.

        `detached`: the hold names no run, so a stopped or restarted node does not release it (an
        async job's hold belongs to the job, which any node may run); it lives until `ttl_seconds`.
        `budgets`: the budgets it counts against, claimed in the same transaction (`db/budgets.py`);
        one that cannot pay raises `BudgetShort` and nothing is held."""
        run_id = None if detached else self._run_id
        if budgets:
            unit = partial(_take_hold, account_id, request_id, amount, ttl_seconds, run_id, budgets=budgets)
            return await self._runner.write(unit)
        ask = HoldAsk(account_id, request_id, amount, ttl_seconds, run_id)
        if self._holds is not None:
            return await self._holds.submit(ask)
        if self._one_statement:
            return await take_one(self._runner, ask)
        take = ledger_sqlite.take_hold if self._raw_sqlite else _take_hold
        return await self._runner.write(partial(take, account_id, request_id, amount, ttl_seconds, run_id))

    async def _take_batch(self, asks: Sequence[HoldAsk]) -> list[Answer[str | None]]:
        assert isinstance(self._runner, PostgresRunner)
        try:
            return list(await take_batch(self._runner, asks))
        except Exception as error:
            if len(asks) == 1 or is_unreachable(error):
                raise
            # the batch's own failure (a deadlock with another node's batch): rolled back, so each alone
            log.warning("a batch of %d holds failed (%s); taking them one by one", len(asks), error)
            return [await _answer(take_one(self._runner, ask)) for ask in asks]

    def _give_back(self, ask: HoldAsk, hold_id: str | None) -> None:
        """A hold taken for a caller that was cancelled meanwhile: nobody will settle it, release it now."""
        if hold_id is not None:
            task = asyncio.ensure_future(self.release(hold_id, budgeted=False))
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)

    async def adjust(self, account_id: str, micros: int, kind: str, reason: str) -> bool:
        """Top up (or adjust) the balance with its ledger entry, in one transaction.

        A negative adjustment may not take the balance below what is held, nor a top-up above
        MAX_BALANCE_MICROS (checked in the same statement, so concurrent top-ups cannot pass it
        together); False if it would, or if there is no such account.
        """
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .where(accounts.c.balance_micros + micros >= accounts.c.held_micros)
                .where(accounts.c.balance_micros + micros <= MAX_BALANCE_MICROS)
                .values(balance_micros=accounts.c.balance_micros + micros)
            )
            if result.rowcount != 1:
                return False
            await conn.execute(insert(ledger_entries).values(entry(account_id, kind, amount=micros, reason=reason)))
        return True

    async def settle(
        self, hold_id: str, capture: int, reason: str, usage: UsageRecord | None = None, *, budgeted: bool = True
    ) -> bool:
        """Capture `capture` (at most the hold) and release the rest; False if the hold is no longer open.

        The request's usage record, when given, is written in the same transaction. `budgeted`: the
        hold may have claimed budgets; False only for a hold known to have claimed none (its budget
        spend rows are then not looked for).
        """
        if self._settles is not None and not budgeted:
            return await self._settles.submit(SettleAsk(hold_id, capture, reason, usage))
        # On PostgreSQL one statement settles an open hold. When it closes nothing (the hold is no longer
        # open, or the capture is outside it) the unit below decides exactly as before: False, a
        # ValueError, or a release's usage record written anyway.
        if self._one_statement and (
            await SETTLE[budgeted].fetchrow(self._runner, settle_params(hold_id, capture, reason, usage)) is not None
        ):
            return True
        unit = partial(_settle, hold_id, capture, reason, usage, budgeted=budgeted)
        if self._raw_sqlite and not budgeted:
            return await self._runner.write(partial(ledger_sqlite.settle, hold_id, capture, reason, usage, unit))
        return await self._runner.write(unit)

    async def _settle_batch(self, asks: Sequence[SettleAsk]) -> list[Answer[bool]]:
        try:
            closed = await settle_batch(self._runner, asks)
        except Exception as error:
            if len(asks) == 1 or is_unreachable(error):
                raise
            # the batch's own failure (a deadlock, a usage record written twice): rolled back, so each alone
            log.warning("a batch of %d settlements failed (%s); settling them one by one", len(asks), error)
            closed = [False] * len(asks)
        # what the batch did not close: the statement-by-statement unit decides, as for one hold (the
        # one-hold statement would find what the batch found: not open, or the capture outside it)
        return [True if done else await _answer(self._settle_unit(ask)) for ask, done in zip(asks, closed, strict=True)]

    async def _settle_unit(self, ask: SettleAsk) -> bool:
        unit = partial(_settle, ask.hold_id, ask.capture, ask.reason, ask.usage, budgeted=False)
        return await self._runner.write(unit)

    async def release(self, hold_id: str, usage: UsageRecord | None = None, *, budgeted: bool = True) -> bool:
        return await self.settle(hold_id, 0, "released", usage, budgeted=budgeted)

    async def refund(self, hold_id: str, reason: str, usage: UsageRecord | None = None) -> int | None:
        """Give back what a settled hold captured (an entry of kind `refund` naming the hold), once: the
        amount refunded, now or by an earlier call; None when the hold is not settled (open,
        released, expired, unknown). `usage`: how the request ended, written over its usage record
        (which then costs nothing) in the same transaction. Safe to repeat."""
        return await self._runner.write(partial(_refund, hold_id, reason, usage))

    async def hold_status(self, hold_id: str) -> str | None:
        """`open`, `settled`, `released` or `expired`; None for an unknown hold."""
        async with self._engine.connect() as conn:
            return (await conn.execute(select(holds.c.status).where(holds.c.id == hold_id))).scalar_one_or_none()

    async def sweep_expired(self, now: datetime | None = None) -> list[str]:
        """Release every open hold past its expiry (its request died with its node)."""
        now = now or utcnow()
        async with self._engine.connect() as conn:
            expired = (
                (
                    await conn.execute(
                        select(holds.c.id).where(holds.c.status == "open", holds.c.expires_at < now).limit(1000)
                    )
                )
                .scalars()
                .all()
            )
        released = []
        for hold_id in expired:
            if await self._runner.write(
                partial(_close, hold_id, 0, "hold expired: released by the sweeper", "expired")
            ):
                released.append(hold_id)
        return released

    async def verify(self) -> tuple[int, list[Discrepancy]]:
        """Check the ledger's invariants for every account: (accounts checked, problems found)."""
        sums = (
            select(
                ledger_entries.c.account_id,
                func.coalesce(func.sum(ledger_entries.c.amount_micros), 0).label("balance"),
                func.coalesce(func.sum(ledger_entries.c.held_delta_micros), 0).label("held"),
            )
            .group_by(ledger_entries.c.account_id)
            .subquery()
        )
        open_holds = (
            select(holds.c.account_id, func.sum(holds.c.amount_micros).label("held"))
            .where(holds.c.status == "open")
            .group_by(holds.c.account_id)
            .subquery()
        )
        query = (
            select(
                accounts.c.id,
                accounts.c.balance_micros,
                accounts.c.held_micros,
                func.coalesce(sums.c.balance, 0).label("entry_balance"),
                func.coalesce(sums.c.held, 0).label("entry_held"),
                func.coalesce(open_holds.c.held, 0).label("open_held"),
            )
            .select_from(accounts)
            .outerjoin(sums, sums.c.account_id == accounts.c.id)
            .outerjoin(open_holds, open_holds.c.account_id == accounts.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            budget_problems = [Discrepancy(a, p) for a, p in await conn.run_sync(spend_discrepancies)]
        problems = []
        for r in rows:
            if r.balance_micros != r.entry_balance:
                problems.append(Discrepancy(r.id, f"balance {r.balance_micros} != sum of entries {r.entry_balance}"))
            if r.held_micros != r.entry_held:
                problems.append(Discrepancy(r.id, f"held {r.held_micros} != sum of hold entries {r.entry_held}"))
            if r.held_micros != r.open_held:
                problems.append(Discrepancy(r.id, f"held {r.held_micros} != sum of open holds {r.open_held}"))
            if not 0 <= r.held_micros <= r.balance_micros:
                problems.append(Discrepancy(r.id, f"held {r.held_micros} outside [0, balance {r.balance_micros}]"))
        return len(rows), problems + budget_problems + await self._money_against_outcomes()

    async def _money_against_outcomes(self) -> list[Discrepancy]:
        """What each closed hold kept (captured minus refunded) against what its request's usage record
        and its job say: a failed request or job keeps nothing, a refunded one says so, a completed
        job keeps its charge, and no hold is refunded more than it captured."""
        e = ledger_entries.c
        kept = (
            select(
                e.hold_id,
                func.sum(case((e.kind == "capture", -e.amount_micros), else_=0)).label("captured"),
                func.sum(case((e.kind == "refund", e.amount_micros), else_=0)).label("refunded"),
            )
            .where(e.hold_id.is_not(None), e.kind.in_(("capture", "refund")))
            .group_by(e.hold_id)
            .subquery()
        )
        captured, refunded = func.coalesce(kept.c.captured, 0), func.coalesce(kept.c.refunded, 0)
        sums = (captured.label("captured"), refunded.label("refunded"))
        u, h, j = usage_records.c, holds.c, jobs.c
        requests = (
            select(h.account_id, h.request_id, u.status, u.error_code, u.cost_micros, *sums)
            .select_from(holds.join(usage_records, u.id == h.request_id).outerjoin(kept, kept.c.hold_id == h.id))
            .where(h.status != "open", captured - refunded != u.cost_micros)
        )
        ended_jobs = (
            select(j.account_id, j.id, j.status, *sums)
            .select_from(jobs.join(kept, kept.c.hold_id == j.hold_id))
            .where(
                or_(
                    and_(j.status.in_(("failed", "cancelled")), captured != refunded),
                    and_(j.status == "completed", refunded != 0),
                )
            )
        )
        overdone = (
            select(h.account_id, h.id, *sums)
            .select_from(holds.join(kept, kept.c.hold_id == h.id))
            .where(refunded > captured)
        )
        async with self._engine.connect() as conn:
            request_rows = (await conn.execute(requests)).all()
            job_rows = (await conn.execute(ended_jobs)).all()
            overdone_rows = (await conn.execute(overdone)).all()
        # (PostgreSQL sums bigints as numeric: ints for the messages)
        problems = [
            Discrepancy(
                r.account_id,
                f"request {r.request_id} kept {int(r.captured - r.refunded)} (captured {int(r.captured)}, "
                f"refunded {int(r.refunded)}) but its usage record says status {r.status}"
                f"{' ' + r.error_code if r.error_code else ''}, cost {r.cost_micros}",
            )
            for r in request_rows
        ]
        problems += [
            Discrepancy(
                r.account_id,
                f"job {r.id} is {r.status} but kept {int(r.captured - r.refunded)} "
                f"(captured {int(r.captured)}, refunded {int(r.refunded)})",
            )
            for r in job_rows
        ]
        problems += [
            Discrepancy(
                r.account_id, f"hold {r.id} refunded {int(r.refunded)}, more than it captured ({int(r.captured)})"
            )
            for r in overdone_rows
        ]
        return problems


__all__ = ["Discrepancy", "LedgerRepo", "entry"]
