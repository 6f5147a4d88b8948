"""The admin token's guard against guessing: a limit on wrong tokens per client address and over all
addresses, shared by every node (the rate-limit state: Redis, or this process's memory).

Each check first takes a place in both windows (`LimiterState.enter`, one entry per attempt that
lives `window_seconds`); a right token gives its places back at once, a wrong one leaves them to
age out. When either window is full the check answers 429 with `Retry-After` *before* the token is
compared, right or wrong, so a guess past the limit cannot tell whether it was right. A request with
no token at all is no guess: it is refused without counting.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field

from ...domain.errors import RateLimited
from ...domain.ids import new_id
from ...domain.ports import LimiterState
from ...domain.ratelimit import StateUnavailable
from ..degraded import serve_without_or_refuse

log = logging.getLogger("imagegate.admin")


@dataclass(frozen=True, slots=True)
class AdminSessionKeys:
    """What the admin pages' session cookies are signed with: the signing secret and the admin token
    (changing either ends every session). Only a gateway with an admin token has them."""

    signing_secret: bytes = field(repr=False)
    admin_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AdminAuthLimits:
    per_address: int
    """Wrong tokens one client address may send per window (0: no limit)."""
    overall: int
    """Wrong tokens all addresses together may send per window (0: no limit)."""
    window_seconds: int


class AdminTokenGuard:
    def __init__(self, token: str | None, state: LimiterState, limits: AdminAuthLimits, *, fail_open: bool) -> None:
        self._token = token
        self._state = state
        self._limits = limits
        self._fail_open = fail_open

    async def check(self, address: str | None, given: str) -> bool:
        """Whether `given` is the admin token; `RateLimited` (429) while `address`, or everyone, has
        sent too many wrong ones lately. No token configured: never a match."""
        given = given.strip()
        if self._token is None or not given:
            return False
        attempt = new_id("auth")
        entered = await self._enter(address or "unknown", attempt)
        if hmac.compare_digest(given.encode(), self._token.encode()):
            await self._leave(entered, attempt)
            return True
        log.warning("a wrong admin token from %s", address or "an unknown address")
        return False

    def _windows(self, address: str) -> list[tuple[str, int, str]]:
        """(state scope, cap, whose tokens) of each limit in force."""
        limits = self._limits
        windows = [
            (f"admin-auth:address:{address}", limits.per_address, "from this address"),
            ("admin-auth:all", limits.overall, "from all addresses"),
        ]
        return [window for window in windows if window[1] > 0]

    async def _enter(self, address: str, attempt: str) -> list[str]:
        entered: list[str] = []
        seconds = self._limits.window_seconds
        try:
            for scope, cap, whose in self._windows(address):
                if not await self._state.enter(scope, attempt, cap, seconds):
                    await self._leave(entered, attempt)
                    raise RateLimited(
                        f"Too many wrong admin tokens {whose} lately. Try again in {seconds} s.",
                        headers={"retry-after": str(seconds)},
                    )
                entered.append(scope)
        except StateUnavailable as exc:
            serve_without_or_refuse(
                self._fail_open,
                "admin token limiter",
                exc,
                message="The admin token limiter is unavailable; try again shortly.",
                code="rate_limiter_unavailable",
                retry_after=1,
            )
        return entered

    async def _leave(self, entered: list[str], attempt: str) -> None:
        for scope in entered:
            try:
                await asyncio.shield(self._state.leave(scope, attempt))
            except StateUnavailable as exc:  # the entry ages out by itself
                log.warning("could not give back an admin token check's place: %s", exc)


__all__ = ["AdminAuthLimits", "AdminSessionKeys", "AdminTokenGuard"]
