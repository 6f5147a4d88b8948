"""Spending budgets: a key's, and each end user's within an account, per UTC day or month.

A budget is checked where the hold is taken: what the period has captured (`spent`) plus what is
held now plus the new hold must fit in it, so concurrent requests never overshoot it. Each
(budget, period) is one spend row (`db/budgets.py`); a budget's subject is its key id, or a digest
of the end user's id (hostile text is never stored). Pure: periods, claims, refusal messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .errors import InsufficientBalance, InvalidRequest
from .money import format_usd
from .text import check_text

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")
Scope = Literal["key", "user"]
MAX_END_USER_CHARS = 256
"""An end user's id, from the `user` / `safety_identifier` field or the operator's header."""

KEY_BUDGET_EXCEEDED = "key_budget_exceeded"
USER_BUDGET_EXCEEDED = "user_budget_exceeded"


@dataclass(frozen=True, slots=True)
class Budget:
    """At most `micros` per `period` (UTC calendar day or month)."""

    micros: int
    period: Period


def period_start(period: Period, now: datetime) -> datetime:
    """The UTC day's or month's first instant that `now` falls in."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def period_end(period: Period, start: datetime) -> datetime:
    """When the period that began at `start` resets: the next day's or month's first instant."""
    if period == "day":
        return datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def end_user_subject(end_user: str) -> str:
    """What a user budget's spend rows name: a digest of the end user's id, never the id itself."""
    return "u_" + hashlib.sha256(end_user.encode("utf-8")).hexdigest()[:40]


def check_end_user(value: str, param: str) -> str:
    """An end user's id as sent (a header's value, say): bounded, storable and not blank, or a 400."""
    check_text(value, param, MAX_END_USER_CHARS)
    if not value.strip() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidRequest(f"'{param}' must be a non-blank id without control characters.", param=param)
    return value


@dataclass(frozen=True, slots=True)
class BudgetClaim:
    """A hold's share of one budget in one period: `scope`'s `subject` (a key id, an end user's
    digest) within `account_id` may spend `budget.micros` from `start` until `resets_at`."""

    scope: Scope
    account_id: str
    subject: str
    budget: Budget
    start: datetime

    @property
    def resets_at(self) -> datetime:
        return period_end(self.budget.period, self.start)

    @property
    def spend_id(self) -> str:
        """The spend row's id: one per (scope, account, subject, period start)."""
        raw = f"{self.scope}\x00{self.account_id}\x00{self.subject}\x00{self.start.isoformat()}"
        return "bud_" + hashlib.sha256(raw.encode()).hexdigest()[:36]


def claims_for(
    account_id: str,
    key_id: str,
    key_budget: Budget | None,
    end_user: str | None,
    user_budget: Budget | None,
    now: datetime,
) -> tuple[BudgetClaim, ...]:
    """The budgets a hold taken now counts against: the key's, then the end user's (in this order:
    every hold locks its spend rows in the same order)."""
    found: list[BudgetClaim] = []
    if key_budget is not None:
        found.append(BudgetClaim("key", account_id, key_id, key_budget, period_start(key_budget.period, now)))
    if user_budget is not None and end_user:
        subject = end_user_subject(end_user)
        found.append(BudgetClaim("user", account_id, subject, user_budget, period_start(user_budget.period, now)))
    return tuple(found)


def iso_utc(when: datetime) -> str:
    """`2026-12-07T00:00:00Z`."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def budget_exceeded(claim: BudgetClaim, spent: int, held: int, amount: int) -> InsufficientBalance:
    """The 402 of a request its budget cannot pay for: the budget, what is spent, when it resets."""
    budget = claim.budget
    whose = "This API key's" if claim.scope == "key" else "This end user's"
    code = KEY_BUDGET_EXCEEDED if claim.scope == "key" else USER_BUDGET_EXCEEDED
    in_flight = f" and ${format_usd(held)} is held by requests in flight" if held else ""
    return InsufficientBalance(
        f"{whose} budget of ${format_usd(budget.micros)} per {budget.period} is used up: "
        f"${format_usd(spent)} is spent this {budget.period}{in_flight}, and this request costs "
        f"${format_usd(amount)}. The budget resets at {iso_utc(claim.resets_at)}.",
        code=code,
    )


__all__ = [
    "KEY_BUDGET_EXCEEDED",
    "MAX_END_USER_CHARS",
    "PERIODS",
    "USER_BUDGET_EXCEEDED",
    "Budget",
    "BudgetClaim",
    "Period",
    "Scope",
    "budget_exceeded",
    "check_end_user",
    "claims_for",
    "end_user_subject",
    "iso_utc",
    "period_end",
    "period_start",
]
