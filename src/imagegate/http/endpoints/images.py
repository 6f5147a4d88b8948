"""The Images API surface: POST /v1/images/generations and POST /v1/images/edits (each at once, as
an async job with `Prefer: respond-async`, or streamed), and POST /v1/images/quote (JSON, or an
edit's multipart parts). Each reads its body into an operation (`Generate`, `Edit`) and runs it
through `http.operations.run_operation`, answered in the Images API's shapes (`IMAGES_API`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...service.images.operations import Edit, Generate, Operation
from ...service.images.settlement import GenerationResult
from ...service.images.streaming import ImagesApiEvents, ImageStream
from ...service.jobs.jobs import JobAccepted
from ..auth import authenticate
from ..event_stream import EventStreamResponse
from ..gateway import gateway
from ..multipart import is_multipart, read_multipart
from ..operations import run_operation
from ..responses import FastJSONResponse

router = APIRouter()

UPLOAD_PATHS = ("/v1/images/edits", "/v1/images/quote")
"""Paths whose multipart bodies may be as large as an edit's (`IMAGEGATE_EDIT_MAX_BODY_BYTES`)."""


class ImagesApiAnswers:
    """The Images API's answers: the 200 body, the 202 job, OpenAI's image stream events."""

    def result(self, result: GenerationResult) -> FastJSONResponse:
        """The 200 of a generation or an edit, with the cost and partial-result headers."""
        headers = {**result.headers, "x-imagegate-cost-micros": str(result.cost_micros)}
        if result.replayed:
            headers["idempotent-replayed"] = "true"
        if result.images_missing:
            headers["x-imagegate-images-missing"] = str(result.images_missing)
        return FastJSONResponse(result.body, headers=headers)

    def accepted(self, accepted: JobAccepted) -> FastJSONResponse:
        """The 202 of an accepted async job (`Prefer: respond-async`), pointing at where to poll it."""
        headers = {**accepted.headers, "preference-applied": "respond-async", "location": accepted.location}
        if accepted.replayed:
            headers["idempotent-replayed"] = "true"
        return FastJSONResponse(accepted.body, status_code=202, headers=headers)

    def stream(self, stream: ImageStream) -> EventStreamResponse:
        return EventStreamResponse(stream, lambda emit: ImagesApiEvents(emit, stream))


IMAGES_API = ImagesApiAnswers()


async def read_generation(request: Request) -> Operation:
    return Generate.from_json(await request.body())


async def read_edit(request: Request) -> Operation:
    return Edit(*await read_multipart(request))


# Plain Starlette routes: the endpoints take the raw Request, so FastAPI's dependency solving and
# request wrapping would be pure per-request overhead. Errors still reach the app's handlers.
async def generate_images(request: Request) -> Any:
    return await run_operation(request, lambda: read_generation(request), "images", IMAGES_API)


async def edit_images(request: Request) -> Any:
    return await run_operation(request, lambda: read_edit(request), "images", IMAGES_API)


router.add_route("/v1/images/generations", generate_images, methods=["POST"], include_in_schema=False)
router.add_route("/v1/images/edits", edit_images, methods=["POST"], include_in_schema=False)


@router.post("/v1/images/quote")
async def quote_images(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    read = read_edit if is_multipart(request) else read_generation  # an edit's parts: quoted as that edit
    return await gateway(request).images.quote(lambda: read(request), principal)


__all__ = ["IMAGES_API", "UPLOAD_PATHS", "ImagesApiAnswers", "router"]
