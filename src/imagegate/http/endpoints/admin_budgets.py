"""The admin API's budgets and alerts (`/admin/v1/…`): a key's budget, an account's end-user budget,
low-balance alert and alert webhook URL. Each is a CLI command too (`keys budget`, `accounts limits
--user-budget-usd`, `accounts alerts`, `accounts webhook`), calling the same service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ...service.operator import fields as admin_fields
from ...service.operator.budgets import BudgetsAdmin, budget_in
from ..auth import require_admin
from .admin import _admin, _body, _storable_params

router = APIRouter(prefix="/admin/v1", dependencies=[Depends(require_admin), Depends(_storable_params)])


def _budgets(request: Request) -> BudgetsAdmin:
    return _admin(request).budgets


@router.put("/keys/{key_id}/budget")
async def set_key_budget(key_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.KEY_BUDGET)
    return await _admin(request).keys.set_budget(key_id, budget_in(body))


@router.delete("/keys/{key_id}/budget")
async def clear_key_budget(key_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).keys.set_budget(key_id, None)


@router.get("/accounts/{account_id}/budgets")
async def account_budgets(account_id: str, request: Request) -> dict[str, Any]:
    await _admin(request).accounts.get(account_id)  # 404 for no such account
    return await _budgets(request).account(account_id)


@router.put("/accounts/{account_id}/user-budget")
async def set_user_budget(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.USER_BUDGET)
    return await _budgets(request).set_user_budget(account_id, budget_in(body))


@router.delete("/accounts/{account_id}/user-budget")
async def clear_user_budget(account_id: str, request: Request) -> dict[str, Any]:
    return await _budgets(request).set_user_budget(account_id, None)


@router.put("/accounts/{account_id}/low-balance")
async def set_low_balance(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.LOW_BALANCE)
    return await _budgets(request).set_low_balance(account_id, body["threshold_usd"])


@router.delete("/accounts/{account_id}/low-balance")
async def clear_low_balance(account_id: str, request: Request) -> dict[str, Any]:
    return await _budgets(request).set_low_balance(account_id, None)


@router.put("/accounts/{account_id}/webhook")
async def set_account_webhook(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.ACCOUNT_WEBHOOK)
    return await _budgets(request).set_webhook(account_id, body["webhook_url"])


@router.delete("/accounts/{account_id}/webhook")
async def clear_account_webhook(account_id: str, request: Request) -> dict[str, Any]:
    return await _budgets(request).clear_webhook(account_id)
