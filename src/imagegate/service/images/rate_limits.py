"""Step 3 of a request: per-key rate limits (requests and images per minute) and the per-account
cap on requests in flight, on whichever LimiterState the gateway runs with."""

from __future__ import annotations

import asyncio
import logging

from ...domain import ratelimit
from ...domain.errors import InvalidRequest, RateLimited
from ...domain.ports import LimiterState
from ...domain.principal import Principal
from ...domain.ratelimit import Limit, StateUnavailable
from ...domain.request import ImageRequest
from ..degraded import serve_without_or_refuse

log = logging.getLogger("imagegate.limits")


class Limiter:
    def __init__(self, state: LimiterState, *, fail_open: bool, in_flight_ttl_seconds: float) -> None:
        self._state = state
        self._fail_open = fail_open
        self._ttl = in_flight_ttl_seconds

    async def check_rate(self, principal: Principal, request: ImageRequest) -> dict[str, str]:
        """Take one request and `n` images from the key's buckets; the `x-ratelimit-*` headers."""
        limits = []
        if principal.effective_rpm is not None:
            limits.append(Limit("requests", principal.effective_rpm, 1))
        ipm = principal.effective_ipm
        if ipm is not None:
            if request.n > ipm:
                raise InvalidRequest(
                    f"n={request.n} is more than this key's limit of {ipm} images per minute.", param="n"
                )
            limits.append(Limit("images", ipm, request.n))
        if not limits:
            return {}
        try:
            decision = await self._state.take(principal.key_id, limits)
        except StateUnavailable as exc:
            self._unavailable(exc)
            return {}
        headers = ratelimit.headers(decision)
        if not decision.allowed:
            refused = [b.name for b, limit in zip(decision.buckets, limits, strict=True) if b.remaining < limit.cost]
            raise RateLimited(
                f"Rate limit reached for this API key ({' and '.join(refused) or 'requests'} per minute). "
                f"Try again in {headers['retry-after']} s.",
                headers=headers,
            )
        return headers

    async def enter(self, principal: Principal, request_id: str) -> bool:
        """Count this request in flight for its account; True if it must `leave` afterwards."""
        cap = principal.account_limits.max_in_flight
        if cap is None:
            return False
        try:
            entered = await self._state.enter(principal.account_id, request_id, cap, self._ttl)
        except StateUnavailable as exc:
            self._unavailable(exc)
            return False
        if not entered:
            raise RateLimited(
                f"This account already has {cap} request(s) in flight, its limit. Try again when one has finished.",
                headers={"retry-after": "1"},
            )
        return True

    async def leave(self, principal: Principal, request_id: str) -> None:
        try:
            await asyncio.shield(self._state.leave(principal.account_id, request_id))
        except StateUnavailable as exc:  # the entry expires by itself
            log.warning("could not release the in-flight slot of %s: %s", request_id, exc)

    def _unavailable(self, exc: StateUnavailable) -> None:
        serve_without_or_refuse(
            self._fail_open,
            "rate-limit state",
            exc,
            message="Rate limits cannot be checked right now; try again shortly. Nothing was charged.",
            code="rate_limiter_unavailable",
            retry_after=1,
        )


__all__ = ["Limiter"]
