"""The operator's dashboard at /admin: log in with the admin token, then accounts, credit, keys,
price cards, route health, safety blocks and spend, through the same AdminService as the admin API.

Every form post needs a valid session cookie, the CSRF token derived from it, and no foreign `Origin`.
Logging in is limited like the admin API's token (`AdminTokenGuard`: 429 after too many wrong
tokens); logging out revokes the session on every node.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..domain.errors import GatewayError, InvalidRequest, RateLimited
from ..http.auth import client_address
from ..http.gateway import gateway
from ..service.admin import MAX_LIMIT
from .render import page
from .session import (
    COOKIE,
    NEW_KEY_COOKIE,
    NEW_KEY_SECONDS,
    SESSION_SECONDS,
    AdminSessions,
    Session,
)

router = APIRouter(prefix="/admin", include_in_schema=False)

SPEND_DAYS = 30
NOTICES = {
    "account": "Account created.",
    "credit": "Credit added.",
    "revoked": "Key revoked.",
    "price": "Price set: the next request pays it.",
    "key": "Key created: copy it now, it is not shown again.",
    "sample": "Sample added: it shows in its model page's examples.",
    "sample-removed": "Sample removed.",
}


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _sessions(request: Request) -> AdminSessions | None:
    settings = gateway(request).settings
    if settings.admin_token is None:
        return None
    return AdminSessions(settings.signing_secret, settings.admin_token)


def _off(request: Request) -> HTMLResponse:
    return page(
        request,
        "not_found.html",
        {"what": "The admin pages are off: set IMAGEGATE_ADMIN_TOKEN to turn them on."},
        status=404,
    )


def _login(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    return page(request, "admin_login.html", {"title": "Admin", "error": error}, status=status, private=True)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # browsers send it on every cross-origin post; its absence is a same-origin form
        return True
    given = urlsplit(origin).netloc
    public = urlsplit(gateway(request).settings.base_url()).netloc  # behind a proxy, Host may differ
    return bool(given) and given in (request.headers.get("host", ""), public)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}


async def _session(request: Request, sessions: AdminSessions) -> tuple[str, Session] | None:
    """The request's session cookie and its session, when it is signed, unexpired and not logged out."""
    cookie = request.cookies.get(COOKIE)
    session = sessions.session(cookie)
    if cookie is None or session is None or await gateway(request).admin_sessions.is_revoked(session.id):
        return None
    return cookie, session


async def _authorized_form(request: Request) -> tuple[str, Session, dict[str, str]]:
    """The session cookie, its session and the posted fields, or a refusal that shows the login page."""
    sessions = _sessions(request)
    if sessions is None:
        raise _Refused(_off(request))
    found = await _session(request, sessions)
    if found is None or not _same_origin(request):
        raise _Refused(_login(request, "Your session has ended: log in again.", status=401))
    cookie, session = found
    form = await _form(request)
    if not sessions.csrf_matches(cookie, form.get("csrf", "")):
        raise _Refused(_login(request, "The form was not sent from this dashboard: log in again.", status=403))
    return cookie, session, form


@router.get("")
async def dashboard(request: Request) -> Response:
    sessions = _sessions(request)
    if sessions is None:
        return _off(request)
    found = await _session(request, sessions)
    if found is None:
        return _login(request)
    cookie = found[0]
    notice = NOTICES.get(request.query_params.get("done", ""))
    new_key = sessions.unseal(request.cookies.get(NEW_KEY_COOKIE))
    response = await _dashboard(request, sessions.csrf(cookie), notice=notice, new_key=new_key)
    if NEW_KEY_COOKIE in request.cookies:  # shown once
        response.delete_cookie(NEW_KEY_COOKIE, path="/admin", httponly=True, samesite="strict")
    return response


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
    accounts = (await admin.list_accounts())["data"]
    keys = {a["id"]: (await admin.list_keys(a["id"]))["data"] for a in accounts}
    context = {
        "title": "Admin",
        "csrf": csrf,
        "notice": notice,
        "error": error,
        "new_key": new_key,
        "accounts": accounts,
        "keys": keys,
        "cards": await running.catalog.cards(),
        "routes": await running.route_health.report(),
        "blocks": (await admin.list_blocks(limit=20))["data"],
        "days": await admin.daily_activity(SPEND_DAYS),
        **await _gallery(request),
    }
    return page(request, "admin.html", context, status=status, private=True)


