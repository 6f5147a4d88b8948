"""The Responses API surface: POST /v1/responses with the `image_generation` tool (answered at once or
streamed), and GET and DELETE /v1/responses/{response_id} (answers are kept 24 hours).

A request's body is read into an operation (a generation; an edit when it names an image to start
from) and run through `http.operations.run_operation`, so its price, hold, refusals, idempotency and
usage record (surface `responses`) are the Images API's. Its answers are OpenAI's Response object
and stream events (`ResponsesCall`, `service.responses.stream`); a completed one is kept before it
is answered, so a follow-up naming it as `previous_response_id` finds it.
"""

from __future__ import annotations

import binascii
from typing import Any

import pybase64
from fastapi import APIRouter, Request

from ...domain.edit_request import Upload, edit_model, text_fields
from ...domain.errors import InvalidRequest, RequestTooLarge
from ...domain.ids import new_id
from ...domain.json_body import parse_json_object
from ...domain.principal import Principal
from ...domain.responses_answer import from_images_body
from ...domain.responses_request import EarlierImage, ResponsesRequest, parse_responses_request
from ...domain.text import check_id
from ...service.images.operations import Edit, Generate, Operation
from ...service.images.settlement import GenerationResult
from ...service.images.streaming import ImageStream
from ...service.jobs.jobs import JobAccepted
from ...service.responses.stream import ResponsesEvents
from ...wiring import Gateway
from ..auth import authenticate
from ..event_stream import EventStreamResponse
from ..gateway import gateway
from ..operations import run_operation
from ..responses import FastJSONResponse

router = APIRouter()

IMAGE_BODY_PATHS = ("/v1/responses",)
"""Paths whose JSON bodies may carry images inline (as large as an edit's: `IMAGEGATE_EDIT_MAX_BODY_BYTES`)."""


class ResponsesCall:
    """One `POST /v1/responses`: reads its body into an operation, then answers in the Responses
    API's shapes (its `SurfaceAnswers`)."""

    def __init__(self, request: Request) -> None:
        self._http = request
        self._principal: Principal | None = None
        self.wire: ResponsesRequest | None = None
        self._completed: dict[str, Any] | None = None
        """A completed Response to keep before it is answered."""

    async def read(self) -> Operation:
        request = self._http
        principal = self._principal = await authenticate(request)
        body = parse_json_object(await request.body())
        self.wire = parse_responses_request(body, gateway(request).catalog.models)
        return await _operation(gateway(request), self.wire, principal)

    def rename(self, exc: InvalidRequest) -> None:
        """Name the field of an error as this request gave it (`size` -> `tools[0].size`)."""
        if self.wire is not None and exc.param in self.wire.params:
            exc.param = self.wire.params[exc.param]

    async def keep(self) -> None:
        if self._completed is not None and self._principal is not None:
            await gateway(self._http).responses.keep(self._principal, self._completed)

    def result(self, result: GenerationResult) -> FastJSONResponse:
        assert self.wire is not None
        body = from_images_body(new_id("resp"), new_id("ig"), self.wire, self.wire.fields["model"], result.body)
        if self.wire.store:
            self._completed = body
        headers = {**result.headers, "x-imagegate-cost-micros": str(result.cost_micros)}
        if result.replayed:
            headers["idempotent-replayed"] = "true"
        return FastJSONResponse(body, headers=headers)

    def accepted(self, accepted: JobAccepted) -> FastJSONResponse:
        raise AssertionError("the Responses surface runs no async jobs (run_operation is called with async_jobs=False)")

    def stream(self, stream: ImageStream) -> EventStreamResponse:
        assert self.wire is not None and self._principal is not None
        wire, principal, responses = self.wire, self._principal, gateway(self._http).responses

        async def keep(body: dict[str, Any]) -> None:
            await responses.keep(principal, body)

        keepalive = gateway(self._http).stream_keepalive_seconds
        return EventStreamResponse(
            stream,
            lambda emit: ResponsesEvents(emit, stream, wire, keep if wire.store else None),
            keepalive_seconds=keepalive,
        )


async def _operation(gw: Gateway, wire: ResponsesRequest, principal: Principal) -> Operation:
    """A generation, or (the tool's `action` allowing) an edit of the images the request names:
    refused as cheaply as possible (the model edits, the count) before any image is read."""
    fields = {**wire.fields, "response_format": "b64_json"}
    if wire.action == "edit" and not wire.image_count:
        raise InvalidRequest(
            "The tool's action is 'edit' but the request names no image: send an input_image or 'previous_response_id'.",
            param=wire.params["action"],
        )
    if wire.action == "generate" or not wire.image_count:
        if wire.mask is not None:
            raise InvalidRequest(
                "'input_image_mask' applies to an edit: send an image to edit.", param=wire.params["mask"]
            )
        return Generate({name: value for name, value in fields.items() if name != "input_fidelity"})
    model = edit_model({"model": wire.fields["model"]}, gw.catalog.models)
    limit = model.capabilities.extra.max_input_images
    if wire.image_count > limit:
        raise InvalidRequest(
            f"The model '{model.id}' takes at most {limit} input images; this request names {wire.image_count}.",
            param="input",
        )
    max_bytes = min(gw.edit_max_image_bytes, model.capabilities.extra.max_input_image_bytes)
    uploads = []
    if wire.previous_response_id is not None:
        uploads.append(await gw.responses.image_of(principal, wire.previous_response_id))
    if wire.earlier is not None:
        uploads.append(Upload("image", wire.earlier.param, _earlier_bytes(wire.earlier, max_bytes)))
    uploads += [Upload("image", ref.param, await gw.image_inputs.read(ref, max_bytes)) for ref in wire.images]
    if wire.mask is not None:
        uploads.append(Upload("mask", wire.mask.param, await gw.image_inputs.read(wire.mask, max_bytes)))
    return Edit(text_fields(fields), uploads)


def _earlier_bytes(earlier: EarlierImage, max_bytes: int) -> bytes:
    """An earlier image's base64, decoded: 413 when it would pass `max_bytes` (judged from its length first)."""
    text = earlier.b64.strip()
    if len(text) * 3 // 4 - 2 > max_bytes:
        raise RequestTooLarge(
            f"The image in '{earlier.param}' is larger than the {max_bytes} bytes an input image may be for this model.",
            param=earlier.param,
        )
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"'{earlier.param}' is not base64.", param=earlier.param) from None


async def create_response(request: Request) -> Any:
    call = ResponsesCall(request)
    try:
        answer = await run_operation(request, call.read, "responses", call, async_jobs=False)
    except InvalidRequest as exc:
        call.rename(exc)
        raise
    await call.keep()
    return answer


async def get_response(request: Request) -> FastJSONResponse:
    principal = await authenticate(request)
    response_id = check_id(request.path_params["response_id"], "response_id")
    return FastJSONResponse(await gateway(request).responses.get(principal, response_id))


async def delete_response(request: Request) -> FastJSONResponse:
    principal = await authenticate(request)
    response_id = check_id(request.path_params["response_id"], "response_id")
    return FastJSONResponse(await gateway(request).responses.delete(principal, response_id))


router.add_route("/v1/responses", create_response, methods=["POST"], include_in_schema=False)
router.add_route("/v1/responses/{response_id}", get_response, methods=["GET"], include_in_schema=False)
router.add_route("/v1/responses/{response_id}", delete_response, methods=["DELETE"], include_in_schema=False)

__all__ = ["IMAGE_BODY_PATHS", "ResponsesCall", "router"]
