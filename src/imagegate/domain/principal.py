"""Who is asking: the API key and its account, as the authenticator resolved them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .budgets import Budget
from .safety_policy import AccountSafety


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """An account's defaults for its keys (None: unlimited)."""

    rpm: int | None = None
    ipm: int | None = None
    max_in_flight: int | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    account_id: str
    mode: str  # "live" or "test"
    allowed_models: tuple[str, ...] | None
    rpm: int | None = None
    currency: str = "USD"
    prices_version: str | None = None
    """A stamp of the live price cards, read with the key in the same round trip: the price cache
    is fresh while the stamp is unchanged."""
    ipm: int | None = None
    account_limits: AccountLimits = field(default_factory=AccountLimits)
    safety: AccountSafety = field(default_factory=AccountSafety)
    budget: Budget | None = None
    """The key's spending budget per UTC day or month (None: only the account's credit bounds it)."""
    user_budget: Budget | None = None
    """What each end user of the account may spend per period (None: no end-user budget)."""
    low_balance_alert: bool = True
    """The account has a low-balance threshold (read with the key): a capture must check it. True
    where unknown, so that only a principal read with its account's settings skips the check."""

    @property
    def is_test(self) -> bool:
        return self.mode == "test"

    @property
    def effective_rpm(self) -> int | None:
        """The key's own limit, else its account's default."""
        return self.rpm if self.rpm is not None else self.account_limits.rpm

    @property
    def effective_ipm(self) -> int | None:
        return self.ipm if self.ipm is not None else self.account_limits.ipm


__all__ = ["AccountLimits", "Principal"]
