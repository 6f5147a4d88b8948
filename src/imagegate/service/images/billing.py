"""The ledger's rules on top of the repositories: hold before the upstream, capture what was delivered."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...db.accounts import AccountsRepo
from ...db.budgets import BudgetShort
from ...db.ledger import LedgerRepo
from ...db.unreachable import is_unreachable
from ...db.usage import UsageRecord
from ...domain.budgets import BudgetClaim, budget_exceeded
from ...domain.errors import InsufficientBalance, UpstreamTimeout
from ...domain.meter import NULL_METER, Meter
from ...domain.principal import Principal
from ..patience import while_unreachable
from ..webhooks.alerts import BudgetAlerts


def usd(micros: int) -> str:
    """`167000` -> `$0.167`: exact, for messages (money stays integer everywhere else)."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), 1_000_000)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{digits}"


log = logging.getLogger("imagegate.service")


@dataclass(frozen=True, slots=True)
class _Taken:
    """What this node knows of a hold it took, for its settlement to skip what cannot apply."""

    budgeted: bool
    """It claimed budgets: closing it moves their spend rows (and may use a key's budget up)."""
    alerts: bool
    """A capture may cross an alert: it claimed a budget, or its account has a low-balance threshold."""


_UNKNOWN = _Taken(budgeted=True, alerts=True)
"""A hold this node did not take (or forgot): everything is checked, as always."""


class Billing:
    SETTLE_PATIENCE_SECONDS = 30.0
    """How long a capture whose commit is in doubt keeps asking the database how it ended."""
    REMEMBERED_HOLDS = 65_536
    """The most open holds whose facts this node keeps (beyond: the oldest forgotten, then checked in full)."""

    def __init__(
        self,
        ledger: LedgerRepo,
        accounts: AccountsRepo,
        hold_ttl_seconds: int,
        meter: Meter = NULL_METER,
        alerts: BudgetAlerts | None = None,
    ) -> None:
        """`meter`: counts the credit held and captured, and each request whose hold ends with its usage
        record; `alerts`: told of each budget refusal and each capture (`webhooks/alerts.py`)."""
        self._ledger = ledger
        self._accounts = accounts
        self._ttl = hold_ttl_seconds
        self._meter = meter
        self._alerts = alerts
        self._taken: dict[str, _Taken] = {}

    async def hold(
        self,
        principal: Principal,
        request_id: str,
        amount: int,
        what: str,
        *,
        job_ttl_seconds: int | None = None,
        budgets: tuple[BudgetClaim, ...] = (),
    ) -> str:
        """Reserve `amount` or refuse with 402; nothing is held on refusal. `job_ttl_seconds`: an async
        job's hold, owned by the job (no node run) and living that long. `budgets`: the key's and the
        end user's budgets it counts against, checked with the hold (402 `key_budget_exceeded`,
        `user_budget_exceeded`)."""
        ttl = self._ttl if job_ttl_seconds is None else job_ttl_seconds
        try:
            hold_id = await self._ledger.take_hold(
                principal.account_id, request_id, amount, ttl, detached=job_ttl_seconds is not None, budgets=budgets
            )
        except BudgetShort as short:
            if self._alerts is not None:
                await self._alerts.budget_refused(short.claim)
            raise budget_exceeded(short.claim, short.spent, short.held, amount) from None
        if hold_id is None:
            account = await self._accounts.get_account(principal.account_id)
            available = account.available_micros if account else 0
            raise InsufficientBalance(
                f"This request costs {usd(amount)} ({what}); the account has {usd(available)} of credit available. "
                "Add credit and try again."
            )
        self._meter.held(amount)
        self._remember(hold_id, _Taken(bool(budgets), bool(budgets) or principal.low_balance_alert))
        return hold_id

    def _remember(self, hold_id: str, taken: _Taken) -> None:
        if len(self._taken) >= self.REMEMBERED_HOLDS:
            del self._taken[next(iter(self._taken))]
        self._taken[hold_id] = taken

    async def settle(self, hold_id: str, capture: int, reason: str, usage: UsageRecord | None = None) -> None:
        """Capture what was delivered and release the rest, with the usage record, in one transaction.
        The alerts are checked after a capture only where one may apply (a hold this node took knows)."""
        taken = self._taken.pop(hold_id, _UNKNOWN)
        try:
            settled = await self._ledger.settle(hold_id, capture, reason, usage, budgeted=taken.budgeted)
        except Exception as exc:
            if not (capture and is_unreachable(exc)):
                raise
            settled = await self._settled_in_doubt(hold_id, capture, reason, usage, taken.budgeted)
        if settled and capture and self._alerts is not None and taken.alerts:
            await self._alerts.captured(hold_id)
        if not settled:
            # The hold expired (the request outlived its deadline and margin) or its run was released:
            # the images are not handed out, since they can no longer be billed.
            raise UpstreamTimeout(
                "The request outlived its deadline; its images were not delivered. Nothing was charged."
            )
        self._meter.captured(capture)
        if usage is not None:
            self._meter.finished(usage)

    async def release(self, hold_id: str, usage: UsageRecord | None = None) -> None:
        """Give the hold back. A release whose commit is in doubt needs no answer: either it landed, or
        the hold is still open and the sweeper releases it when it expires; nothing is captured."""
        taken = self._taken.pop(hold_id, _UNKNOWN)
        await self._ledger.release(hold_id, usage, budgeted=taken.budgeted)
        if usage is not None:
            self._meter.finished(usage)

    async def hold_status(self, hold_id: str) -> str | None:
        return await self._ledger.hold_status(hold_id)

    async def refund(self, hold_id: str, reason: str, usage: UsageRecord | None = None) -> int | None:
        """Give back what a settled hold captured, once (an entry of kind `refund`); the amount, or None
        when the hold captured nothing. `usage` is written over the request's usage record."""
        return await self._ledger.refund(hold_id, reason, usage)

    async def _settled_in_doubt(
        self, hold_id: str, capture: int, reason: str, usage: UsageRecord | None, budgeted: bool
    ) -> bool:
        """The database went away while a capture was committing, so the commit may or may not have
        landed. Ask the hold (while the database is away, for a bounded time): still open -> settle it
        now; settled -> ours landed. Answering from a guess would tell the client 503 for money taken,
        or 200 for money never taken. Out of patience, the error stands (the client gets 503); the
        usage log then still shows the request as billed if the commit had landed."""

        async def resolve() -> bool:
            if await self._ledger.hold_status(hold_id) == "open" and await self._ledger.settle(
                hold_id, capture, reason, usage, budgeted=budgeted
            ):
                return True
            # closed meanwhile: by our first commit (the server may finish it after the cut) or by expiry
            status = await self._ledger.hold_status(hold_id)
            log.warning("hold %s: a capture in doubt ended %s", hold_id, status)
            return status == "settled"

        return await while_unreachable(resolve, self.SETTLE_PATIENCE_SECONDS)


__all__ = ["Billing", "usd"]
