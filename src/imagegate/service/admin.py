"""Operator actions: accounts, credit, keys, prices. The CLI (and the admin API) call these."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ..db.accounts import AccountsRepo, KeyRow, account_safety
from ..db.ledger import LedgerRepo
from ..db.ledger_history import LedgerEntry, LedgerHistoryRepo
from ..db.prices import PricesRepo
from ..db.safety import AccountPolicyRepo, SafetyEvent, SafetyEventsRepo
from ..db.usage import UsageRepo
from ..db.usage_stats import UsageStatsRepo
from ..domain.activity import daily_totals
from ..domain.budgets import Budget
from ..domain.catalog import STANDARD_QUALITY, Catalog
from ..domain.errors import BalanceOutOfRange, InvalidRequest, NotFound
from ..domain.fields import check_value
from ..domain.money import MAX_PRICE_MICROS, check_balance, usd_to_micros
from ..domain.paging import page_cursor, page_size
from ..domain.pricing import live_card
from ..domain.principal import AccountLimits
from ..domain.safety_policy import AccountSafety, PolicyError, SafetyPolicy
from ..domain.safety_text import TermSet
from ..domain.text import check_id, check_text
from .admin_fields import ACCOUNT_NAME, MAX_LIMIT, REASON
from .budget_admin import BudgetAdmin, budget_json
from .keys import display_prefix, hash_key, new_key
from .webhook_endpoints import WebhookEndpoints
from .webhooks import Webhooks

MAX_HISTORY_PAGE = 500
_LEDGER_ID = re.compile(r"^led_[0-9a-z]{26}$")


def to_micros(amount: str, param: str = "amount_usd") -> int:
    """`"12.5"` USD -> 12500000 micros, exactly and within the documented bounds (domain/money.py)."""
    return usd_to_micros(amount, param)


class AdminService:
    def __init__(
        self,
        accounts: AccountsRepo,
        ledger: LedgerRepo,
        prices: PricesRepo,
        usage: UsageRepo,
        catalog: Catalog,
        *,
        events: SafetyEventsRepo | None = None,
        policies: AccountPolicyRepo | None = None,
        safety_policy: SafetyPolicy | None = None,
        stats: UsageStatsRepo | None = None,
        webhooks: WebhookEndpoints | None = None,
        webhook_log: Webhooks | None = None,
        history: LedgerHistoryRepo | None = None,
        budgets: BudgetAdmin | None = None,
    ) -> None:
        self._accounts = accounts
        self._ledger = ledger
        self._prices = prices
        self._usage = usage
        self._catalog = catalog
        self._events = events
        self._policies = policies
        self._safety_policy = safety_policy
        self._stats = stats
        self._webhooks = webhooks
        self._webhook_log = webhook_log
        self._history = history
        self.budgets = budgets
        """Budgets and alerts (`service/budget_admin.py`)."""

    async def create_account(self, name: str, *, allow_duplicate: bool = True) -> dict[str, Any]:
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
        return _account_json(await self._accounts.create_account(name))

    async def has_accounts(self) -> bool:
        return await self._accounts.count_accounts() > 0

    async def get_account(self, account_id: str) -> dict[str, Any]:
        check_id(account_id, "account_id")
        account = await self._accounts.get_account(account_id)
        if account is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return _account_json(account)

    async def set_account_disabled(self, account_id: str, disabled: bool) -> dict[str, Any]:
        check_id(account_id, "account_id")
        if not await self._accounts.set_disabled(account_id, disabled):
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return await self.get_account(account_id)

    async def list_accounts(self) -> dict[str, Any]:
        return {"object": "list", "data": [_account_json(a) for a in await self._accounts.list_accounts()]}

    async def add_credit(self, account_id: str, amount_usd: str, reason: str) -> dict[str, Any]:
        """A top-up: a positive amount, with a reason, as one ledger entry."""
        micros = to_micros(amount_usd)
        if micros <= 0:
            raise InvalidRequest(
                "A top-up must be a positive amount; use an adjustment to take credit away.", param="amount_usd"
            )
        return await self._change_balance(account_id, micros, "topup", reason)

    async def adjust_credit(self, account_id: str, amount_usd: str, reason: str) -> dict[str, Any]:
        """A correction in either direction; it may not take the balance below what is held."""
        micros = to_micros(amount_usd)
        if micros == 0:
            raise InvalidRequest("An adjustment of zero changes nothing.", param="amount_usd")
        return await self._change_balance(account_id, micros, "adjustment", reason)

    async def _change_balance(self, account_id: str, micros: int, kind: str, reason: str) -> dict[str, Any]:
        check_id(account_id, "account_id")
        check_value(REASON, reason)
        row = await self._accounts.get_account(account_id)
        if row is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        check_balance(row.balance_micros + micros)
        if not await self._ledger.adjust(account_id, micros, kind, reason):
            after = await self._accounts.get_account(account_id)  # which bound refused it, for the message
            if after is not None:
                check_balance(after.balance_micros + micros)
            raise BalanceOutOfRange("The adjustment would take the balance below what is held.", param="amount_usd")
        if micros > 0 and self.budgets is not None:
            await self.budgets.rearm(account_id)  # back above the low-balance threshold: alert again next time
        account = await self.get_account(account_id)
        return {"account_id": account_id, **account, "amount_micros": micros, "kind": kind, "reason": reason}

    async def ledger_history(
        self, account_id: str, limit: str | None = None, after: str | None = None
    ) -> dict[str, Any]:
        """The account's ledger entries, newest first (`after`: the last entry id of the previous page)."""
        check_id(account_id, "account_id")
        size = page_size(limit, maximum=MAX_HISTORY_PAGE)
        before = page_cursor(after, _LEDGER_ID, "a ledger entry id (led_…)")
        if await self._accounts.get_account(account_id) is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        assert self._history is not None
        entries = await self._history.entries(account_id, before=before, limit=size + 1)
        page = entries[:size]
        return {
            "object": "list",
            "account_id": account_id,
            "data": [_entry_json(e) for e in page],
            "has_more": len(entries) > size,
            "last_id": page[-1].id if page else None,
        }

    def safety_categories(self) -> list[str]:
        """The policy's categories that do not block already: what an account may be made to block."""
        if self._safety_policy is None:
            return []
        return [c.name for c in self._safety_policy.categories if c.action != "block"]

    async def create_key(
        self,
        account_id: str,
        *,
        test: bool,
        models: list[str] | None,
        rpm: int | None,
        ipm: int | None = None,
        budget: Budget | None = None,
    ) -> dict[str, Any]:
        check_id(account_id, "account_id")
        _check_limit(rpm, "rpm")
        _check_limit(ipm, "ipm")
        if await self._accounts.get_account(account_id) is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        allowed = None
        if models is not None:
            for model in models:
                check_text(model, "models")
            unknown = [m for m in models if self._catalog.find(m) is None]
            if unknown:
                raise InvalidRequest(f"Unknown model(s): {', '.join(unknown)}.", code="model_not_found", param="models")
            allowed = tuple(dict.fromkeys(self._catalog.find(m).id for m in models))  # type: ignore[union-attr]
        mode = "test" if test else "live"
        key = new_key(mode)
        if rpm is not None and rpm < 1:
            raise InvalidRequest("rpm must be at least 1.", param="rpm")
        row = await self._accounts.create_key(
            account_id, hash_key(key), display_prefix(key), mode, allowed, rpm, ipm, budget
        )
        return {**_key_json(row), "key": key}

    async def list_keys(self, account_id: str) -> dict[str, Any]:
        check_id(account_id, "account_id")
        if await self._accounts.get_account(account_id) is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return {"object": "list", "data": [await self._key_json(k) for k in await self._accounts.list_keys(account_id)]}

    async def revoke_key(self, key_id: str) -> dict[str, Any]:
        check_id(key_id, "key_id")
        if not await self._accounts.revoke_key(key_id) and await self._accounts.get_key(key_id) is None:
            raise NotFound(f"No key '{key_id}'.", param="key_id")
        key = await self._accounts.get_key(key_id)
        assert key is not None and key.revoked_at is not None
        return {"id": key.id, "revoked_at": key.revoked_at.isoformat()}

    async def get_key(self, key_id: str) -> dict[str, Any]:
        """One key as `list_keys` shows it (with its webhook URL; never the key nor the webhook secret)."""
        check_id(key_id, "key_id")
        key = await self._accounts.get_key(key_id)
        if key is None:
            raise NotFound(f"No key '{key_id}'.", param="key_id")
        return await self._key_json(key)

    async def set_key_budget(self, key_id: str, budget: Budget | None) -> dict[str, Any]:
        """The key's budget from its next request on (None: no budget); what it spent this period stays."""
        assert self.budgets is not None
        await self.budgets.set_key_budget(key_id, budget)
        return await self.get_key(key_id)

    async def _key_json(self, row: KeyRow) -> dict[str, Any]:
        """The key with its budget's current period (spent, held, reset)."""
        shown = _key_json(row)
        if self.budgets is not None:
            shown["budget"] = await self.budgets.key_budget(row.account_id, row.id, row.budget)
        return shown

    async def set_webhook(self, key_id: str, url: object) -> dict[str, Any]:
        """Send the key's finished async jobs to `url`; the answer shows the signing secret, this once."""
        check_id(key_id, "key_id")
        assert self._webhooks is not None
        return await self._webhooks.set_url(key_id, url)

    async def clear_webhook(self, key_id: str) -> dict[str, Any]:
        check_id(key_id, "key_id")
        assert self._webhooks is not None
        return await self._webhooks.clear_url(key_id)

    async def webhook_deliveries(
        self,
        *,
        account_id: str | None = None,
        status: str | None = None,
        limit: str | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """Webhook messages of every account (or one), newest first, each with its attempts."""
        assert self._webhook_log is not None
        return await self._webhook_log.operator_deliveries(account_id, status, limit, after)

    async def set_account_limits(
        self, account_id: str, *, rpm: int | None, ipm: int | None, max_in_flight: int | None
    ) -> dict[str, Any]:
        """The defaults of the account's keys (a key's own --rpm / --ipm wins); None: unlimited."""
        check_id(account_id, "account_id")
        for value, name in ((rpm, "rpm"), (ipm, "ipm"), (max_in_flight, "max_in_flight")):
            _check_limit(value, name)
        assert self._policies is not None
        if not await self._policies.set_limits(account_id, AccountLimits(rpm, ipm, max_in_flight)):
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return await self.get_account(account_id)

    async def set_account_safety(
        self, account_id: str, *, block_terms: list[str], block_categories: list[str]
    ) -> dict[str, Any]:
        """Make the deployment's screening stricter for one account: extra terms that block, and
        flagging categories that block. Replaces the account's previous additions."""
        check_id(account_id, "account_id")
        assert self._policies is not None and self._safety_policy is not None
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
        return await self.get_account(account_id)

    async def list_blocks(
        self, *, account_id: str | None = None, include_flags: bool = False, limit: int = 100
    ) -> dict[str, Any]:
        """The safety audit log, newest first: blocks (and flags, if asked), at both stages."""
        if account_id is not None:
            check_id(account_id, "account_id")
        if not 1 <= limit <= 10_000:
            raise InvalidRequest("limit must be between 1 and 10000.", param="limit")
        assert self._events is not None
        events = await self._events.list(account_id=account_id, include_flags=include_flags, limit=limit)
        return {"object": "list", "data": [_event_json(e) for e in events]}

    async def set_price(self, model_name: str, quality: str | None, size: str, amount_usd: str) -> dict[str, Any]:
        model = self._catalog.find(model_name)
        if model is None:
            raise InvalidRequest(f"Unknown model '{model_name}'.", code="model_not_found", param="model")
        if model.free:
            raise InvalidRequest(f"'{model.id}' is free and has no price card.", param="model")
        keys = list(model.prices)
        quality_key = STANDARD_QUALITY if quality is None else quality  # "" is not "standard"
        if quality_key not in keys:
            raise InvalidRequest(f"'{model.id}' is priced by quality {', '.join(keys)}.", param="quality")
        if size not in model.capabilities.sizes:
            raise InvalidRequest(f"'{model.id}' has no size '{size}'.", param="size")
        micros = usd_to_micros(amount_usd, maximum=MAX_PRICE_MICROS)
        if micros < 0:
            raise InvalidRequest("A price cannot be negative.", param="amount_usd")
        await self._prices.set(model.id, quality_key, size, micros)
        return {"model": model.id, "quality": quality_key, "size": size, "micros": micros}

    async def usage(self, start: datetime, end: datetime, account_id: str | None = None) -> dict[str, Any]:
        """Usage across every account (or one), with totals."""
        if account_id is not None:
            check_id(account_id, "account_id")
        records, totals = await self._usage.query(start, end, account_id=account_id)
        return {"object": "list", "data": [r.as_json() for r in records], "totals": totals}

    async def daily_activity(self, days: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """Spend, images and requests per day over the last `days` days, across every account."""
        assert self._stats is not None
        now = now or datetime.now(UTC)
        since = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), UTC)
        return [d.as_json() for d in daily_totals(await self._stats.activity(since), now.date(), days)]

    async def verify_ledger(self) -> dict[str, Any]:
        checked, problems = await self._ledger.verify()
        return {
            "ok": not problems,
            "accounts_checked": checked,
            "problems": [{"account_id": p.account_id, "problem": p.problem} for p in problems],
        }

    async def sweep_holds(self) -> dict[str, Any]:
        released = await self._ledger.sweep_expired()
        return {"released": len(released), "hold_ids": released}

    async def list_prices(self) -> dict[str, Any]:
        """Every model's live card: the rate the next request pays, per quality and size."""
        overrides = await self._prices.overrides()
        return {
            "currency": "USD",
            "models": {model.id: live_card(model, overrides) for model in self._catalog if not model.free},
        }


