"""The image use cases: a principal asks for images, and the request runs the one pipeline,
admission -> its operation's upstream call -> delivery -> settlement (design.md, "One request").

Every exit before settlement releases the hold, so a failed request never costs money. A further
operation (an edit, a streamed generate) is another parser and upstream call run through `_run`,
with the same admission and settlement; a streamed one (`service.streaming`) runs its upstream call
and settlement while its events are sent. An async job (`service.jobs`) is admitted at submit
(`admit`) and runs `execute` later, on any node's worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..db.images import ImageOwner
from ..domain.catalog import Catalog
from ..domain.edit_request import Upload
from ..domain.errors import InvalidRequest, UpstreamFailed
from ..domain.json_body import parse_json_object
from ..domain.principal import Principal
from ..domain.request import ImageRequest, parse_image_request
from ..heap import after_image
from ..routing.router import Routed, Router
from .admission import Admission, Admitted, Replay, Ticket, check_idempotency_key
from .delivery import Delivery
from .edit_preparation import prepare_edit
from .settlement import GenerationResult, Settlement
from .streaming import ImageStream
from .summary import RequestSummary

Prepare = Callable[[], Awaitable[tuple[dict[str, Any], ImageRequest]]]
"""Reads and validates a request: (the body its Idempotency-Key hash covers, the request)."""
UpstreamCall = Callable[[ImageRequest, Principal], Awaitable[Routed]]


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
    ) -> None:
        self._edit_max_image_bytes = edit_max_image_bytes
        self._catalog = catalog
        self._router = router
        self._admission = admission
        self._delivery = delivery
        self._settlement = settlement

    async def quote(self, raw: bytes, principal: Principal) -> dict[str, Any]:
        """The price a generation with this body would be held at now; validates, holds nothing."""
        return await self._quote(parse_image_request(parse_json_object(raw), self._catalog), principal)

    async def quote_edit(self, fields: dict[str, str], files: list[Upload], principal: Principal) -> dict[str, Any]:
        """The price an edit with these parts would be held at now; validates, holds nothing."""
        _, request = await prepare_edit(fields, files, self._catalog, self._edit_max_image_bytes)
        return await self._quote(request, principal)

    async def _quote(self, parsed: ImageRequest, principal: Principal) -> dict[str, Any]:
        priced = await self._admission.price(parsed, principal)
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

    async def generate(
        self,
        raw: bytes,
        principal: Principal,
        request_id: str,
        idempotency_key: str | None = None,
        summary: RequestSummary | None = None,
    ) -> GenerationResult | ImageStream:
        ticket = Ticket(principal, request_id, time.monotonic(), idempotency_key)

        async def prepare() -> tuple[dict[str, Any], ImageRequest]:
            body = parse_json_object(raw)
            return body, parse_image_request(body, self._catalog)

        return await self._run(ticket, prepare, self._router.generate, summary)

    async def edit(
        self,
        fields: dict[str, str],
        files: list[Upload],
        principal: Principal,
        request_id: str,
        idempotency_key: str | None = None,
        summary: RequestSummary | None = None,
    ) -> GenerationResult | ImageStream:
        """`POST /v1/images/edits`: the multipart parts, priced, held, billed and stored like a generation."""
        ticket = Ticket(principal, request_id, time.monotonic(), idempotency_key)

        async def prepare() -> tuple[dict[str, Any], ImageRequest]:
            return await prepare_edit(fields, files, self._catalog, self._edit_max_image_bytes)

        return await self._run(ticket, prepare, self._router.edit, summary)

    async def _run(
        self, ticket: Ticket, prepare: Prepare, upstream: UpstreamCall, summary: RequestSummary | None
    ) -> GenerationResult | ImageStream:
        """The request's answer, or (`stream: true`) its admitted stream, which then owns the hold.
        `summary` (for the access log) learns the model, and the images and cost once settled."""
        summary = summary or RequestSummary()
        admitted, request = await self.admit(ticket, prepare, summary)
        if isinstance(admitted, Replay):
            return await self._settlement.replayed(ticket, request, admitted)
        if request.stream:
            return ImageStream(admitted, self._router.stream, self._admission, self._settlement)
        return await self.execute(admitted, upstream, summary)

    async def admit(
        self, ticket: Ticket, prepare: Prepare, summary: RequestSummary, *, job_hold_ttl: int | None = None
    ) -> tuple[Admitted | Replay, ImageRequest]:
        """Read and validate the request, then admission: what it took, or the refusal (recorded).
        `job_hold_ttl`: admitted as an async job (its hold is the job's, living that long)."""
        request: ImageRequest | None = None
        try:
            if ticket.idempotency_key is not None:  # a header the database cannot store: refused first
                check_idempotency_key(ticket.idempotency_key)
            body, request = await prepare()
            summary.model = request.model.id
            if request.stream and ticket.idempotency_key is not None:
                raise InvalidRequest(
                    "An Idempotency-Key cannot be used with 'stream': true (a stream cannot be replayed).",
                    param="Idempotency-Key",
                )
            admitted = await self._admission.admit(ticket, request, body, job_hold_ttl=job_hold_ttl)
        except BaseException as exc:
            await asyncio.shield(self._settlement.refused(ticket, request, exc))
            raise
        return admitted, request

    async def execute(
        self,
        admitted: Admitted,
        upstream: UpstreamCall,
        summary: RequestSummary | None = None,
        *,
        release_on_cancel: bool = True,
    ) -> GenerationResult:
        """An admitted request's upstream call, delivery and settlement; on any failure its hold is
        released and nothing billed. A sync request runs it at once, an async job on a worker (which
        keeps the hold when its node stops: `release_on_cancel=False`, the job is queued again)."""
        request, ticket = admitted.request, admitted.ticket
        routed: Routed | None = None
        try:
            routed = await upstream(request, ticket.principal)
            if routed.error is not None:
                raise routed.error
            images = routed.images[: request.n]
            if not images:  # the router never returns without images; never answer 200 with empty data
                raise UpstreamFailed("The upstream delivered no images. Nothing was charged.")
            charge = self._settlement.charge(admitted, images)
            created = int(time.time())
            owner = ImageOwner(ticket.principal.account_id, ticket.request_id, request.model.id, request.size)
            data = await self._delivery.deliver(request, images, created, owner)
            after_image(request.width, request.height)
            result = await self._settlement.complete(admitted, routed, charge, data, created)
            if summary is not None:
                summary.images, summary.cost_micros = charge.images, charge.amount
            return result
        except BaseException as exc:
            if release_on_cancel or not isinstance(exc, asyncio.CancelledError):
                await asyncio.shield(self._settlement.abandon(admitted, routed, exc))
            raise
        finally:
            await self._admission.leave(admitted)

    def upstream_for(self, operation: str) -> UpstreamCall:
        """The router's call for an operation by name (`generate` or `edit`), as a job stores it."""
        return self._router.edit if operation == "edit" else self._router.generate

    def parse_generation(self, body: dict[str, Any]) -> ImageRequest:
        """A stored generation body, validated again against the catalog (a job rebuilt on a worker)."""
        return parse_image_request(body, self._catalog)

    async def parse_edit(self, fields: dict[str, str], files: list[Upload]) -> tuple[dict[str, Any], ImageRequest]:
        """An edit's parts as `prepare_edit` reads them: (the Idempotency-Key's body, the request)."""
        return await prepare_edit(fields, files, self._catalog, self._edit_max_image_bytes)

    async def leave(self, admitted: Admitted) -> None:
        """Free an admitted request's in-flight slot (an accepted job no longer holds a connection)."""
        await self._admission.leave(admitted)


__all__ = ["GenerationResult", "ImageService", "ImageStream"]
