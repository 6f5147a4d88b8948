"""The admin API under /admin/v1/, behind IMAGEGATE_ADMIN_TOKEN. Each action is a CLI command too:
both call the same AdminService method."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request

from ...domain.errors import AuthenticationFailed, InvalidRequest, NotFound
from ...domain.jsonbody import parse_json_body
from ...domain.text import check_text
from ...service.routes import route_report
from ..components import components
from .usage import time_range


async def _storable_params(request: Request) -> None:
    """Ids in the path and the query reach the database's WHERE clauses: refuse what it cannot store."""
    for name, value in (*request.path_params.items(), *request.query_params.items()):
        if isinstance(value, str):
            check_text(value, name)


router = APIRouter(prefix="/admin/v1", dependencies=[Depends(_storable_params)])


def _authorize(request: Request) -> None:
    token = components(request).settings.admin_token
    if token is None:
        raise NotFound("The admin API is off: set IMAGEGATE_ADMIN_TOKEN to turn it on.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AuthenticationFailed("A valid admin token is required.", code="invalid_admin_token")


async def _body(request: Request) -> dict[str, Any]:
    body = parse_json_body(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body


def _field(body: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{name}'.", code="missing_required_parameter", param=name)
        return None
    if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
        raise InvalidRequest(f"'{name}' must be a {kind.__name__}.", code="invalid_type", param=name)
    return check_text(value, name) if isinstance(value, str) else value


def _amount(body: dict[str, Any]) -> str:
    """`amount_usd` as a decimal string; a JSON number is taken by its shortest text ("0.1", not 0.1000…)."""
    value = body.get("amount_usd")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return _field(body, "amount_usd", str)


@router.post("/accounts")
async def create_account(request: Request) -> dict[str, Any]:
    _authorize(request)
    body = await _body(request)
    return await components(request).admin.create_account(_field(body, "name", str))


@router.get("/accounts")
async def list_accounts(request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.list_accounts()


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.get_account(account_id)


@router.post("/accounts/{account_id}/disable")
async def disable_account(account_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.set_account_disabled(account_id, True)


@router.post("/accounts/{account_id}/enable")
async def enable_account(account_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.set_account_disabled(account_id, False)


@router.post("/accounts/{account_id}/credit")
async def top_up(account_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    body = await _body(request)
    return await components(request).admin.add_credit(
        account_id, _amount(body), _field(body, "reason", str)
    )


@router.post("/accounts/{account_id}/adjustments")
async def adjust(account_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    body = await _body(request)
    return await components(request).admin.adjust_credit(
        account_id, _amount(body), _field(body, "reason", str)
    )


@router.post("/accounts/{account_id}/keys")
async def create_key(account_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    body = await _body(request)
    models = _field(body, "models", list, required=False)
    if models is not None and not all(isinstance(m, str) for m in models):
        raise InvalidRequest("'models' must be a list of model ids.", code="invalid_type", param="models")
    return await components(request).admin.create_key(
        account_id,
        test=bool(_field(body, "test", bool, required=False)),
        models=models,
        rpm=_field(body, "rpm", int, required=False),
        ipm=_field(body, "ipm", int, required=False),
    )


@router.get("/accounts/{account_id}/keys")
async def list_keys(account_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.list_keys(account_id)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.revoke_key(key_id)


@router.get("/prices")
async def list_prices(request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.list_prices()


@router.put("/prices")
async def set_price(request: Request) -> dict[str, Any]:
    _authorize(request)
    body = await _body(request)
    return await components(request).admin.set_price(
        _field(body, "model", str),
        _field(body, "quality", str, required=False),
        _field(body, "size", str),
        _amount(body),
    )


@router.get("/usage")
async def usage(request: Request) -> dict[str, Any]:
    _authorize(request)
    start, end = time_range(request)
    return await components(request).admin.usage(start, end, request.query_params.get("account_id"))


@router.get("/ledger/verify")
async def verify_ledger(request: Request) -> dict[str, Any]:
    _authorize(request)
    return await components(request).admin.verify_ledger()


@router.get("/routes")
async def list_routes(request: Request) -> dict[str, Any]:
    _authorize(request)
    return await route_report(components(request).settings)
