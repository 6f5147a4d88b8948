"""How every admin page reads a form and answers it: the session cookie, the CSRF token, the `Origin`
check, then one admin action, and back to the page the form was on (with a notice, or the page again
with the action's error). Used by the dashboard (`admin_pages.py`) and the account page
(`admin_account.py`).

A value shown once (a new key, a webhook's signing secret) rides the redirect in a short-lived,
signed, HttpOnly cookie, never in a URL; the page that shows it deletes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..domain.errors import GatewayError, InvalidRequest
from ..domain.ids import is_id
from ..http.gateway import gateway
from ..service.operator.fields import MAX_LIMIT
from .render import page
from .session import (
    COOKIE,
    NEW_KEY_COOKIE,
    NEW_KEY_SECONDS,
    AdminSessions,
    Session,
    delete_admin_cookie,
    set_admin_cookie,
)

SHOWN_ONCE_COOKIE = NEW_KEY_COOKIE
"""The cookie that carries a value shown once (a new key, a webhook secret) to the next page."""

ErrorPage = Callable[[Request, str, str, int], Awaitable[HTMLResponse]]
"""Renders the page a form was on again, with an error: (request, csrf, message, status)."""
Action = Callable[[Any, dict[str, str]], Awaitable[Any]]
"""One admin action: (the AdminService, the posted fields) -> its result."""


class Refused(Exception):
    """The form was not accepted (no session, a foreign origin, a wrong CSRF token): answer `response`."""

    def __init__(self, response: Response) -> None:
        self.response = response


def sessions_of(request: Request) -> AdminSessions | None:
    keys = gateway(request).admin_session_keys
    return None if keys is None else AdminSessions(keys.signing_secret, keys.admin_token)


def off_page(request: Request, status: int = 404) -> HTMLResponse:
    """The admin pages without an admin token: how to set one, instead of a dead end."""
    return page(request, "admin_off.html", {"title": "Admin"}, status=status, private=True)


def login_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    return page(request, "admin_login.html", {"title": "Admin", "error": error}, status=status, private=True)


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # browsers send it on every cross-origin post; its absence is a same-origin form
        return True
    given = urlsplit(origin).netloc
    public = urlsplit(gateway(request).base_url).netloc  # behind a proxy, Host may differ
    return bool(given) and given in (request.headers.get("host", ""), public)


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields; a field sent more than once (checkboxes of one name) has its values joined by ","."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: ",".join(values) for name, values in parse_qs(body, keep_blank_values=True).items()}


async def session_of(request: Request, sessions: AdminSessions) -> tuple[str, Session] | None:
    """The request's session cookie and its session, when it is signed, unexpired and not logged out."""
    cookie = request.cookies.get(COOKIE)
    session = sessions.session(cookie)
    if cookie is None or session is None or await gateway(request).admin_sessions.is_revoked(session.id):
        return None
    return cookie, session


async def authorized_form(request: Request) -> tuple[str, Session, dict[str, str]]:
    """The session cookie, its session and the posted fields, or a refusal that shows the login page."""
    sessions = sessions_of(request)
    if sessions is None:
        raise Refused(off_page(request))
    found = await session_of(request, sessions)
    if found is None or not same_origin(request):
        raise Refused(login_page(request, "Your session has ended: log in again.", status=401))
    cookie, session = found
    form = await read_form(request)
    if not sessions.csrf_matches(cookie, form.get("csrf", "")):
        raise Refused(login_page(request, "The form was not sent from this dashboard: log in again.", status=403))
    return cookie, session, form


def optional_int(value: str, name: str) -> int | None:
    """A form's whole number, or None when left empty. ASCII digits only (`"²".isdigit()` is true but
    `int("²")` fails) and short enough for `int` to read: anything else is the form's error, never a 500."""
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_LIMIT)):
        raise InvalidRequest(f"{name} must be a whole number from 1 to {MAX_LIMIT:,}.", param=name)
    return int(text)


def account_page_of(form: dict[str, str]) -> str | None:
    """The account page a form came from (its hidden `account` field), or None for the dashboard."""
    account_id = form.get("account", "")
    return f"/admin/accounts/{account_id}" if is_id(account_id, "acct") else None


async def act(
    request: Request,
    done: str,
    action: Action,
    dashboard_error: ErrorPage,
    account_error: Callable[[str], ErrorPage] | None = None,
    shown_once: Callable[[Any], dict[str, Any]] | None = None,
) -> Response:
    """Run one admin action from a posted form; back to its page with `?done=…`, or that page again
    with the error. `shown_once` picks what of the result the next page shows once (a new key)."""
    try:
        cookie, _session, form = await authorized_form(request)
    except Refused as refused:
        return refused.response
    sessions = sessions_of(request)
    assert sessions is not None
    back = account_page_of(form)
    try:
        result = await action(gateway(request).admin, form)
    except GatewayError as exc:
        render = account_error(back.rsplit("/", 1)[1]) if back and account_error else dashboard_error
        return await render(request, sessions.csrf(cookie), exc.message, exc.status)
    response = RedirectResponse(f"{back or '/admin'}?done={done}", status_code=303)
    if shown_once is not None:
        set_admin_cookie(response, request, SHOWN_ONCE_COOKIE, sessions.seal(shown_once(result)), NEW_KEY_SECONDS)
    return response


def forget_shown_once(request: Request, response: Response) -> None:
    """A value shown once has been shown: its cookie goes."""
    if SHOWN_ONCE_COOKIE in request.cookies:
        delete_admin_cookie(response, SHOWN_ONCE_COOKIE)


__all__ = [
    "SHOWN_ONCE_COOKIE",
    "Action",
    "ErrorPage",
    "Refused",
    "account_page_of",
    "act",
    "authorized_form",
    "forget_shown_once",
    "login_page",
    "off_page",
    "optional_int",
    "read_form",
    "same_origin",
    "session_of",
    "sessions_of",
]
