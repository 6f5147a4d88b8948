"""The one use case: a principal asks for images; validate, rate-limit, screen, hold, route, store, settle.

Every exit before settlement releases the hold, so a failed request never costs money.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ..billing import Billing
from ..db.accounts import utcnow
from ..db.prices import PricesRepo
from ..db.usage import UsageRecord, UsageRepo
from ..domain.catalog import Catalog
from ..domain.errors import ContentBlocked, GatewayError, PermissionDenied
from ..domain.ports import BlobStore
from ..domain.pricing import charged_unit_price, held_unit_price
from ..domain.principal import Principal
from ..domain.request import ImageRequest, parse_image_request
from ..ids import new_id
from ..routing.router import Outcome, Router
from .limits import Limiter
from .screening import PromptScreen

log = logging.getLogger("imagegate.service")


@dataclass(frozen=True, slots=True)
class GenerationResult:
    body: dict[str, Any]
    cost_micros: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Progress:
    """What one request has done so far, for the usage record on any exit."""

    started: float
    request: ImageRequest | None = None
    hold_id: str | None = None
    delivered: int = 0
    cost: int = 0
    unit_price: int = 0
    rate_headers: dict[str, str] = field(default_factory=dict)
    in_flight: bool = False


class ImageService:
    def __init__(
        self,
        catalog: Catalog,
        router: Router,
        store: BlobStore,
        billing: Billing,
        prices: PricesRepo,
        usage: UsageRepo,
        url_ttl_seconds: int,
        limiter: Limiter | None = None,
        screen: PromptScreen | None = None,
    ) -> None:
        self._catalog = catalog
        self._router = router
        self._store = store
        self._billing = billing
        self._prices = prices
        self._usage = usage
        self._url_ttl = url_ttl_seconds
        self._limiter = limiter
        self._screen = screen

    async def generate(self, body: Any, principal: Principal, request_id: str) -> GenerationResult:
        progress = _Progress(started=time.monotonic())
        outcome = Outcome(images=[])
        try:
            result = await self._generate(body, principal, request_id, progress, outcome)
        except BaseException as exc:
            if progress.hold_id is not None:
                await asyncio.shield(self._billing.release(progress.hold_id))
            status, code = (exc.status, exc.code) if isinstance(exc, GatewayError) else (500, "internal_error")
            if isinstance(exc, ContentBlocked) and self._screen is not None:
                await self._screen.record_block(exc, principal, request_id, progress.request)
            await self._record(principal, request_id, progress, outcome, status, code)
            raise
        finally:
            if progress.in_flight and self._limiter is not None:
                await self._limiter.leave(principal, request_id)
        await self._record(principal, request_id, progress, outcome, 200, None)
        return result

    async def _generate(
        self, body: Any, principal: Principal, request_id: str, progress: _Progress, outcome: Outcome
    ) -> GenerationResult:
        request = progress.request = parse_image_request(body, self._catalog)
        model = request.model
        if principal.allowed_models is not None and model.id not in principal.allowed_models:
            raise PermissionDenied(
                f"This API key may not use the model '{model.id}'.", code="model_not_allowed", param="model"
            )
        if self._limiter is not None:
            progress.rate_headers = await self._limiter.check_rate(principal, request)
            progress.in_flight = await self._limiter.enter(principal, request_id)
        if self._screen is not None:
            await self._screen.check(request, principal, request_id)
        billable = not principal.is_test and not model.free
        overrides = await self._prices.overrides(model.id) if billable else {}
        if billable:
            held_unit = held_unit_price(model, request.quality, request.size, overrides)
            what = f"{request.n} × {model.id} {request.quality or 'standard'} {request.size}"
            progress.hold_id = await self._billing.hold(principal, request_id, held_unit * request.n, what)

        await self._router.generate(request, principal, outcome)
        images = outcome.images[: request.n]

        if billable:
            reported = images[0].quality if images else None
            progress.unit_price = charged_unit_price(model, request.quality, reported, request.size, overrides)
        progress.cost = progress.unit_price * len(images)
        created = int(time.time())
        data = await self._deliver(request, images, created)
        if progress.hold_id is not None:
            await self._billing.settle(progress.hold_id, progress.cost, f"{len(images)} image(s) of {model.id}")
            progress.hold_id = None
        progress.delivered = len(images)
        return GenerationResult(
            body={
                "created": created,
                "data": data,
                "billing": {
                    "images": len(images),
                    "images_requested": request.n,
                    "amount_micros": progress.cost,
                    "currency": principal.currency,
                    "unit_price_micros": progress.unit_price,
                },
            },
            cost_micros=progress.cost,
            headers=progress.rate_headers,
        )

    async def _deliver(self, request: ImageRequest, images: list, created: int) -> list[dict[str, Any]]:  # type: ignore[type-arg]
        if request.response_format == "b64_json":
            return [
                {"b64_json": base64.b64encode(img.data).decode("ascii"), "revised_prompt": img.revised_prompt}
                for img in images
            ]
        ext = request.output_format
        expires = created + self._url_ttl
        ids = [new_id("img") for _ in images]
        await asyncio.gather(*(self._store.put(image_id, ext, img.data) for image_id, img in zip(ids, images)))
        return [
            {"url": self._store.url_for(image_id, ext, expires), "revised_prompt": img.revised_prompt}
            for image_id, img in zip(ids, images)
        ]

    async def _record(
        self,
        principal: Principal,
        request_id: str,
        progress: _Progress,
        outcome: Outcome,
        status: int,
        error_code: str | None,
    ) -> None:
        request = progress.request
        record = UsageRecord(
            id=request_id,
            account_id=principal.account_id,
            key_id=principal.key_id,
            model=request.model.id if request else None,
            route=outcome.route,
            attempts=outcome.attempts,
            n=request.n if request else None,
            delivered=progress.delivered,
            size=request.size if request else None,
            quality=request.quality if request else None,
            status=status,
            error_code=error_code,
            cost_micros=progress.cost if status == 200 else 0,
            unit_price_micros=progress.unit_price,
            latency_ms=int((time.monotonic() - progress.started) * 1000),
            user=request.user if request else None,
            created_at=utcnow(),
        )
        try:
            await asyncio.shield(self._usage.record(record))
        except Exception:  # the answer matters more than its usage row; the ledger is already right
            log.exception("could not write the usage record of request %s", request_id)


__all__ = ["GenerationResult", "ImageService"]
