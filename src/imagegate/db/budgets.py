"""Budget spend rows: what each (budget, period) has spent and holds, moved in the ledger's own
transactions.

A hold that counts against budgets claims each one with a conditional UPDATE of its spend row
(`spent + held + amount <= budget`), in the same transaction as the account's conditional UPDATE
and the hold itself, so the check and the hold are atomic on every node: rows are locked in one
order (the account, the key's budget, the end user's), and a budget that cannot pay rolls the
whole hold back. `budget_holds` links the hold to its rows; closing the hold (capture, release,
expiry) moves its amount out of `held` and what it captured into `spent`, and a refund takes its
amount back out of `spent`, each in the transaction that moves the money. So for every spend row

    held_micros  == Σ amount of its open holds
    spent_micros == Σ (captured − refunded) of its holds

which `spend_discrepancies` checks for `imagegate ledger verify`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    bindparam,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..domain.budgets import BudgetClaim
from .tables import budget_holds, budget_spend, holds, ledger_entries


class BudgetShort(Exception):
    """A budget could not pay for a hold: raised inside the hold's transaction, which rolls back."""

    def __init__(self, claim: BudgetClaim, spent: int, held: int) -> None:
        super().__init__(claim.spend_id)
        self.claim, self.spent, self.held = claim, spent, held


_INSERTS = {
    "postgresql": postgresql.insert(budget_spend).on_conflict_do_nothing(index_elements=["id"]),
    "sqlite": sqlite.insert(budget_spend).on_conflict_do_nothing(index_elements=["id"]),
}
_s = budget_spend.c
_CLAIM = (
    update(budget_spend)
    .where(
        _s.id == bindparam("spend_id"), _s.spent_micros + _s.held_micros + bindparam("amount") <= bindparam("budget")
    )
    .values(held_micros=_s.held_micros + bindparam("amount"), budget_micros=bindparam("budget"))
)
_LINKED = select(budget_holds.c.spend_id).where(budget_holds.c.hold_id == bindparam("hold_id")).scalar_subquery()
_CLOSE = (
    update(budget_spend)
    .where(_s.id.in_(_LINKED))
    .values(held_micros=_s.held_micros - bindparam("held"), spent_micros=_s.spent_micros + bindparam("capture"))
)
_REFUND = update(budget_spend).where(_s.id.in_(_LINKED)).values(spent_micros=_s.spent_micros - bindparam("refund"))


def claim_budgets(hold_id: str, amount: int, claims: Sequence[BudgetClaim], conn: Connection) -> None:
    """Count `amount` against each claim's budget for the hold `hold_id`, or raise `BudgetShort`
    (the caller's transaction then rolls back, the account's hold with it)."""
    for claim in claims:
        conn.execute(
            _INSERTS[conn.dialect.name],
            {
                "id": claim.spend_id,
                "account_id": claim.account_id,
                "scope": claim.scope,
                "subject": claim.subject,
                "period": claim.budget.period,
                "period_start": claim.start,
                "budget_micros": claim.budget.micros,
                "spent_micros": 0,
                "held_micros": 0,
            },
        )
        params = {"spend_id": claim.spend_id, "amount": amount, "budget": claim.budget.micros}
        if conn.execute(_CLAIM, params).rowcount != 1:
            row = conn.execute(select(_s.spent_micros, _s.held_micros).where(_s.id == claim.spend_id)).one()
            raise BudgetShort(claim, int(row.spent_micros), int(row.held_micros))
    if claims:
        conn.execute(insert(budget_holds), [{"hold_id": hold_id, "spend_id": c.spend_id} for c in claims])


def close_budgets(hold_id: str, held: int, capture: int, conn: Connection) -> None:
    """The hold closed: its amount leaves `held`, what it captured joins `spent`."""
    conn.execute(_CLOSE, {"hold_id": hold_id, "held": held, "capture": capture})


def refund_budgets(hold_id: str, refund: int, conn: Connection) -> None:
    """What the hold captured was refunded: the budget has it back."""
    conn.execute(_REFUND, {"hold_id": hold_id, "refund": refund})


# The PostgreSQL settlement statement's part (ledger.py): after the hold `h` and the account `a`
# (joined on `a`, so the account's row is locked before any spend row, as when holding).
PG_SETTLE_BUDGETS_CTE = """
, b AS (
    UPDATE budget_spend
    SET held_micros = budget_spend.held_micros - h.amount_micros,
        spent_micros = budget_spend.spent_micros + CAST(:capture AS BIGINT)
    FROM h JOIN a ON a.id = h.account_id JOIN budget_holds bh ON bh.hold_id = CAST(:hold_id AS VARCHAR(40))
    WHERE budget_spend.id = bh.spend_id
    RETURNING budget_spend.id
)"""


def spend_discrepancies(conn: Connection) -> list[tuple[str, str]]:
    """(account id, problem) for every spend row whose held or spent disagrees with its holds and the
    ledger's entries. A database not migrated this far (verified before its upgrade) has none."""
    if not inspect(conn).has_table(budget_spend.name):
        return []
    bh, h, e = budget_holds.c, holds.c, ledger_entries.c
    open_held = (
        select(bh.spend_id, func.sum(h.amount_micros).label("held"))
        .select_from(budget_holds.join(holds, h.id == bh.hold_id))
        .where(h.status == "open")
        .group_by(bh.spend_id)
        .subquery()
    )
    kept = (
        select(bh.spend_id, (-func.sum(e.amount_micros)).label("kept"))
        .select_from(budget_holds.join(ledger_entries, e.hold_id == bh.hold_id))
        .where(e.kind.in_(("capture", "refund")))
        .group_by(bh.spend_id)
        .subquery()
    )
    query = (
        select(
            _s.id,
            _s.account_id,
            _s.held_micros,
            _s.spent_micros,
            func.coalesce(open_held.c.held, 0).label("open_held"),
            func.coalesce(kept.c.kept, 0).label("kept"),
        )
        .select_from(budget_spend)
        .outerjoin(open_held, open_held.c.spend_id == _s.id)
        .outerjoin(kept, kept.c.spend_id == _s.id)
    )
    problems: list[tuple[str, str]] = []
    for r in conn.execute(query):
        if r.held_micros != int(r.open_held):
            problems.append(
                (r.account_id, f"budget {r.id} holds {r.held_micros} but its open holds {int(r.open_held)}")
            )
        if r.spent_micros != int(r.kept):
            problems.append((r.account_id, f"budget {r.id} spent {r.spent_micros} but its holds kept {int(r.kept)}"))
    return problems


__all__ = [
    "PG_SETTLE_BUDGETS_CTE",
    "BudgetShort",
    "claim_budgets",
    "close_budgets",
    "refund_budgets",
    "spend_discrepancies",
]
