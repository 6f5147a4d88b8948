"""A fake Azure OpenAI image deployment: ``POST /openai/deployments/{deployment}/images/generations?api-version=…``.

Follows shared/reference/providers.md section 2: the ``api-key`` header, the deployment in the path,
``api-version`` required, the OpenAI generation body (checked by ``fake_openai.validate_generation``,
``model`` optional) except that ``output_format`` is only ``png`` or ``jpeg``. Errors use Azure's
envelopes: ``{"error": {"code": "401", …}}`` for a bad key, ``{"error": {"code": "429", …}}`` plus
``Retry-After`` when throttled, ``content_policy_violation`` with ``inner_error.code``
``ResponsibleAIPolicyViolation`` for a blocked prompt. ``GET /openai/models?api-version=…`` ("Models -
List") lists the deployments for the right key (401 for another).

Behaviours (transport kinds in ``server.py``): server_error, rate_limit (``retry_after``),
invalid_key, content_policy, moderation_blocked (``stage``), content_filter (the older
``contentFilter`` shape), bad_param (``param``), malformed_json, bad_b64, truncated_image,
wrong_size (``size``), fewer_images.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.upstreams.fake_openai import ApiError, validate_generation
from tests.upstreams.server import FakeUpstream, Incoming, Response, b64, json_response, solid_image, truncated

PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/images/generations$")
AZURE_FORMATS = ("png", "jpeg")


class _AzureError(Exception):
    def __init__(self, status: int, error: dict[str, Any], headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.body = {"error": error}
        self.headers = headers or []


class FakeAzure(FakeUpstream):
    NAME = "fake-azure"
    BEHAVIOURS: ClassVar[dict[str, tuple[str, ...]]] = {
        "server_error": (),
        "rate_limit": ("retry_after",),
        "invalid_key": (),
        "content_policy": (),
        "moderation_blocked": ("stage",),
        "content_filter": (),
        "bad_param": ("param",),
        "malformed_json": (),
        "bad_b64": (),
        "truncated_image": (),
        "wrong_size": ("size",),
        "fewer_images": (),
    }

    def __init__(
        self, api_key: str = "azure-fake-key", deployments: tuple[str, ...] = ("gpt-image-2",), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.deployments = deployments

    @property
    def endpoint(self) -> str:
        return self.url

    def takes_behaviour(self, inc: Incoming) -> bool:
        return inc.method == "POST" and PATH.match(inc.path) is not None

    async def answer(self, inc: Incoming, behaviour: dict[str, Any], request_id: str) -> Response:
        if inc.path == "/openai/models" and inc.method == "GET":  # "Models - List": the cheap authenticated call
            return self._models(inc, request_id)
        try:
            body = self._check(inc)
            _raise_scripted(behaviour, request_id)
            params = validate_generation(body, "high")
            if params.output_format not in AZURE_FORMATS:
                raise _AzureError(
                    400,
                    {
                        "code": "invalid_value",
                        "type": "invalid_request_error",
                        "param": "output_format",
                        "message": "Invalid value for 'output_format': supported values are 'png' and 'jpeg'.",
                    },
                )
        except _AzureError as exc:
            return json_response(exc.status, exc.body, [("apim-request-id", request_id), *exc.headers])
        except ApiError as exc:  # the OpenAI body rules: same envelope on Azure
            return json_response(exc.status, exc.body, [("apim-request-id", request_id)])
        return self._success(params, behaviour)

    def _models(self, inc: Incoming, request_id: str) -> Response:
        headers = [("apim-request-id", request_id)]
        if inc.headers.get("api-key") != self.api_key:
            return json_response(
                401,
                {
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid subscription key or wrong API endpoint.",
                    }
                },
                headers,
            )
        if not parse_qs(inc.query).get("api-version"):
            return json_response(404, {"error": {"code": "404", "message": "Resource not found"}}, headers)
        data = [
            {
                "id": d,
                "object": "model",
                "status": "succeeded",
                "created_at": 1745000000,
                "capabilities": {"inference": True},
                "lifecycle_status": "generally-available",
            }
            for d in self.deployments
        ]
        return json_response(200, {"data": data, "object": "list"}, headers)

    def _check(self, inc: Incoming) -> dict[str, Any]:
        match = PATH.match(inc.path)
        if match is None or inc.method != "POST":
            raise _AzureError(404, {"code": "404", "message": "Resource not found"})
        if inc.headers.get("api-key") != self.api_key:
            raise _AzureError(
                401,
                {
                    "code": "401",
                    "message": (
                        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
                        "for an active subscription and use a correct regional API endpoint for your resource."
                    ),
                },
            )
        if not parse_qs(inc.query).get("api-version"):
            raise _AzureError(404, {"code": "404", "message": "Resource not found"})
        if match["deployment"] not in self.deployments:
            raise _AzureError(
                404,
                {
                    "code": "DeploymentNotFound",
                    "message": (
                        "The API deployment for this resource does not exist. If you created the deployment within the last "
                        "5 minutes, please wait a moment and try again."
                    ),
                },
            )
        body = inc.json
        if isinstance(body, dict) and "model" not in body:
            body = {**body, "model": match["deployment"]}
        return body  # type: ignore[no-any-return]

    def _success(self, p: Any, b: dict[str, Any]) -> Response:
        kind = b["kind"]
        width, height = p.width, p.height
        if kind == "wrong_size":
            width, height = (int(x) for x in str(b.get("size") or "512x512").split("x"))
        count = max(0, p.n - 1) if kind == "fewer_images" else p.n
        items = []
        for index in range(count):
            data = solid_image(width, height, p.output_format, index)
            encoded = b64(truncated(data) if kind == "truncated_image" else data)
            items.append({"b64_json": "!!not*base64@@" + encoded[:20] if kind == "bad_b64" else encoded})
        body = {
            "created": int(time.time()),
            "background": "opaque",
            "output_format": p.output_format,
            "quality": p.quality,
            "size": p.size,
            "data": items,
            "usage": {"input_tokens": 50, "output_tokens": 1056 * count, "total_tokens": 50 + 1056 * count},
        }
        raw = json.dumps(body).encode()
        if kind == "malformed_json":
            raw = raw[: len(raw) // 2]
        return Response(200, raw, [("content-type", "application/json")])


def _raise_scripted(b: dict[str, Any], request_id: str) -> None:
    kind = b["kind"]
    if kind == "server_error":
        raise _AzureError(
            500,
            {
                "code": "InternalServerError",
                "message": "The server had an error while processing your request. Sorry about that!",
            },
        )
    if kind == "rate_limit":
        wait = b.get("retry_after", 20)
        raise _AzureError(
            429,
            {
                "code": "429",
                "message": (
                    "Requests to the Images_Generations_Create Operation under Azure OpenAI API version 2025-04-01-preview "
                    f"have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after {wait} seconds."
                ),
            },
            [("retry-after", str(wait))],
        )
    if kind == "invalid_key":
        raise _AzureError(
            401, {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint."}
        )
    if kind == "content_policy":
        raise _AzureError(
            400,
            {
                "code": "content_policy_violation",
                "type": "invalid_request_error",
                "param": None,
                "message": "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
                "inner_error": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_results": {
                        "sexual": {"filtered": True, "severity": "medium"},
                        "jailbreak": {"detected": False, "filtered": False},
                    },
                },
            },
        )
    if kind == "moderation_blocked":
        raise _AzureError(
            400,
            {
                "code": "moderation_blocked",
                "type": "image_generation_user_error",
                "param": None,
                "message": f"Your request was rejected by the safety system. If you believe this is an error, open an Azure support ticket with the request ID {request_id}.",
                "moderation_details": {"moderation_stage": b.get("stage", "input"), "categories": ["violence"]},
            },
        )
    if kind == "content_filter":
        raise _AzureError(
            400, {"code": "contentFilter", "message": "Your task failed as a result of our safety system."}
        )
    if kind == "bad_param":
        param = b.get("param", "size")
        raise _AzureError(
            400,
            {
                "code": "invalid_value",
                "type": "invalid_request_error",
                "param": param,
                "message": f"Invalid value for '{param}'.",
            },
        )


__all__ = ["FakeAzure"]
