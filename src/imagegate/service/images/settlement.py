"""The settlement step every operation runs after its upstream call: capture the delivered images'
price and release the rest of the hold, finish the idempotency claim, and write the usage record,
or, when the request failed or was refused, give back what admission took. Nothing is billed for a
failure: an async job that ends without handing out its result ends its money in `end_job`, which
refunds a charge already captured."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...db.clock import utcnow
from ...db.idempotency import IdempotencyRepo
from ...db.usage import UsageRecord, UsageRepo
from ...domain.errors import ContentBlocked, GatewayError, JobInterrupted
from ...domain.meter import NULL_METER, Meter
from ...domain.pricing import charged_unit_price
from ...domain.request import ImageRequest
from ...domain.upstream import GeneratedImage
from ...domain.upstream_cost import NOTHING, UpstreamCost
from ...routing.router import Routed
from ..patience import as_gateway_error, while_unreachable
from .admission import Admitted, Replay, Ticket
from .billing import Billing, usd
from .screening import PromptScreen
from .upstream_costs import CostSheets, spend_of

log = logging.getLogger("imagegate.service")

REPLAY_ROUTE = "idempotent-replay"


@dataclass(frozen=True, slots=True)
class GenerationResult:
    body: dict[str, Any]
    cost_micros: int
    replayed: bool = False
    images_missing: int = 0
    """Images asked for but not delivered (a partial result): billed nothing, told in a header."""
    headers: dict[str, str] = field(default_factory=dict)
    """Response headers the service wants sent (rate-limit state)."""


@dataclass(frozen=True, slots=True)
class Charge:
    unit_price: int
    images: int
    size: str | None = None
    """The size delivered, where the upstream picked it (`size: "auto"`)."""
    quality: str | None = None
    """The quality the upstream reports using, where it picked it (`quality: "auto"`)."""
    live_unit_price: int | None = None
    """For a test key: what a live key would have paid per image (shown beside the zero)."""

    @property
    def amount(self) -> int:
        return self.unit_price * self.images


def delivered_fields(request: ImageRequest, charge: Charge) -> dict[str, Any]:
    """OpenAI's top-level `ImagesResponse` fields, as delivered (`size` is the one picked for `auto`)."""
    fields: dict[str, Any] = {"output_format": request.output_format, "size": charge.size or request.size}
    if request.quality is not None:
        fields["quality"] = charge.quality or request.quality
    if request.background != "auto":
        fields["background"] = request.background
    return fields


@dataclass(frozen=True, slots=True)
class _Usage:
    """What the usage record of one request says beyond its ticket."""

    request: ImageRequest | None
    status: int
    error_code: str | None = None
    route: str | None = None
    attempts: int = 0
    delivered: int = 0
    charge: Charge = Charge(0, 0)
    lost: int = 0
    """Images made upstream that the client did not get (the usage record's `lost_images`)."""
    model_named: str | None = None
    """A refused request that never became a request: the catalog model its body named, if read."""
    upstream: UpstreamCost = NOTHING
    """What its upstream calls cost the operator (`upstream_costs.spend_of`, under the live sheets)."""


