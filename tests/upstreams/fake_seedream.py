"""A fake BytePlus ModelArk images API (Seedream): ``POST /api/v3/images/generations``.

Follows shared/reference/providers.md section 4: ``Authorization: Bearer <ARK_API_KEY>``; ``size``
as ``2K``/``4K`` or ``WxH`` inside the model's pixel range (4.5: 3,686,400 to 16,777,216 pixels,
ratio 1/16 to 16); JPEG output as ``url`` (default) or ``b64_json``; ``watermark`` default true;
``sequential_image_generation: auto`` makes ``max_images`` images. Errors are
``{"error": {"code", "message", "param", "type"}}``; failed items of ``data`` carry ``error``.
``GET /api/v3/models`` lists the models for the right key (401 AuthenticationError for another).

Behaviours (transport kinds in ``server.py``): server_error (500 InternalServiceError),
rate_limit (429; ``retry_after`` header), invalid_key (401 AuthenticationError), overdue (403
AccountOverdueError), bad_param (400 InvalidParameter, ``param``), input_text_blocked,
input_image_blocked, sensitive (400 SensitiveContentDetected.SevereViolation), output_blocked
(400 with a top-level OutputImageSensitiveContentDetected), item_errors (``items``: per image
``"ok"`` or an error code, e.g. ``["ok", "OutputImageSensitiveContentDetected"]``; the default is
one output-blocked item), malformed_json, bad_b64, truncated_image, wrong_size (``size``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, ClassVar

from tests.upstreams.reference_images import decode_data_url
from tests.upstreams.server import FakeUpstream, Incoming, Response, b64, json_response, solid_image, truncated

PATH = "/api/v3/images/generations"
MODELS: dict[str, tuple[int, int]] = {
    "seedream-4-5-251128": (3_686_400, 16_777_216),
    "seedream-4-0-250828": (921_600, 16_777_216),
}
TIERS = {"2K": (2048, 2048), "4K": (4096, 4096)}
FIELDS = frozenset(
    {
        "model",
        "prompt",
        "image",
        "size",
        "sequential_image_generation",
        "sequential_image_generation_options",
        "stream",
        "response_format",
        "watermark",
        "seed",
        "guidance_scale",
        "optimize_prompt_options",
        "output_format",
        "tools",
    }
)
ITEM_MESSAGES = {
    "OutputImageSensitiveContentDetected": "The request failed because the output image may contain sensitive information.",
    "InternalServiceError": "The service encountered an unexpected internal error.",
}
SIZE = re.compile(r"^(\d+)x(\d+)$")


class _ArkError(Exception):
    def __init__(self, status: int, type_: str, code: str, message: str, param: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message, "param": param, "type": type_}}


def _bad(code: str, message: str, param: str = "") -> _ArkError:
    return _ArkError(400, "BadRequest", code, message, param)


class FakeSeedream(FakeUpstream):
    NAME = "fake-seedream"
    BEHAVIOURS: ClassVar[dict[str, tuple[str, ...]]] = {
        "server_error": (),
        "rate_limit": ("retry_after",),
        "invalid_key": (),
        "overdue": (),
        "bad_param": ("param",),
        "input_text_blocked": (),
        "input_image_blocked": (),
        "sensitive": (),
        "output_blocked": (),
        "item_errors": ("items",),
        "malformed_json": (),
        "bad_b64": (),
        "truncated_image": (),
        "wrong_size": ("size",),
    }

    def __init__(self, api_key: str = "ark-fake-key", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/v3"

    def takes_behaviour(self, inc: Incoming) -> bool:
        return inc.method == "POST" and inc.path == PATH

    async def answer(self, inc: Incoming, behaviour: dict[str, Any], request_id: str) -> Response:
        rid = f" Request ID: {request_id}"
        if inc.path == "/api/v3/models" and inc.method == "GET":  # the cheap authenticated call
            return self._models(inc, request_id, rid)
        try:
            params = self._check(inc, rid)
            _raise_scripted(behaviour, rid)
        except _ArkError as exc:
            headers = [("retry-after", str(behaviour["retry_after"]))] if behaviour.get("retry_after") else []
            return json_response(exc.status, exc.body, [("x-request-id", request_id), *headers])
        return self._success(params, behaviour)

    def _models(self, inc: Incoming, request_id: str, rid: str) -> Response:
        auth = inc.headers.get("authorization", "")
        if auth[:7].lower() != "bearer " or auth[7:].strip() != self.api_key:
            error = _ArkError(
                401,
                "Unauthorized",
                "AuthenticationError",
                f"The API key or AK/SK in the request is missing or invalid.{rid}",
            )
            return json_response(error.status, error.body, [("x-request-id", request_id)])
        data = [{"id": m, "object": "model", "created": 1745000000, "owned_by": "bytedance"} for m in MODELS]
        return json_response(200, {"object": "list", "data": data}, [("x-request-id", request_id)])

    def _check(self, inc: Incoming, rid: str) -> dict[str, Any]:
        if inc.path != PATH or inc.method != "POST":
            raise _ArkError(404, "NotFound", "NotFound", f"The requested resource was not found.{rid}")
        auth = inc.headers.get("authorization", "")
        if auth[:7].lower() != "bearer " or auth[7:].strip() != self.api_key:
            raise _ArkError(
                401,
                "Unauthorized",
                "AuthenticationError",
                f"The API key or AK/SK in the request is missing or invalid.{rid}",
            )
        body = inc.json
        if not isinstance(body, dict):
            raise _bad("InvalidParameter", f"The request body is not valid JSON.{rid}")
        for name in sorted(set(body) - FIELDS):
            raise _bad("InvalidParameter", f"The parameter `{name}` specified in the request is not valid.{rid}", name)
        for name in ("model", "prompt"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise _bad(
                    "MissingParameter",
                    f"The request failed because it is missing one or multiple required parameters.{rid}",
                    name,
                )
        if body["model"] not in MODELS:
            raise _ArkError(
                404,
                "NotFound",
                "InvalidEndpoint.NotFound",
                f"The model or endpoint {body['model']} does not exist.{rid}",
            )
        width, height = self._size(body.get("size", "2048x2048"), MODELS[body["model"]], rid)
        fmt = body.get("response_format", "url")
        if fmt not in ("url", "b64_json"):
            raise _bad(
                "InvalidParameter",
                f"The parameter `response_format` specified in the request is not valid.{rid}",
                "response_format",
            )
        for name in ("watermark", "stream"):
            if name in body and not isinstance(body[name], bool):
                raise _bad(
                    "InvalidParameter", f"The parameter `{name}` specified in the request is not valid.{rid}", name
                )
        _check_reference_images(body.get("image"), rid)
        count = 1
        if body.get("sequential_image_generation", "disabled") == "auto":
            count = int((body.get("sequential_image_generation_options") or {}).get("max_images", 15))
        return {"width": width, "height": height, "response_format": fmt, "count": count, "model": body["model"]}

    @staticmethod
    def _size(size: Any, bounds: tuple[int, int], rid: str) -> tuple[int, int]:
        if size in TIERS:
            return TIERS[size]
        match = SIZE.match(str(size))
        invalid = _bad("InvalidParameter", f"The parameter `size` specified in the request is not valid.{rid}", "size")
        if match is None:
            raise invalid
        width, height = int(match[1]), int(match[2])
        if not bounds[0] <= width * height <= bounds[1] or not 1 / 16 <= width / height <= 16:
            raise invalid
        return width, height

    def _success(self, p: dict[str, Any], b: dict[str, Any]) -> Response:
        kind = b["kind"]
        width, height = p["width"], p["height"]
        if kind == "wrong_size":
            width, height = (int(x) for x in str(b.get("size") or "2048x1024").split("x"))
        plan = (
            list(b.get("items") or ["OutputImageSensitiveContentDetected"])
            if kind == "item_errors"
            else ["ok"] * p["count"]
        )
        data: list[dict[str, Any]] = []
        for index, item in enumerate(plan):
            if item != "ok":
                data.append({"error": {"code": item, "message": ITEM_MESSAGES.get(item, "The image failed.")}})
                continue
            image = solid_image(width, height, "jpeg", index)
            encoded = b64(truncated(image) if kind == "truncated_image" else image)
            if kind == "bad_b64":
                encoded = "%%" + encoded[:30] + "!!"
            entry = (
                {"b64_json": encoded}
                if p["response_format"] == "b64_json"
                else {"url": f"{self.url}/files/{index}.jpeg"}
            )
            data.append({**entry, "size": f"{width}x{height}"})
        made = sum(1 for item in plan if item == "ok")
        tokens = round(made * width * height / 256)
        body = {
            "model": p["model"],
            "created": int(time.time()),
            "data": data,
            "usage": {"generated_images": made, "output_tokens": tokens, "total_tokens": tokens},
        }
        raw = json.dumps(body).encode()
        if kind == "malformed_json":
            raw = raw[: len(raw) // 2]
        return Response(200, raw, [("content-type", "application/json")])


def _raise_scripted(b: dict[str, Any], rid: str) -> None:
    kind = b["kind"]
    if kind == "server_error":
        raise _ArkError(
            500,
            "InternalServerError",
            "InternalServiceError",
            f"The service encountered an unexpected internal error.{rid}",
        )
    if kind == "rate_limit":
        raise _ArkError(
            429,
            "TooManyRequests",
            "RateLimitExceeded.EndpointIPMExceeded",
            f"The request has exceeded the images-per-minute limit.{rid}",
        )
    if kind == "invalid_key":
        raise _ArkError(
            401,
            "Unauthorized",
            "AuthenticationError",
            f"The API key or AK/SK in the request is missing or invalid.{rid}",
        )
    if kind == "overdue":
        raise _ArkError(
            403,
            "Forbidden",
            "AccountOverdueError",
            f"The request failed because your account has an overdue balance.{rid}",
        )
    if kind == "bad_param":
        param = b.get("param", "size")
        raise _bad("InvalidParameter", f"The parameter `{param}` specified in the request is not valid.{rid}", param)
    if kind == "input_text_blocked":
        raise _bad(
            "InputTextSensitiveContentDetected",
            f"The request failed because the input text may contain sensitive information.{rid}",
        )
    if kind == "input_image_blocked":
        raise _bad(
            "InputImageSensitiveContentDetected",
            f"The request failed because the input image may contain sensitive information.{rid}",
        )
    if kind == "sensitive":
        raise _bad(
            "SensitiveContentDetected.SevereViolation",
            f"The request failed because the input may contain severely violating content.{rid}",
        )
    if kind == "output_blocked":
        raise _bad(
            "OutputImageSensitiveContentDetected",
            f"The request failed because the output image may contain sensitive information.{rid}",
        )


__all__ = ["MODELS", "FakeSeedream"]


MAX_REFERENCE_IMAGES = 14


def _check_reference_images(image: Any, rid: str) -> None:
    """Edits: `image` is a data URL (or a list of them, at most 14), each decoding to an image."""
    if image is None:
        return
    urls = image if isinstance(image, list) else [image]
    invalid = _bad("InvalidParameter", f"The parameter `image` specified in the request is not valid.{rid}", "image")
    if not urls or len(urls) > MAX_REFERENCE_IMAGES:
        raise invalid
    for url in urls:
        try:
            decode_data_url(url)
        except ValueError as exc:
            raise invalid from exc
