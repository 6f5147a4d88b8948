"""POST /v1/images/edits (multipart, as the openai SDK's `images.edit` sends it); with
`Prefer: respond-async`, an async job."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...service.streaming import ImageStream
from ..auth import authenticate
from ..event_stream import EventStreamResponse
from ..gateway import gateway
from ..multipart import read_multipart
from ..prefer import prefers_async
from ..responses import FastJSONResponse
from .images import image_response, job_response

router = APIRouter()

UPLOAD_PATHS = ("/v1/images/edits", "/v1/images/quote")
"""Paths whose multipart bodies may be as large as an edit's (`IMAGEGATE_EDIT_MAX_BODY_BYTES`)."""


async def edit_images(request: Request) -> FastJSONResponse | EventStreamResponse:
    principal = await authenticate(request)
    fields, files = await read_multipart(request)
    if prefers_async(request):
        accepted = await gateway(request).jobs.submit_edit(
            fields,
            files,
            principal,
            request.state.request_id,
            idempotency_key=request.headers.get("idempotency-key"),
            summary=getattr(request.state, "summary", None),
        )
        return job_response(accepted)
    result = await gateway(request).images.edit(
        fields,
        files,
        principal,
        request.state.request_id,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    if isinstance(result, ImageStream):
        return EventStreamResponse(result)
    return image_response(result)


router.add_route("/v1/images/edits", edit_images, methods=["POST"], include_in_schema=False)


__all__ = ["UPLOAD_PATHS", "edit_images", "router"]