class Settlement:
    def __init__(
        self,
        billing: Billing,
        usage: UsageRepo,
        idempotency: IdempotencyRepo,
        screen: PromptScreen | None = None,
        meter: Meter = NULL_METER,
        costs: CostSheets | None = None,
    ) -> None:
        """`meter`: counts each request that held nothing (a refusal, a test key, a replay) as its usage is
        recorded; `billing` counts the rest as their holds end. `costs`: the live upstream cost sheets
        (None: the catalog's, as they are)."""
        self._billing = billing
        self._usage = usage
        self._meter = meter
        self._idempotency = idempotency
        self._screen = screen
        self._costs = costs

    async def _upstream_cost(self, request: ImageRequest | None, routed: Routed | None) -> tuple[UpstreamCost, int]:
        """What the request's upstream calls cost; never fails the request (the catalog's sheets then)."""
        if self._costs is None:
            return spend_of(request, routed)
        try:
            return await self._costs.cost_of(request, routed)
        except Exception:
            log.exception("could not read the live upstream cost sheets; the catalog's priced this request")
            return spend_of(request, routed)

    @staticmethod
    def charge(admitted: Admitted, images: list[GeneratedImage]) -> Charge:
        """The price of the delivered images: at the quality the upstream reports using (for `auto`)."""
        priced = admitted.priced
        request = priced.request
        reported = images[0].quality if images else None
        picked = images[0].size if images and request.auto_size else None
        resolved = reported if request.quality == "auto" and reported in request.model.prices else None
        unit = (
            0
            if request.model.free
            else charged_unit_price(request.model, request.quality, reported, picked or request.size, priced.overrides)
        )
        if admitted.ticket.principal.is_test:
            return Charge(0, len(images), picked, resolved, live_unit_price=unit)
        return Charge(unit if priced.billable else 0, len(images), picked, resolved)

    async def complete(
        self,
        admitted: Admitted,
        routed: Routed,
        charge: Charge,
        data: list[dict[str, Any]],
        created: int,
        *,
        lost: int = 0,
    ) -> GenerationResult:
        """Capture `charge`, release the rest of the hold, record the usage, finish the claim.
        `lost`: images made upstream and not delivered (withheld by output screening, or not sent
        to a stream's client that left)."""
        ticket, request = admitted.ticket, admitted.request
        result = GenerationResult(
            body={
                "created": created,
                **delivered_fields(request, charge),
                "data": data,
                "billing": {
                    "images": charge.images,
                    "images_requested": request.n,
                    "amount_micros": charge.amount,
                    "currency": ticket.principal.currency,
                    "unit_price_micros": charge.unit_price,
                    **(
                        {"live_amount_micros": charge.live_unit_price * charge.images}
                        if charge.live_unit_price is not None
                        else {}
                    ),
                },
            },
            cost_micros=charge.amount,
            images_missing=request.n - charge.images,
            headers=admitted.rate_headers,
        )
        cost, made = await self._upstream_cost(request, routed)
        lost = max(lost, made - charge.images)  # also what routing dropped: the wrong size, retried past
        usage = self._record_of(
            ticket,
            _Usage(request, 200, None, routed.route, routed.attempts, charge.images, charge, lost, upstream=cost),
        )
        if admitted.hold_id is not None:
            reason = f"{charge.images} image(s) of {request.model.id}"
            await self._billing.settle(admitted.hold_id, charge.amount, reason, usage=usage)
        else:
            await self._record(usage)
        if admitted.idempotency_claimed:
            await self._finish_claim(ticket, result)
        return result

    async def _finish_claim(self, ticket: Ticket, result: GenerationResult) -> None:
        """Keep the answer for replays. The images are billed by now, so the client gets them even if
        this fails: a failure here must not turn a paid answer into an error."""
        assert ticket.idempotency_key is not None
        key = ticket.idempotency_key

        async def complete() -> None:
            await self._idempotency.complete(
                ticket.principal.account_id,
                key,
                ticket.request_id,
                200,
                orjson.dumps(result.body).decode(),
                result.cost_micros,
                mode=ticket.principal.mode,
            )

        try:
            await while_unreachable(complete, Billing.SETTLE_PATIENCE_SECONDS)
        except Exception:
            log.exception(
                "request %s was billed and answered, but its Idempotency-Key could not be marked done; "
                "a retry with that key after its lock expires would run again",
                ticket.request_id,
            )

    async def abandon(self, admitted: Admitted, routed: Routed | None, exc: BaseException, *, lost: int = 0) -> None:
        """An admitted request failed: release its hold, give its idempotency key back, record it
        (`lost`: the images the upstream had made for it, never handed out). The
        client is answered at once: a hold this cannot release (the database is away) is released by
        the sweeper at its TTL, or, for an async job, by `end_job`, which waits for the database."""
        ticket = admitted.ticket
        await self._audit_block(ticket, admitted.request, exc)
        status, code = _status_of(exc)
        cost, made = await self._upstream_cost(admitted.request, routed)
        record = self._record_of(
            ticket,
            _Usage(
                admitted.request,
                status,
                code,
                routed.route if routed else None,
                routed.attempts if routed else 0,
                lost=max(lost, made),
                upstream=cost,
            ),
        )
        try:
            if admitted.hold_id is not None:
                await self._billing.release(admitted.hold_id, usage=record)
            else:
                await self._record_usage(record)
        except Exception:  # the sweeper releases a hold this could not; the client still gets its error
            log.exception("could not release the hold or record the usage of request %s", ticket.request_id)
        if admitted.idempotency_claimed:
            assert ticket.idempotency_key is not None
            await self._idempotency.give_back(
                ticket.principal.account_id, ticket.idempotency_key, ticket.request_id, mode=ticket.principal.mode
            )

    async def accepted(self, admitted: Admitted, job_body: dict[str, Any]) -> None:
        """An async job was queued: its Idempotency-Key's stored answer is the 202 job body."""
        ticket = admitted.ticket
        if admitted.idempotency_claimed:
            assert ticket.idempotency_key is not None
            await self._idempotency.complete(
                ticket.principal.account_id,
                ticket.idempotency_key,
                ticket.request_id,
                202,
                orjson.dumps(job_body).decode(),
                0,
                mode=ticket.principal.mode,
            )

    async def hold_status(self, hold_id: str) -> str | None:
        """`open`, `settled`, `refunded`, `released` or `expired` (None: no such hold)."""
        return await self._billing.hold_status(hold_id)

    async def end_job(
        self, job_id: str, ticket: Ticket, hold_id: str | None, exc: BaseException, *, recorded: bool = False
    ) -> BaseException:
        """The one way an async job ends its money when it will not hand out a result (it expired, was
        cancelled, its request no longer validates, its run failed, or its node died): an open hold
        is released; a captured one is refunded, since the client never gets those images. The usage
        record says how it ended. Returns the error the job keeps: `exc` (so "nothing was charged" is
        true), or `JobInterrupted` naming the refund. Safe to repeat and to race with a late capture
        of the same hold: each step is conditional on the hold's state, and a refund happens once.
        `recorded`: the run's own `abandon` already wrote the usage record (and released the hold)."""
        exc = as_gateway_error(exc)
        if hold_id is None:  # nothing held (a test key, a free model): only the record
            if not recorded:
                await self._record(self._record_of(ticket, _Usage(None, *_status_of(exc))))
            return exc
        interrupted = self._record_of(ticket, _Usage(None, JobInterrupted.status, JobInterrupted.code))
        reason = f"job {job_id}: billed, but its result was never handed out"

        async def end() -> int | None:
            status = await self._billing.hold_status(hold_id)
            if status == "open":
                await self._billing.release(hold_id, usage=self._record_of(ticket, _Usage(None, *_status_of(exc))))
                status = await self._billing.hold_status(hold_id)  # a late capture may have closed it first
            if status in ("settled", "refunded"):
                return await self._billing.refund(hold_id, reason, usage=interrupted)
            return None

        refunded = await while_unreachable(end, Billing.SETTLE_PATIENCE_SECONDS)
        if not refunded:
            return exc
        log.warning("%s: refunded %d micros", reason, refunded)
        return JobInterrupted(
            f"The job was billed {usd(refunded)}, but its result could not be kept (the node running it "
            "stopped, or the database was away, before it was stored); the charge was refunded. "
            "Submit the request again."
        )

    async def refused(self, ticket: Ticket, request: ImageRequest | None, exc: BaseException) -> None:
        """A request refused before it was admitted (admission gave back what it took): its record."""
        await self._audit_block(ticket, request, exc)
        status, code = _status_of(exc)
        named = exc.model if isinstance(exc, GatewayError) else None
        await self._record(self._record_of(ticket, _Usage(request, status, code, model_named=named)))

    async def replayed(self, ticket: Ticket, request: ImageRequest, replay: Replay) -> GenerationResult:
        await self._record(self._record_of(ticket, _Usage(request, 200, route=REPLAY_ROUTE)))
        billing = replay.body["billing"]
        return GenerationResult(
            replay.body,
            replay.cost_micros,
            replayed=True,
            images_missing=billing["images_requested"] - billing["images"],
            headers=replay.rate_headers,
        )

    async def _audit_block(self, ticket: Ticket, request: ImageRequest | None, exc: BaseException) -> None:
        if isinstance(exc, ContentBlocked) and not exc.recorded and self._screen is not None:
            await self._screen.record_block(exc, ticket.principal, ticket.request_id, request)

    @staticmethod
    def _record_of(ticket: Ticket, usage: _Usage) -> UsageRecord:
        request, principal = usage.request, ticket.principal
        return UsageRecord(
            id=ticket.request_id,
            account_id=principal.account_id,
            key_id=principal.key_id,
            model=request.model.id if request else usage.model_named,
            route=usage.route,
            attempts=usage.attempts,
            n=request.n if request else None,
            delivered=usage.delivered,
            size=(usage.charge.size or request.size) if request else None,  # `auto`: the size delivered
            quality=request.quality if request else None,
            status=usage.status,
            error_code=usage.error_code,
            cost_micros=usage.charge.amount if usage.status == 200 else 0,
            unit_price_micros=usage.charge.unit_price,
            latency_ms=int((time.monotonic() - ticket.started) * 1000),
            user=request.user if request else None,
            surface=ticket.surface,
            created_at=utcnow(),
            lost_images=usage.lost,
            upstream_cost_micros=usage.upstream.micros,
            upstream_cost_estimated=usage.upstream.estimated,
        )

    async def _record_usage(self, record: UsageRecord) -> None:
        await self._usage.record(record)
        self._meter.finished(record)

    async def _record(self, record: UsageRecord) -> None:
        try:
            await asyncio.shield(self._record_usage(record))
        except Exception:  # the answer matters more than its usage row; the ledger is already right
            log.exception("could not write the usage record of request %s", record.id)


def _status_of(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, asyncio.CancelledError):  # the client left (a stream) before anything was delivered
        return 499, "client_disconnected"
    exc = as_gateway_error(exc)  # the database away: 503 database_unavailable, as the client is answered
    return (exc.status, exc.code) if isinstance(exc, GatewayError) else (500, "internal_error")


__all__ = ["Charge", "GenerationResult", "Settlement"]
