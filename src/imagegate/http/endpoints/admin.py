"""The admin API under /admin/v1/, behind IMAGEGATE_ADMIN_TOKEN. Each action is a CLI command too:
both call the same AdminService method."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ...domain.errors import InvalidRequest
from ...domain.json_body import parse_json_object
from ...domain.text import check_text
from ...service.admin import AdminService
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


async def _body(request: Request) -> dict[str, Any]:
    return parse_json_object(await request.body(), empty_is_object=True)


def _field(body: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(
                f"Missing required parameter: '{name}'.", code="missing_required_parameter", param=name
            )
        return None
    if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
        raise InvalidRequest(f"'{name}' must be a {kind.__name__}.", code="invalid_type", param=name)
    return check_text(value, name) if isinstance(value, str) else value


def _amount(body: dict[str, Any]) -> str:
    """`amount_usd` as a decimal string; a JSON number is taken by its shortest text ("0.1", not 0.1000…)."""
    value = body.get("amount_usd")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    amount: str = _field(body, "amount_usd", str)
    return amount


@router.post("/accounts")
async def create_account(request: Request) -> dict[str, Any]:
    body = await _body(request)
    return await _admin(request).create_account(_field(body, "name", str))


@router.get("/accounts")
async def list_accounts(request: Request) -> dict[str, Any]:
    return await _admin(request).list_accounts()


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).get_account(account_id)


@router.post("/accounts/{account_id}/disable")
async def disable_account(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).set_account_disabled(account_id, True)


@router.post("/accounts/{account_id}/enable")
async def enable_account(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).set_account_disabled(account_id, False)


@router.post("/accounts/{account_id}/credit")
async def top_up(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request)
    return await _admin(request).add_credit(account_id, _amount(body), _field(body, "reason", str))


@router.post("/accounts/{account_id}/adjustments")
async def adjust(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request)
    return await _admin(request).adjust_credit(account_id, _amount(body), _field(body, "reason", str))


@router.get("/accounts/{account_id}/ledger")
async def ledger_history(account_id: str, request: Request) -> dict[str, Any]:
    params = request.query_params
    return await _admin(request).ledger_history(account_id, params.get("limit"), params.get("after"))


@router.post("/accounts/{account_id}/keys")
async def create_key(account_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request)
    models = _field(body, "models", list, required=False)
    if models is not None and not all(isinstance(m, str) for m in models):
        raise InvalidRequest("'models' must be a list of model ids.", code="invalid_type", param="models")
    return await _admin(request).create_key(
        account_id,
        test=bool(_field(body, "test", bool, required=False)),
        models=models,
        rpm=_field(body, "rpm", int, required=False),
        ipm=_field(body, "ipm", int, required=False),
    )


@router.get("/accounts/{account_id}/keys")
async def list_keys(account_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).list_keys(account_id)


@router.get("/keys/{key_id}")
async def get_key(key_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).get_key(key_id)


@router.put("/keys/{key_id}/webhook")
async def set_webhook(key_id: str, request: Request) -> dict[str, Any]:
    body = await _body(request)
    if body.get("webhook_url") is None:
        raise InvalidRequest(
            "Missing required parameter: 'webhook_url'.", code="missing_required_parameter", param="webhook_url"
        )
    return await _admin(request).set_webhook(key_id, body["webhook_url"])


@router.delete("/keys/{key_id}/webhook")
async def clear_webhook(key_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).clear_webhook(key_id)


@router.get("/webhooks/deliveries")
async def webhook_deliveries(request: Request) -> dict[str, Any]:
    params = request.query_params
    return await _admin(request).webhook_deliveries(
        account_id=params.get("account_id"),
        status=params.get("status"),
        limit=params.get("limit"),
        after=params.get("after"),
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    return await _admin(request).revoke_key(key_id)


@router.get("/prices")
async def list_prices(request: Request) -> dict[str, Any]:
    return await _admin(request).list_prices()


@router.put("/prices")
async def set_price(request: Request) -> dict[str, Any]:
    body = await _body(request)
    return await _admin(request).set_price(
        _field(body, "model", str),
        _field(body, "quality", str, required=False),
        _field(body, "size", str),
        _amount(body),
    )


@router.get("/usage")
async def usage(request: Request) -> dict[str, Any]:
    params = request.query_params
    start, end = time_range(params.get("start"), params.get("end"))
    return await _admin(request).usage(start, end, request.query_params.get("account_id"))


@router.get("/ledger/verify")
async def verify_ledger(request: Request) -> dict[str, Any]:
    return await _admin(request).verify_ledger()


@router.get("/routes")
async def list_routes(request: Request) -> dict[str, Any]:
    return await gateway(request).route_health.report()
