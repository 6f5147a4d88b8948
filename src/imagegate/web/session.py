"""The operator's browser session: the admin token exchanged for a signed, expiring cookie, and the
CSRF token its forms carry.

The cookie is `<expires>.<nonce>.<signature>`, signed with a key derived from the signing secret and
the admin token (changing either ends every session). It is HttpOnly and SameSite=Strict; each form
post must also carry the CSRF token derived from the cookie, and a cross-origin `Origin` is refused.
The nonce is the session's id: logging out records it as revoked (service/operator/sessions.py), so a
copy of the cookie stops working on every node at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "imagegate_admin"
NEW_KEY_COOKIE = "imagegate_admin_new_key"
"""Carries a just-created key across the redirect to the dashboard, which shows it once and deletes it."""
NEW_KEY_SECONDS = 120
SESSION_SECONDS = 8 * 3600


def set_admin_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """Every admin cookie is HttpOnly, SameSite=Strict, sent only to `/admin` (and only over https when served so)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def delete_admin_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/admin", httponly=True, samesite="strict")


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    expires: int
    """Unix time."""


class AdminSessions:
    def __init__(self, signing_secret: bytes, admin_token: str) -> None:
        self._key = hashlib.sha256(b"admin-session\0" + signing_secret + b"\0" + admin_token.encode()).digest()

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_SECONDS)
        body = f"{expires}.{secrets.token_hex(16)}"
        return f"{body}.{self._sign(body)}"

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie carries, if it is signed by this gateway and not expired (revocation is
        the caller's check: it needs the database)."""
        if not cookie or cookie.count(".") != 2:
            return None
        body, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        expires, _, nonce = body.partition(".")
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 12 or int(expires) <= (now or time.time()):
            return None
        return Session(nonce, int(expires))

    def valid(self, cookie: str | None, now: float | None = None) -> bool:
        return self.session(cookie, now) is not None

    def seal(self, data: dict[str, Any]) -> str:
        """`data` signed (not encrypted: the cookie is HttpOnly, lives two minutes and is read once)."""
        body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
        return f"{body}.{self._sign('sealed' + body)}"

    def unseal(self, value: str | None) -> dict[str, Any] | None:
        if not value or "." not in value:
            return None
        body, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign("sealed" + body).encode()):
            return None
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
        return data if isinstance(data, dict) else None

    def csrf(self, cookie: str) -> str:
        return self._sign(f"csrf\0{cookie}")

    def csrf_matches(self, cookie: str, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf(cookie).encode())


__all__ = ["COOKIE", "NEW_KEY_COOKIE", "NEW_KEY_SECONDS", "SESSION_SECONDS", "AdminSessions", "Session"]
