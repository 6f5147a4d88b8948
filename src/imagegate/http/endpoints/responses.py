"""The Responses API surface: POST /v1/responses with the `image_generation` tool (answered at once or
streamed), and GET and DELETE /v1/responses/{response_id} (answers are kept 24 hours).

A request's body is read into an operation (a generation; an edit when it names an image to start
from) and run through `http.operations.run_operation`, so its price, hold, refusals, idempotency and
usage record (surface `responses`) are the Images API's. Its answers are OpenAI's Response object
and stream events (`ResponsesCall`, `service.responses_stream`); a completed one is kept before it
is answered, so a follow-up naming it as `previous_response_id` finds it.
"""

from __future__ import annotations

import binascii
from typing import Any

import pybase64
from fastapi import APIRouter, Request

from ...domain.edit_request import Upload
from ...domain.errors import GatewayError, InvalidRequest
from ...domain.json_body import parse_json_object
from ...domain.principal import Principal
from ...domain.responses_answer import from_images_body
from ...domain.responses_request import ImageRef, ResponsesRequest, parse_responses_request
from ...domain.text import check_id
from ...ids import new_id
from ...service.jobs import JobAccepted
from ...service.operations import Edit, Generate, Operation
from ...service.responses_stream import ResponsesEvents
from ...service.settlement import GenerationResult
from ...service.streaming import ImageStream
from ..auth import authenticate
from ..event_stream import EventStreamResponse
from ..gateway import gateway
from ..operations import run_operation
from ..prefer import prefers_async
from ..responses import FastJSONResponse

router = APIRouter()


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
        if prefers_async(request):
            raise InvalidRequest(
                "The Responses API is answered at once or streamed here: send it without 'Prefer: "
                "respond-async' (the Images API's endpoints run async jobs).",
                code="unsupported_parameter",
                param="Prefer",
            )
        self._principal = await authenticate(request)
        body = parse_json_object(await request.body())
        wire = self.wire = parse_responses_request(body, gateway(request).settings.catalog)
        images = await self._images(wire)
        if wire.action == "edit" and not images:
            raise InvalidRequest(
                "The tool's action is 'edit' but the request names no image: send an input_image or "
                "'previous_response_id'.",
                param=wire.params["action"],
            )
        if images and wire.action != "generate":
            mask = [] if wire.mask is None else [_upload("mask", _image_bytes(wire.mask))]
            return Edit(_as_text({**wire.fields, "response_format": "b64_json"}), images + mask)
        if wire.mask is not None:
            raise InvalidRequest(
                "'input_image_mask' applies to an edit: send an image to edit.", param=wire.params["mask"]
            )
        fields = {name: value for name, value in wire.fields.items() if name != "input_fidelity"}
        return Generate({**fields, "response_format": "b64_json"})

    async def _images(self, wire: ResponsesRequest) -> list[Upload]:
        """What an edit starts from: `previous_response_id`'s image, then the images the input names."""
        images = []
        if wire.previous_response_id is not None:
            assert self._principal is not None
            images.append(await gateway(self._http).responses.image_of(self._principal, wire.previous_response_id))
        images += [_upload("image", _image_bytes(ref)) for ref in wire.images]
        return images

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
        """Never reached: `read` refuses `Prefer: respond-async` before a job is made."""
        raise GatewayError("The Responses API does not run async jobs.")

    def stream(self, stream: ImageStream) -> EventStreamResponse:
        assert self.wire is not None and self._principal is not None
        wire, principal, responses = self.wire, self._principal, gateway(self._http).responses

        async def keep(body: dict[str, Any]) -> None:
            await responses.keep(principal, body)

        return EventStreamResponse(
            stream, lambda emit: ResponsesEvents(emit, stream, wire, keep if wire.store else None)
        )


def _image_bytes(ref: ImageRef) -> bytes:
    if ref.b64 is not None:
        try:
            return pybase64.b64decode(ref.b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"'{ref.param}' is not base64.", param=ref.param) from None
    raise InvalidRequest(  # reading input_image URLs lands with the chat surface's image reader
        "Input images by URL are not read yet.", code="unsupported_parameter", param=ref.param
    )


def _upload(field: str, data: bytes) -> Upload:
    return Upload(field, f"{field}.bin", data)


def _as_text(fields: dict[str, Any]) -> dict[str, str]:
    """The fields as an edit's multipart parts carry them (`true`, `2`)."""
    return {
        name: ("true" if value is True else "false" if value is False else str(value)) for name, value in fields.items()
    }


async def create_response(request: Request) -> Any:
    call = ResponsesCall(request)
    try:
        answer = await run_operation(request, call.read, "responses", call)
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

__all__ = ["ResponsesCall", "router"]
