"""POST /v1/images/generations (at once, or as an async job with `Prefer: respond-async`) and
POST /v1/images/quote (JSON, or an edit's multipart parts)"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...service.jobs import JobAccepted
from ...service.settlement import GenerationResult
from ...service.streaming import ImageStream
from ..auth import authenticate
from ..event_stream import EventStreamResponse
from ..gateway import gateway
from ..multipart import is_multipart, read_multipart
from ..prefer import prefers_async
from ..responses import FastJSONResponse

router = APIRouter()


async def generate_images(request: Request) -> FastJSONResponse | EventStreamResponse:
    principal = await authenticate(request)
    if prefers_async(request):
        accepted = await gateway(request).jobs.submit_generation(
            await request.body(),
            principal,
            request.state.request_id,
            idempotency_key=request.headers.get("idempotency-key"),
            summary=getattr(request.state, "summary", None),
        )
        return job_response(accepted)
    result = await gateway(request).images.generate(
        await request.body(),
        principal,
        request.state.request_id,
        idempotency_key=request.headers.get("idempotency-key"),
        summary=getattr(request.state, "summary", None),
    )
    if isinstance(result, ImageStream):
        return EventStreamResponse(result)
    return image_response(result)


def image_response(result: GenerationResult) -> FastJSONResponse:
    """The 200 of a generation or an edit, with the cost and partial-result headers."""
    headers = {**result.headers, "x-imagegate-cost-micros": str(result.cost_micros)}
    if result.replayed:
        headers["idempotent-replayed"] = "true"
    if result.images_missing:
        headers["x-imagegate-images-missing"] = str(result.images_missing)
    return FastJSONResponse(result.body, headers=headers)


def job_response(accepted: JobAccepted) -> FastJSONResponse:
    """The 202 of an accepted async job (`Prefer: respond-async`), pointing at where to poll it."""
    headers = {**accepted.headers, "preference-applied": "respond-async", "location": accepted.location}
    if accepted.replayed:
        headers["idempotent-replayed"] = "true"
    return FastJSONResponse(accepted.body, status_code=202, headers=headers)


# A plain Starlette route: the endpoint takes the raw Request, so FastAPI's dependency solving and
# request wrapping would be pure per-request overhead. Errors still reach the app's handlers.
router.add_route("/v1/images/generations", generate_images, methods=["POST"], include_in_schema=False)


@router.post("/v1/images/quote")
async def quote_images(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    if is_multipart(request):  # an edit's parts: quoted as that edit
        fields, files = await read_multipart(request)
        return await gateway(request).images.quote_edit(fields, files, principal)
    return await gateway(request).images.quote(await request.body(), principal)
