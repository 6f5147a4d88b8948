"""The admission step every operation runs before its upstream call: price, rate limits, screening,
idempotency and the hold. It either admits the request, owning what it took (a hold, an idempotency
claim, an in-flight slot), or refuses it having given everything back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ...db import clock
from ...db.idempotency import IdempotencyRepo
from ...db.prices import PricesRepo
from ...domain.budgets import claims_for
from ...domain.errors import Conflict, InvalidRequest, PermissionDenied
from ...domain.pricing import PriceOverrides, held_unit_price
from ...domain.principal import Principal
from ...domain.request import ImageRequest
from .billing import Billing
from .rate_limits import Limiter
from .screening import PromptScreen

Surface = Literal["images", "chat", "responses", "job", "batch"]
"""The API a request came through, as its usage record says (`job`: run as an async job)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """Who asks, under which request id, since when (monotonic), with which Idempotency-Key, on
    which surface."""

    principal: Principal
    request_id: str
    started: float
    idempotency_key: str | None = None
    surface: Surface = field(kw_only=True)
    end_user: str | None = field(default=None, kw_only=True)
    """The end user the operator's header (IMAGEGATE_END_USER_HEADER) names; else the body's `user`."""
    prices: PriceOverrides | None = field(default=None, kw_only=True)
    """Price cards fixed before the request (a batch's line: its batch's prices at submit), used
    instead of the live ones."""


@dataclass(frozen=True, slots=True)
class Priced:
    request: ImageRequest
    billable: bool
    overrides: PriceOverrides
    held_unit: int
    live_unit: int = 0
    """What a live key would be held at per image: shown to test keys beside their zero."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request that may go upstream, and what admission took for it."""

    ticket: Ticket
    priced: Priced
    hold_id: str | None
    idempotency_claimed: bool
    in_flight: bool
    rate_headers: dict[str, str] = field(default_factory=dict)

    @property
    def request(self) -> ImageRequest:
        return self.priced.request


@dataclass(frozen=True, slots=True)
class Replay:
    """The Idempotency-Key's first request finished: its stored answer."""

    body: dict[str, Any]
    cost_micros: int
    rate_headers: dict[str, str]


def check_idempotency_key(key: str) -> str:
    if not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
        raise InvalidRequest(
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters.", param="Idempotency-Key"
        )
    return key


def body_hash(body: Any) -> str:
    """The same JSON, however it is spaced or ordered, hashes the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Admission:
    def __init__(
        self,
        billing: Billing,
        prices: PricesRepo,
        idempotency: IdempotencyRepo,
        deadline_seconds: float,
        limiter: Limiter | None = None,
        screen: PromptScreen | None = None,
    ) -> None:
        self._billing = billing
        self._prices = prices
        self._idempotency = idempotency
        self._deadline = deadline_seconds
        self._limiter = limiter
        self._screen = screen

    async def price(self, request: ImageRequest, principal: Principal, fixed: PriceOverrides | None = None) -> Priced:
        """The unit price the request would be held at now (0 for test keys and free models);
        `fixed`: the cards to price it at instead of the live ones."""
        model = request.model
        if principal.allowed_models is not None and model.id not in principal.allowed_models:
            raise PermissionDenied(
                f"This API key may not use the model '{model.id}'.", code="model_not_allowed", param="model"
            )
        billable = not principal.is_test and not model.free
        if fixed is not None:
            overrides: PriceOverrides = fixed
        else:
            overrides = await self._prices.overrides(model.id, principal.prices_version) if not model.free else {}
        live_unit = held_unit_price(model, request.quality, request.size, overrides) if not model.free else 0
        return Priced(request, billable, overrides, live_unit if billable else 0, live_unit)

    async def admit(
        self, ticket: Ticket, request: ImageRequest, body: Any, *, job_hold_ttl: int | None = None
    ) -> Admitted | Replay:
        """Steps 3-6 of a request, in the contract's order; all or nothing. `job_hold_ttl`: the request
        becomes an async job, whose hold lives that long and belongs to no node run."""
        principal = ticket.principal
        priced = await self.price(request, principal, ticket.prices)
        rate_headers: dict[str, str] = {}
        in_flight = claimed = False
        try:
            if self._limiter is not None:
                rate_headers = await self._limiter.check_rate(principal, request)
                in_flight = await self._limiter.enter(principal, ticket.request_id)
            if self._screen is not None:
                await self._screen.check(request, principal, ticket.request_id)
            if ticket.idempotency_key is not None:
                replay = await self._claim(ticket, ticket.idempotency_key, body, rate_headers)
                if replay is not None:
                    await self._leave(ticket, in_flight)
                    return replay
                claimed = True
            hold_id = None
            if priced.billable:
                what = f"{request.n} × {request.model.id} {request.quality or 'standard'} {request.size}"
                amount = priced.held_unit * request.n
                end_user = ticket.end_user or request.end_user
                budgets = claims_for(
                    principal.account_id,
                    principal.key_id,
                    principal.budget,
                    end_user,
                    principal.user_budget,
                    clock.utcnow(),
                )
                hold_id = await self._billing.hold(
                    principal, ticket.request_id, amount, what, job_ttl_seconds=job_hold_ttl, budgets=budgets
                )
        except BaseException:
            if claimed:
                assert ticket.idempotency_key is not None
                await self._idempotency.give_back(
                    principal.account_id, ticket.idempotency_key, ticket.request_id, mode=principal.mode
                )
            await self._leave(ticket, in_flight)
            raise
        return Admitted(ticket, priced, hold_id, claimed, in_flight, rate_headers)

    async def leave(self, admitted: Admitted) -> None:
        """Free the request's in-flight slot once it has finished, however it finished."""
        await self._leave(admitted.ticket, admitted.in_flight)

    async def _leave(self, ticket: Ticket, in_flight: bool) -> None:
        if in_flight and self._limiter is not None:
            await self._limiter.leave(ticket.principal, ticket.request_id)

    async def _claim(self, ticket: Ticket, key: str, body: Any, rate_headers: dict[str, str]) -> Replay | None:
        """Claim the idempotency key; a finished first request's answer when this is a replay."""
        principal = ticket.principal
        claim = await self._idempotency.claim(
            principal.account_id,
            check_idempotency_key(key),
            body_hash(body),
            ticket.request_id,
            self._deadline + 60,
            mode=principal.mode,
        )
        if claim.status == "mismatch":
            raise InvalidRequest(
                "This Idempotency-Key was used with a different request body.",
                code="idempotency_key_reused",
                param="Idempotency-Key",
            )
        if claim.status == "running":
            raise Conflict("A request with this Idempotency-Key is still running; retry when it has finished.")
        if claim.status == "done":
            assert claim.response_body is not None
            return Replay(json.loads(claim.response_body), claim.response_cost_micros or 0, rate_headers)
        return None


__all__ = ["Admission", "Admitted", "Priced", "Replay", "Surface", "Ticket", "body_hash", "check_idempotency_key"]
