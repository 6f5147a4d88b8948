"""One account in the admin pages (`/admin/accounts/{id}`), and every action on an account or its keys:
credit (top-ups and adjustments either way, each with a reason), disable and enable, default limits,
stricter safety, keys (create, revoke, webhook URL), and the ledger history a page at a time; the
same AdminService calls as the admin API and the CLI (`accounts …`, `credit …`, `keys …`,
`ledger history`). Forms on the dashboard post here too and go back there (admin_forms.act).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from ..domain.errors import GatewayError
from ..http.gateway import gateway
from .admin_forms import (
    SHOWN_ONCE_COOKIE,
    ErrorPage,
    act,
    forget_shown_once,
    login_page,
    off_page,
    optional_int,
    session_of,
    sessions_of,
)
from .admin_pages import NOTICES, dashboard_error
from .render import page

router = APIRouter(prefix="/admin", include_in_schema=False)

LEDGER_PAGE = 50


@router.get("/accounts/{account_id}")
async def account_page(account_id: str, request: Request) -> Response:
    sessions = sessions_of(request)
    if sessions is None:
        return off_page(request)
    found = await session_of(request, sessions)
    if found is None:
        return login_page(request)
    shown = sessions.unseal(request.cookies.get(SHOWN_ONCE_COOKIE))
    notice = NOTICES.get(request.query_params.get("done", ""))
    response = await _account(request, account_id, sessions.csrf(found[0]), notice=notice, shown=shown)
    forget_shown_once(request, response)
    return response


async def _account(
    request: Request,
    account_id: str,
    csrf: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    shown: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    admin = gateway(request).admin
    try:
        account = await admin.accounts.get(account_id)
    except GatewayError:
        missing = {"what": f"No account '{account_id[:64]}'.", "title": "Admin"}
        return page(request, "not_found.html", missing, status=404, private=True)
    try:
        history = await admin.ledger.history(account_id, str(LEDGER_PAGE), request.query_params.get("after"))
    except GatewayError as exc:  # a cursor that is no entry id: the newest page, and why
        history = await admin.ledger.history(account_id, str(LEDGER_PAGE))
        error, status = error or exc.message, exc.status
    context: dict[str, Any] = {
        "title": f"Admin · {account['name']}",
        "csrf": csrf,
        "notice": notice,
        "error": error,
        "a": account,
        "keys": (await admin.keys.list_for(account_id))["data"],
        "budgets": await admin.budgets.account(account_id),
        "history": history,
        "paged": "after" in request.query_params,
        "new_key": shown if shown and shown.get("account_id") == account_id and "key" in shown else None,
        "new_secret": shown if shown and shown.get("account_id") == account_id and "secret" in shown else None,
        "models": [m.id for m in gateway(request).catalog.models],
        "categories": admin.accounts.safety_categories(),
        "on_account_page": True,
    }
    return page(request, "admin_account.html", context, status=status, private=True)


def _error_on(account_id: str) -> ErrorPage:
    async def render(request: Request, csrf: str, message: str, status: int) -> HTMLResponse:
        return await _account(request, account_id, csrf, error=message, status=status)

    return render


async def _on_account(request: Request, done: str, action: Any, **options: Any) -> Response:
    return await act(request, done, action, dashboard_error, _error_on, **options)


@router.post("/accounts/{account_id}/credit")
async def add_credit(account_id: str, request: Request) -> Response:
    return await _on_account(
        request,
        "credit",
        lambda admin, form: admin.ledger.add_credit(account_id, form.get("amount_usd", ""), form.get("reason", "")),
    )


@router.post("/accounts/{account_id}/adjust")
async def adjust_credit(account_id: str, request: Request) -> Response:
    return await _on_account(
        request,
        "adjusted",
        lambda admin, form: admin.ledger.adjust_credit(account_id, form.get("amount_usd", ""), form.get("reason", "")),
    )


@router.post("/accounts/{account_id}/disable")
async def disable(account_id: str, request: Request) -> Response:
    return await _on_account(request, "disabled", lambda admin, form: admin.accounts.set_disabled(account_id, True))


@router.post("/accounts/{account_id}/enable")
async def enable(account_id: str, request: Request) -> Response:
    return await _on_account(request, "enabled", lambda admin, form: admin.accounts.set_disabled(account_id, False))


@router.post("/accounts/{account_id}/limits")
async def set_limits(account_id: str, request: Request) -> Response:
    async def action(admin: Any, form: dict[str, str]) -> Any:
        limits = {name: optional_int(form.get(name, ""), name) for name in ("rpm", "ipm", "max_in_flight")}
        return await admin.accounts.set_limits(account_id, **limits)

    return await _on_account(request, "limits", action)


@router.post("/accounts/{account_id}/safety")
async def set_safety(account_id: str, request: Request) -> Response:
    async def action(admin: Any, form: dict[str, str]) -> Any:
        terms = [t.strip() for t in form.get("block_terms", "").splitlines() if t.strip()]
        categories = [c for c in form.get("block_categories", "").split(",") if c]
        return await admin.accounts.set_safety(account_id, block_terms=terms, block_categories=categories)

    return await _on_account(request, "safety", action)


@router.post("/accounts/{account_id}/keys")
async def create_key(account_id: str, request: Request) -> Response:
    async def action(admin: Any, form: dict[str, str]) -> Any:
        models = [m.strip() for m in form.get("models", "").split(",") if m.strip()] or None
        return await admin.keys.create(
            account_id,
            test=form.get("test") == "on",
            models=models,
            rpm=optional_int(form.get("rpm", ""), "rpm"),
            ipm=optional_int(form.get("ipm", ""), "ipm"),
        )

    return await _on_account(request, "key", action, shown_once=_new_key)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> Response:
    return await _on_account(request, "revoked", lambda admin, form: admin.keys.revoke(key_id))


@router.post("/keys/{key_id}/webhook")
async def set_webhook(key_id: str, request: Request) -> Response:
    async def action(admin: Any, form: dict[str, str]) -> Any:
        answer = await admin.webhooks.set_url(key_id, form.get("webhook_url", "").strip())
        return {**answer, "account_id": (await admin.keys.get(key_id))["account_id"], "key_id": key_id}

    return await _on_account(request, "webhook", action, shown_once=_new_secret)


def _new_key(created: dict[str, Any]) -> dict[str, Any]:
    return {k: created[k] for k in ("key", "id", "account_id", "mode")}


def _new_secret(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: answer[k] for k in ("key_id", "account_id", "webhook_url", "secret")}


@router.post("/keys/{key_id}/webhook/clear")
async def clear_webhook(key_id: str, request: Request) -> Response:
    return await _on_account(request, "webhook-cleared", lambda admin, form: admin.webhooks.clear_url(key_id))


__all__ = ["router"]
