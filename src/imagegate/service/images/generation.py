"""The image use cases: a principal asks for images, and the request runs the one pipeline,
admission -> its operation's upstream call -> delivery -> settlement (design.md, "One request").

Every exit before settlement releases the hold, so a failed request never costs money. What differs
between a generation, an edit or any later operation is the operation (`service.images.operations`), never
this module: `run` takes any. A streamed one (`service.images.streaming`) runs its upstream call and
settlement while its surface sends the events. An async job (`service.jobs.jobs`) is admitted at submit
(`admit`) and runs `execute` later, on any node's worker.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...db.images import ImageOwner
from ...domain.catalog import Catalog
from ...domain.errors import InvalidRequest, UpstreamFailed
from ...domain.principal import Principal
from ...domain.request import ImageRequest
from ...imaging.heap import after_image
from ...routing.router import Routed, Router
from .admission import Admission, Admitted, Replay, Ticket, check_idempotency_key
from .delivery import Delivery
from .operations import Operation, Parsing
from .output_screening import OutputScreen
from .settlement import GenerationResult, Settlement
from .streaming import ImageStream
from .summary import RequestSummary

Read = Callable[[], Operation | Awaitable[Operation]]
"""A surface's reading of its wire body into an operation (`lambda: Generate.from_json(raw)`, or an
async function). It runs inside the request's record keeping: a body it refuses (raising the
contract's error) gets a usage record like any other refusal."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request read and validated, not yet admitted."""

    operation: Operation
    request: ImageRequest
    idempotency_body: dict[str, Any]
    """What the Idempotency-Key's hash covers."""


class ImageService:
    def __init__(
        self,
        catalog: Catalog,
        router: Router,
        admission: Admission,
        delivery: Delivery,
        settlement: Settlement,
        *,
        edit_max_image_bytes: int = 26_214_400,
        output_screen: OutputScreen | None = None,
    ) -> None:
        self._parsing = Parsing(catalog, edit_max_image_bytes)
        self._router = router
        self._admission = admission
        self._delivery = delivery
        self._settlement = settlement
        self._output_screen = output_screen

    async def prepare(self, source: Operation | Read) -> Prepared:
        """Read (a `Read` is called first) and validate an operation's input."""
        operation = source() if callable(source) else source
        if inspect.isawaitable(operation):
            operation = await operation
        body, request = await operation.parse(self._parsing)
        return Prepared(operation, request, body)

    async def validate(self, operation: Operation) -> ImageRequest:
        """A stored operation validated again against today's catalog (a job rebuilt on a worker)."""
        return (await self.prepare(operation)).request

    async def quote(self, source: Operation | Read, principal: Principal) -> dict[str, Any]:
        """The price this request would be held at now; validates, holds nothing."""
        priced = await self._admission.price((await self.prepare(source)).request, principal)
        request = priced.request
        return {
            "object": "image.quote",
            "model": request.model.id,
            "n": request.n,
            "size": request.size,
            "quality": request.quality,
            "unit_price_micros": priced.held_unit,
            "amount_micros": priced.held_unit * request.n,
            "currency": principal.currency,
            **({"live_amount_micros": priced.live_unit * request.n} if principal.is_test else {}),
        }

    async def run(
        self, source: Operation | Read, ticket: Ticket, summary: RequestSummary | None = None
    ) -> GenerationResult | ImageStream:
        """Any operation, answered at once: its result, or (`stream: true`) its admitted stream, which
        then owns the hold. `summary` (for the access log) learns the model, and the images and cost
        once settled."""
        summary = summary or RequestSummary()
        admitted, prepared = await self.admit(ticket, lambda: self.prepare(source), summary)
        if isinstance(admitted, Replay):
            return await self._settlement.replayed(ticket, prepared.request, admitted)
        if prepared.request.stream:
            return ImageStream(
                admitted,
                prepared.operation,
                self._router.stream,
                self._admission,
                self._settlement,
                summary,
                output_screen=self._output_screen,
            )
        return await self.execute(admitted, prepared.operation, summary)

    async def admit(
        self,
        ticket: Ticket,
        prepare: Callable[[], Awaitable[Prepared]],
        summary: RequestSummary,
        *,
        job_hold_ttl: int | None = None,
    ) -> tuple[Admitted | Replay, Prepared]:
        """Read and validate the request, then admission: what it took, or the refusal (recorded).
        `job_hold_ttl`: admitted as an async job (its hold is the job's, living that long)."""
        prepared: Prepared | None = None
        try:
            if ticket.idempotency_key is not None:  # a header the database cannot store: refused first
                check_idempotency_key(ticket.idempotency_key)
            prepared = await prepare()
            request = prepared.request
            summary.model = request.model.id
            if request.stream and ticket.idempotency_key is not None:
                raise InvalidRequest(
                    "An Idempotency-Key cannot be used with 'stream': true (a stream cannot be replayed).",
                    param="Idempotency-Key",
                )
            admitted = await self._admission.admit(
                ticket, request, prepared.idempotency_body, job_hold_ttl=job_hold_ttl
            )
        except BaseException as exc:
            refused = prepared.request if prepared is not None else None
            await asyncio.shield(self._settlement.refused(ticket, refused, exc))
            raise
        return admitted, prepared

    async def execute(
        self,
        admitted: Admitted,
        operation: Operation,
        summary: RequestSummary | None = None,
        *,
        release_on_cancel: bool = True,
    ) -> GenerationResult:
        """An admitted request's upstream call, delivery and settlement; on any failure its hold is
        released and nothing billed. A sync request runs it at once, an async job on a worker (which
        keeps the hold when its node stops: `release_on_cancel=False`, the job is queued again)."""
        request, ticket = admitted.request, admitted.ticket
        routed: Routed | None = None
        made = 0
        try:
            routed = await operation.upstream(self._router)(request, ticket.principal)
            if routed.error is not None:
                raise routed.error
            images = routed.images[: request.n]
            if not images:  # the router never returns without images; never answer 200 with empty data
                raise UpstreamFailed("The upstream delivered no images. Nothing was charged.")
            made = len(images)
            if self._output_screen is not None:
                images = await self._output_screen.screen(images, request, ticket.principal, ticket.request_id)
            charge = self._settlement.charge(admitted, images)
            created = int(time.time())
            owner = ImageOwner(
                ticket.principal.account_id,
                ticket.request_id,
                request.model.id,
                charge.size or request.size,
                prompt=request.prompt,
                quality=charge.quality or request.quality,
                cost_micros=charge.unit_price,
                surface=ticket.surface,
            )
            data = await self._delivery.deliver(request, images, created, owner)
            after_image(request.width, request.height)
            result = await self._settlement.complete(admitted, routed, charge, data, created, lost=made - len(images))
            if summary is not None:
                summary.images, summary.cost_micros = charge.images, charge.amount
            return result
        except BaseException as exc:
            if release_on_cancel or not isinstance(exc, asyncio.CancelledError):
                await asyncio.shield(self._settlement.abandon(admitted, routed, exc, lost=made))
            raise
        finally:
            await self._admission.leave(admitted)

    async def leave(self, admitted: Admitted) -> None:
        """Free an admitted request's in-flight slot (an accepted job no longer holds a connection)."""
        await self._admission.leave(admitted)


__all__ = ["GenerationResult", "ImageService", "ImageStream", "Prepared", "Read"]