@router.post("/login")
async def login(request: Request) -> Response:
    sessions = _sessions(request)
    if sessions is None:
        return _off(request)
    form = await _form(request)
    if not _same_origin(request):
        return _login(request, "That is not the admin token.", status=401)
    try:
        matches = await gateway(request).admin_auth.check(client_address(request), form.get("token", ""))
    except RateLimited as exc:
        refused = _login(request, exc.message, status=429)
        refused.headers.update(exc.headers)
        return refused
    if not matches:
        return _login(request, "That is not the admin token.", status=401)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        COOKIE,
        sessions.issue(),
        max_age=SESSION_SECONDS,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        _cookie, session, _form_fields = await _authorized_form(request)
    except _Refused as refused:
        return refused.response
    await gateway(request).admin_sessions.revoke(session.id, session.expires)  # a copy of the cookie ends too
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="strict")
    return response


async def _act(request: Request, done: str, action: Any) -> Response:
    """Run one admin action from a posted form; back to the dashboard with a notice or the error."""
    try:
        cookie, _session_of_form, form = await _authorized_form(request)
    except _Refused as refused:
        return refused.response
    sessions = _sessions(request)
    assert sessions is not None
    try:
        result = await action(gateway(request).admin, form)
    except GatewayError as exc:
        return await _dashboard(request, sessions.csrf(cookie), error=exc.message, status=exc.status)
    response = RedirectResponse(f"/admin?done={done}", status_code=303)
    if done == "key":  # the new key rides the redirect in a short-lived cookie, never in a URL
        response.set_cookie(
            NEW_KEY_COOKIE,
            sessions.seal({k: result[k] for k in ("key", "id", "account_id", "mode")}),
            max_age=NEW_KEY_SECONDS,
            path="/admin",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


def _optional_int(value: str, name: str) -> int | None:
    """A form's whole number, or None when left empty. ASCII digits only (`"²".isdigit()` is true but
    `int("²")` fails) and short enough for `int` to read: anything else is the form's error, never a 500."""
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_LIMIT)):
        raise InvalidRequest(f"{name} must be a whole number from 1 to {MAX_LIMIT:,}.", param=name)
    return int(text)


@router.post("/accounts")
async def create_account(request: Request) -> Response:
    return await _act(
        request, "account", lambda admin, form: admin.create_account(form.get("name", "").strip() or "unnamed")
    )


@router.post("/accounts/{account_id}/credit")
async def add_credit(account_id: str, request: Request) -> Response:
    return await _act(
        request,
        "credit",
        lambda admin, form: admin.add_credit(account_id, form.get("amount_usd", ""), form.get("reason", "")),
    )


@router.post("/accounts/{account_id}/keys")
async def create_key(account_id: str, request: Request) -> Response:
    async def action(admin: Any, form: dict[str, str]) -> Any:
        models = [m.strip() for m in form.get("models", "").split(",") if m.strip()] or None
        return await admin.create_key(
            account_id, test=form.get("test") == "on", models=models, rpm=_optional_int(form.get("rpm", ""), "rpm")
        )

    return await _act(request, "key", action)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> Response:
    return await _act(request, "revoked", lambda admin, form: admin.revoke_key(key_id))


@router.post("/prices")
async def set_price(request: Request) -> Response:
    return await _act(
        request,
        "price",
        lambda admin, form: admin.set_price(
            form.get("model", ""), form.get("quality") or None, form.get("size", ""), form.get("amount_usd", "")
        ),
    )


async def _gallery(request: Request) -> dict[str, Any]:
    """The stored images an operator may use as samples (each with a URL signed as it was handed out),
    and the samples the model pages show."""
    running = gateway(request)
    recent = await running.samples.recent_images(int(time.time()))
    return {
        "recent_images": [{"image": i, "url": running.store.url_for(i.id, i.ext, i.expires)} for i in recent],
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


__all__ = ["router"]