def _key_json(row: KeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "prefix": row.prefix,
        "mode": row.mode,
        "account_id": row.account_id,
        "allowed_models": list(row.allowed_models) if row.allowed_models is not None else None,
        "rpm": row.rpm,
        "ipm": row.ipm,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "webhook_url": row.webhook_url,
        "budget": budget_json(row.budget),
    }


def _account_json(account) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data = asdict(account)
    data["created_at"] = account.created_at.isoformat()
    data["available_micros"] = account.available_micros
    safety = account_safety(account.safety)
    data["safety"] = {"block_terms": list(safety.block_terms), "block_categories": list(safety.block_categories)}
    return data


def _entry_json(entry: LedgerEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["created_at"] = entry.created_at.isoformat()
    return data


def _event_json(event: SafetyEvent) -> dict[str, Any]:
    data = asdict(event)
    data["created_at"] = event.created_at.isoformat()
    return data


def _check_limit(value: int | None, name: str) -> None:
    if value is not None and value < 1:
        raise InvalidRequest(f"{name} must be a positive number (omit it for no limit).", param=name)
    if value is not None and value > MAX_LIMIT:
        raise InvalidRequest(f"{name} must be at most {MAX_LIMIT:,} (omit it for no limit).", param=name)


async def bootstrap_first_run(admin: AdminService) -> dict[str, Any] | None:
    """On an empty database: a `default` account and a free test-mode key, so the first curl works."""
    if await admin.has_accounts():
        return None
    account = await admin.create_account("default")
    return await admin.create_key(account["id"], test=True, models=None, rpm=None)


__all__ = ["MAX_LIMIT", "AdminService", "bootstrap_first_run", "to_micros"]
