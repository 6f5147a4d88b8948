"""The operator's dashboard at /admin: log in with the admin token, then accounts, credit, keys,
price cards, route health, safety blocks and spend, through the same AdminService as the admin API.
Each account's own page, and the actions on accounts and keys, are `admin_account.py`.

Every form post needs a valid session cookie, the CSRF token derived from it, and no foreign `Origin`
(`admin_forms.py`). Logging in is limited like the admin API's token (`AdminTokenGuard`: 429 after
too many wrong tokens); logging out revokes the session on every node. Without an admin token the
pages say how to set one.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..domain.catalog import Model
from ..domain.errors import RateLimited
from ..http.auth import client_address
from ..http.gateway import gateway
from .admin_forms import (
    SHOWN_ONCE_COOKIE,
    Action,
    Refused,
    act,
    authorized_form,
    forget_shown_once,
    login_page,
    off_page,
    read_form,
    same_origin,
    session_of,
    sessions_of,
)
from .margin_chart import margin_chart
from .render import page
from .session import COOKIE, SESSION_SECONDS, delete_admin_cookie, set_admin_cookie

router = APIRouter(prefix="/admin", include_in_schema=False)

SPEND_DAYS = 30
NOTICES = {
    "account": "Account created.",
    "credit": "Credit added.",
    "adjusted": "Balance adjusted.",
    "disabled": "Account disabled: its keys answer 403 account_disabled.",
    "enabled": "Account enabled: its keys work again.",
    "limits": "Limits set: the account's keys without their own use them from the next request.",
    "safety": "Safety additions set.",
    "revoked": "Key revoked.",
    "price": "Price set: the next request pays it.",
    "key": "Key created: copy it now, it is not shown again.",
    "webhook": "Webhook URL set: copy the signing secret now, it is not shown again.",
    "webhook-cleared": "Webhook URL cleared.",
    "sample": "Sample added: it shows in its model page's examples.",
    "sample-removed": "Sample removed.",
}


@router.get("")
async def dashboard(request: Request) -> Response:
    sessions = sessions_of(request)
    if sessions is None:
        return off_page(request, status=200)
    found = await session_of(request, sessions)
    if found is None:
        return login_page(request)
    cookie = found[0]
    notice = NOTICES.get(request.query_params.get("done", ""))
    shown = sessions.unseal(request.cookies.get(SHOWN_ONCE_COOKIE))
    new_key = shown if shown is not None and "key" in shown else None
    response = await _dashboard(request, sessions.csrf(cookie), notice=notice, new_key=new_key)
    forget_shown_once(request, response)
    return response


async def dashboard_error(request: Request, csrf: str, message: str, status: int) -> HTMLResponse:
    """The dashboard again, with the error of a form posted from it."""
    return await _dashboard(request, csrf, error=message, status=status)


async def _dashboard(
    request: Request,
    csrf: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    new_key: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    running = gateway(request)
    admin = running.admin
    accounts = (await admin.accounts.all())["data"]
    cards = await running.catalog.cards()
    keys = {a["id"]: (await admin.keys.list_for(a["id"]))["data"] for a in accounts}
    context = {
        "title": "Admin",
        "csrf": csrf,
        "notice": notice,
        "error": error,
        "new_key": new_key,
        "accounts": accounts,
        "keys": keys,
        "cards": cards,
        "models": [m.id for m in running.catalog.models],
        "on_account_page": False,
        "price_options": price_options([card.model for card in cards]),
        "routes": await running.route_health.report(),
        "blocks": (await admin.reports.blocks(limit=20))["data"],
        "days": await admin.reports.daily_activity(SPEND_DAYS),
        "margin": await margin_chart(running.margin),
        **await _gallery(request),
    }
    return page(request, "admin.html", context, status=status, private=True)


def price_options(models: list[Model]) -> dict[str, list[tuple[str, list[str]]]]:
    """The price form's choices: every quality key and size of the priced models, each with the models
    it belongs to (a model without qualities is priced under `standard`)."""
    qualities: dict[str, list[str]] = {}
    sizes: dict[str, list[str]] = {}
    for model in models:
        if model.free:
            continue
        for quality in model.prices:
            qualities.setdefault(quality, []).append(model.id)
        for size in model.capabilities.sizes:
            sizes.setdefault(size, []).append(model.id)
    return {"qualities": list(qualities.items()), "sizes": list(sizes.items())}


@router.post("/login")
async def login(request: Request) -> Response:
    sessions = sessions_of(request)
    if sessions is None:
        return off_page(request)
    form = await read_form(request)
    if not same_origin(request):
        return login_page(request, "That is not the admin token.", status=401)
    try:
        matches = await gateway(request).admin_auth.check(client_address(request), form.get("token", ""))
    except RateLimited as exc:
        refused = login_page(request, exc.message, status=429)
        refused.headers.update(exc.headers)
        return refused
    if not matches:
        return login_page(request, "That is not the admin token.", status=401)
    response = RedirectResponse("/admin", status_code=303)
    set_admin_cookie(response, request, COOKIE, sessions.issue(), SESSION_SECONDS)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        _cookie, session, _form_fields = await authorized_form(request)
    except Refused as refused:
        return refused.response
    await gateway(request).admin_sessions.revoke(session.id, session.expires)  # a copy of the cookie ends too
    response = RedirectResponse("/admin", status_code=303)
    delete_admin_cookie(response, COOKIE)
    return response


async def _act(request: Request, done: str, action: Action) -> Response:
    return await act(request, done, action, dashboard_error)


@router.post("/accounts")
async def create_account(request: Request) -> Response:
    return await _act(
        request, "account", lambda admin, form: admin.accounts.create(form.get("name", "").strip() or "unnamed")
    )


@router.post("/prices")
async def set_price(request: Request) -> Response:
    return await _act(
        request,
        "price",
        lambda admin, form: admin.prices.set(
            form.get("model", ""), form.get("quality") or None, form.get("size", ""), form.get("amount_usd", "")
        ),
    )


async def _gallery(request: Request) -> dict[str, Any]:
    """The stored images an operator may use as samples (each with a URL signed as it was handed out),
    and the samples the model pages show."""
    running = gateway(request)
    return {
        "recent_images": await running.samples.recent_images(int(time.time())),
        "samples": (await running.samples.listing())["data"],
    }


@router.post("/images/{image_id}/sample")
async def use_as_sample(image_id: str, request: Request) -> Response:
    async def action(admin: Any, form: dict[str, str]) -> Any:
        return await gateway(request).samples.add_from_image(image_id, form.get("prompt", ""), {})

    return await _act(request, "sample", action)


@router.post("/samples/{sample_id}/remove")
async def remove_sample(sample_id: str, request: Request) -> Response:
    return await _act(request, "sample-removed", lambda admin, form: gateway(request).samples.remove(sample_id))


__all__ = ["NOTICES", "dashboard_error", "price_options", "router"]
