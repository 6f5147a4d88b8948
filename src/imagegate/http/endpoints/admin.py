"""The admin API under /admin/v1/, behind IMAGEGATE_ADMIN_TOKEN. Each action is a CLI command too:
both call the same AdminService method."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ...domain.fields import Field, read_fields
from ...domain.json_body import parse_json_object
from ...domain.money import amount_text
from ...domain.text import check_text
from ...service.operator import fields as admin_fields
from ...service.operator.admin import AdminService
from ...service.operator.budgets import budget_in
from ...service.timerange import time_range
from ..auth import require_admin
from ..gateway import gateway


async def _storable_params(request: Request) -> None:
    """Ids in the path and the query reach the database's WHERE clauses: refuse what it cannot store."""
    for name, value in (*request.path_params.items(), *request.query_params.items()):
        if isinstance(value, str):
            check_text(value, name)


# the admin token first, then the request's own values
router = APIRouter(prefix="/admin/v1", dependencies=[Depends(require_admin), Depends(_storable_params)])


def _admin(request: Request) -> AdminService:
    return gateway(request).admin


async def _body(request: Request, fields: tuple[Field, ...]) -> dict[str, Any]:
    """The JSON body, read against its declared fields (`service/operator/fields.py`); nulls dropped."""
    return read_fields(parse_json_object(await request.body(), empty_is_object=True), fields)


@router.post("/accounts")
async def create_account(request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.NEW_ACCOUNT)
    return await _admin(request).accounts.create(body["name"])


@router.get("/accounts")
async def list_accounts(request: Request) -> dict[str, Any]:
    return await _admin(request).accounts.all()


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).accounts.get(account_id)


@router.post("/accounts/{account_id}/disable")
async def disable_account(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).accounts.set_disabled(account_id, True)


@router.post("/accounts/{account_id}/enable")
async def enable_account(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).accounts.set_disabled(account_id, False)


@router.post("/accounts/{account_id}/credit")
async def top_up(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.CREDIT)
    return await _admin(request).ledger.add_credit(account_id, amount_text(body["amount_usd"]), body["reason"])


@router.post("/accounts/{account_id}/adjustments")
async def adjust(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.ADJUSTMENT)
    return await _admin(request).ledger.adjust_credit(account_id, amount_text(body["amount_usd"]), body["reason"])


@router.get("/accounts/{account_id}/ledger")
async def ledger_history(account_id: str, request: Request) -> dict[str, Any]:
    params = request.query_params
    return await _admin(request).ledger.history(account_id, params.get("limit"), params.get("after"))


@router.post("/accounts/{account_id}/keys")
async def create_key(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.new_key())
    return await _admin(request).keys.create(
        account_id,
        test=bool(body.get("test")),
        models=body.get("models"),
        rpm=body.get("rpm"),
        ipm=body.get("ipm"),
        budget=budget_in(body) if "budget_usd" in body else None,
    )


@router.get("/accounts/{account_id}/keys")
async def list_keys(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).keys.list_for(account_id)


@router.get("/keys/{key_id}")
async def get_key(key_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).keys.get(key_id)


@router.put("/keys/{key_id}/webhook")
async def set_webhook(key_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.WEBHOOK)
    return await _admin(request).webhooks.set_url(key_id, body["webhook_url"])


@router.delete("/keys/{key_id}/webhook")
async def clear_webhook(key_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).webhooks.clear_url(key_id)


@router.get("/webhooks/deliveries")
async def webhook_deliveries(request: Request) -> dict[str, Any]:
    params = request.query_params
    return await _admin(request).webhooks.deliveries(
        account_id=params.get("account_id"),
        status=params.get("status"),
        limit=params.get("limit"),
        after=params.get("after"),
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).keys.revoke(key_id)


@router.get("/prices")
async def list_prices(request: Request) -> dict[str, Any]:
    return await _admin(request).prices.all()


@router.put("/prices")
async def set_price(request: Request) -> dict[str, Any]:
    body = await _body(request, admin_fields.price())
    return await _admin(request).prices.set(
        body["model"], body.get("quality"), body["size"], amount_text(body["amount_usd"])
    )


@router.get("/usage")
async def usage(request: Request) -> dict[str, Any]:
    params = request.query_params
    start, end = time_range(params.get("start"), params.get("end"))
    return await _admin(request).reports.usage(start, end, request.query_params.get("account_id"))


@router.get("/ledger/verify")
async def verify_ledger(request: Request) -> dict[str, Any]:
    return await _admin(request).ledger.verify()


@router.get("/routes")
async def list_routes(request: Request) -> dict[str, Any]:
    return await gateway(request).route_health.report()
