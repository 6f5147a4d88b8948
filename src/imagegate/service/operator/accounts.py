"""The operator's accounts: created, read, disabled or enabled, their keys' default limits and their
stricter screening."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ...db.accounts import AccountRow, AccountsRepo, account_safety
from ...db.safety import AccountPolicyRepo
from ...domain.errors import InvalidRequest, NotFound
from ...domain.fields import check_value
from ...domain.principal import AccountLimits
from ...domain.safety_policy import AccountSafety, PolicyError, SafetyPolicy
from ...domain.safety_text import TermSet
from ...domain.text import check_id, check_text
from .fields import ACCOUNT_NAME, MAX_LIMIT


class AccountsAdmin:
    def __init__(
        self,
        accounts: AccountsRepo,
        policies: AccountPolicyRepo,
        safety_policy: SafetyPolicy | None,
    ) -> None:
        self._accounts = accounts
        self._policies = policies
        self._safety_policy = safety_policy

    async def create(self, name: str, *, allow_duplicate: bool = True) -> dict[str, Any]:
        """`allow_duplicate=False` (the CLI's default) refuses a name another account already has."""
        check_value(ACCOUNT_NAME, name)
        if not allow_duplicate:
            taken = next((a for a in await self._accounts.list_accounts() if a.name == name), None)
            if taken is not None:
                raise InvalidRequest(
                    f"An account named '{name}' already exists ({taken.id}); "
                    "pass --allow-duplicate to create another one with the same name.",
                    param="name",
                )
        return account_json(await self._accounts.create_account(name))

    async def exist(self) -> bool:
        return await self._accounts.count_accounts() > 0

    async def get(self, account_id: str) -> dict[str, Any]:
        check_id(account_id, "account_id")
        account = await self._accounts.get_account(account_id)
        if account is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return account_json(account)

    async def set_disabled(self, account_id: str, disabled: bool) -> dict[str, Any]:
        check_id(account_id, "account_id")
        if not await self._accounts.set_disabled(account_id, disabled):
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return await self.get(account_id)

    async def all(self) -> dict[str, Any]:
        return {"object": "list", "data": [account_json(a) for a in await self._accounts.list_accounts()]}

    def safety_categories(self) -> list[str]:
        """The policy's categories that do not block already: what an account may be made to block."""
        if self._safety_policy is None:
            return []
        return [c.name for c in self._safety_policy.categories if c.action != "block"]

    async def set_limits(
        self, account_id: str, *, rpm: int | None, ipm: int | None, max_in_flight: int | None
    ) -> dict[str, Any]:
        """The defaults of the account's keys (a key's own --rpm / --ipm wins); None: unlimited."""
        check_id(account_id, "account_id")
        for value, name in ((rpm, "rpm"), (ipm, "ipm"), (max_in_flight, "max_in_flight")):
            check_limit(value, name)
        if not await self._policies.set_limits(account_id, AccountLimits(rpm, ipm, max_in_flight)):
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return await self.get(account_id)

    async def set_safety(
        self, account_id: str, *, block_terms: list[str], block_categories: list[str]
    ) -> dict[str, Any]:
        """Make the deployment's screening stricter for one account: extra terms that block, and
        flagging categories that block. Replaces the account's previous additions."""
        check_id(account_id, "account_id")
        assert self._safety_policy is not None
        terms = [check_text(t, "block_terms").strip() for t in block_terms if t.strip()]
        try:
            TermSet.compile(terms, (), "block_terms")
        except PolicyError as exc:
            raise InvalidRequest(str(exc), param="block_terms") from exc
        unknown = self._safety_policy.unknown_categories(block_categories)
        if unknown:
            raise InvalidRequest(f"Unknown safety categories: {', '.join(unknown)}.", param="block_categories")
        safety = AccountSafety(tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(block_categories)))
        if not await self._policies.set_safety(account_id, safety):
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return await self.get(account_id)


def account_json(account: AccountRow) -> dict[str, Any]:
    data = asdict(account)
    data["created_at"] = account.created_at.isoformat()
    data["available_micros"] = account.available_micros
    safety = account_safety(account.safety)
    data["safety"] = {"block_terms": list(safety.block_terms), "block_categories": list(safety.block_categories)}
    return data


def check_limit(value: int | None, name: str) -> None:
    if value is not None and value < 1:
        raise InvalidRequest(f"{name} must be a positive number (omit it for no limit).", param=name)
    if value is not None and value > MAX_LIMIT:
        raise InvalidRequest(f"{name} must be at most {MAX_LIMIT:,} (omit it for no limit).", param=name)


__all__ = ["AccountsAdmin", "account_json", "check_limit"]
