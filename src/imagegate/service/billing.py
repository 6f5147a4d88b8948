"""The ledger's rules on top of the repositories: hold before the upstream, capture what was delivered."""

from __future__ import annotations

from ..db.accounts import AccountsRepo
from ..db.ledger import LedgerRepo
from ..db.usage import UsageRecord
from ..domain.errors import InsufficientBalance, UpstreamTimeout
from ..domain.principal import Principal


def usd(micros: int) -> str:
    """`167000` -> `$0.167`: exact, for messages (money stays integer everywhere else)."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), 1_000_000)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{digits}"


class Billing:
    def __init__(self, ledger: LedgerRepo, accounts: AccountsRepo, hold_ttl_seconds: int) -> None:
        self._ledger = ledger
        self._accounts = accounts
        self._ttl = hold_ttl_seconds

    async def hold(
        self, principal: Principal, request_id: str, amount: int, what: str, *, job_ttl_seconds: int | None = None
    ) -> str:
        """Reserve `amount` or refuse with 402; nothing is held on refusal. `job_ttl_seconds`: an async
        job's hold, owned by the job (no node run) and living that long."""
        if job_ttl_seconds is not None:
            hold_id = await self._ledger.take_hold(
                principal.account_id, request_id, amount, job_ttl_seconds, detached=True
            )
        else:
            hold_id = await self._ledger.take_hold(principal.account_id, request_id, amount, self._ttl)
        if hold_id is None:
            account = await self._accounts.get_account(principal.account_id)
            available = account.available_micros if account else 0
            raise InsufficientBalance(
                f"This request costs {usd(amount)} ({what}); the account has {usd(available)} of credit available. "
                "Add credit and try again."
            )
        return hold_id

    async def settle(self, hold_id: str, capture: int, reason: str, usage: UsageRecord | None = None) -> None:
        """Capture what was delivered and release the rest, with the usage record, in one transaction."""
        if not await self._ledger.settle(hold_id, capture, reason, usage):
            # The hold expired (the request outlived its deadline and margin) or its run was released:
            # the images are not handed out, since they can no longer be billed.
            raise UpstreamTimeout(
                "The request outlived its deadline; its images were not delivered. Nothing was charged."
            )

    async def release(self, hold_id: str, usage: UsageRecord | None = None) -> None:
        await self._ledger.release(hold_id, usage)


__all__ = ["Billing", "usd"]
