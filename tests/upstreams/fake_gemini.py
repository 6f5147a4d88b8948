"""A fake Gemini API: ``POST /v1beta/models/{model}:generateContent`` with image output.

Follows shared/reference/providers.md section 3: ``x-goog-api-key`` (or ``?key=``), one image
per call, ``imageConfig.aspectRatio`` and ``imageSize`` checked against the model (Nano Banana 2:
14 ratios and 512/1K/2K/4K; Pro: 10 ratios and 1K/2K/4K), the image drawn at the reference's
pixel size for that pair. Safety answers are HTTP 200 (``promptFeedback.blockReason``, or a
candidate with a policy ``finishReason`` and no image); errors use Google's envelope
``{"error": {"code", "message", "status", "details"}}``.

Behaviours (``BEHAVIOURS``; transport kinds in ``server.py``): server_error (500 INTERNAL),
unavailable (503), rate_limit (429 RESOURCE_EXHAUSTED with ``RetryInfo.retryDelay``; option
``retry_delay``, and ``retry_after`` for a header), invalid_key (400 API_KEY_INVALID),
bad_param (400 INVALID_ARGUMENT), prompt_blocked (``reason``), output_blocked (``reason``,
default IMAGE_SAFETY), no_image (``reason``, default NO_IMAGE), text_only (STOP, text, no
image), thought_image (an interim ``thought`` image of another size, then the final one),
jpeg (answers image/jpeg), malformed_json, bad_b64, truncated_image, wrong_size (``size``).
``GET /v1beta/models`` lists the models for the right key (400 API_KEY_INVALID for another).
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.upstreams.reference_images import decode_b64_image
from tests.upstreams.server import FakeUpstream, Incoming, Response, b64, json_response, solid_image, truncated

TEN_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
ALL_RATIOS = (*TEN_RATIOS, "1:4", "4:1", "1:8", "8:1")
MODELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gemini-3.1-flash-image": (ALL_RATIOS, ("512", "1K", "2K", "4K")),
    "gemini-3.1-flash-image-preview": (ALL_RATIOS, ("512", "1K", "2K", "4K")),
    "gemini-3-pro-image": (TEN_RATIOS, ("1K", "2K", "4K")),
    "gemini-3-pro-image-preview": (TEN_RATIOS, ("1K", "2K", "4K")),
}
ONE_K = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (384, 3072),
    "8:1": (3072, 384),
}
"""The reference's 1K pixel sizes; 2K and 4K are exactly twice and four times (its table)."""
SCALE = {"512": 0.5, "1K": 1, "2K": 2, "4K": 4}
TOP_LEVEL = frozenset({"contents", "generationConfig", "safetySettings", "tools", "systemInstruction"})
GENERATION_CONFIG = frozenset({"responseModalities", "imageConfig", "candidateCount", "temperature", "seed"})
IMAGE_CONFIG = frozenset({"aspectRatio", "imageSize"})
PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")


def pixels(aspect: str, image_size: str) -> tuple[int, int]:
    w, h = ONE_K[aspect]
    scale = SCALE[image_size]
    return int(w * scale), int(h * scale)


class _GoogleError(Exception):
    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.body = {"error": {"code": code, "message": message, "status": status, "details": details or []}}


def _invalid(message: str) -> _GoogleError:
    return _GoogleError(400, "INVALID_ARGUMENT", message)


def invalid_key_error() -> _GoogleError:
    return _GoogleError(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )


class FakeGemini(FakeUpstream):
    NAME = "fake-gemini"
    BEHAVIOURS: ClassVar[dict[str, tuple[str, ...]]] = {
        "server_error": (),
        "unavailable": (),
        "rate_limit": ("retry_delay", "retry_after"),
        "invalid_key": (),
        "bad_param": ("message",),
        "prompt_blocked": ("reason",),
        "output_blocked": ("reason",),
        "no_image": ("reason",),
        "text_only": (),
        "thought_image": (),
        "jpeg": (),
        "malformed_json": (),
        "bad_b64": (),
        "truncated_image": (),
        "wrong_size": ("size",),
    }

    def __init__(self, api_key: str = "gemini-fake-key", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1beta"

    def takes_behaviour(self, inc: Incoming) -> bool:
        return inc.method == "POST" and PATH.match(inc.path) is not None

    async def answer(self, inc: Incoming, behaviour: dict[str, Any], request_id: str) -> Response:
        if inc.path == "/v1beta/models" and inc.method == "GET":  # models.list: the cheap authenticated call
            try:
                self._key(inc)
            except _GoogleError as exc:
                return json_response(exc.code, exc.body)
            models = [
                {"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": ["generateContent"]}
                for m in MODELS
            ]
            return json_response(200, {"models": models})
        try:
            model, aspect, image_size, prompt = self._check(inc)
            scripted = _scripted_error(behaviour)
            if scripted is not None:
                headers = [("retry-after", str(behaviour["retry_after"]))] if behaviour.get("retry_after") else []
                return json_response(scripted.code, scripted.body, headers)
        except _GoogleError as exc:
            return json_response(exc.code, exc.body)
        return self._success(model, aspect, image_size, prompt, behaviour, request_id)

    def _key(self, inc: Incoming) -> None:
        key = inc.headers.get("x-goog-api-key") or (parse_qs(inc.query).get("key") or [None])[0]
        if not key:
            raise _GoogleError(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.")
        if key != self.api_key:
            raise invalid_key_error()

    def _check(self, inc: Incoming) -> tuple[str, str, str, str]:
        match = PATH.match(inc.path)
        if match is None or inc.method != "POST":
            raise _GoogleError(404, "NOT_FOUND", f"Method not found: {inc.method} {inc.path}")
        self._key(inc)
        model = match["model"]
        if model not in MODELS:
            raise _GoogleError(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta.")
        body = inc.json
        if not isinstance(body, dict):
            raise _invalid("Invalid JSON payload received.")
        for name in set(body) - TOP_LEVEL:
            raise _invalid(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
        prompt = _prompt(body.get("contents"))
        config = body.get("generationConfig") or {}
        for name in set(config) - GENERATION_CONFIG:
            raise _invalid(f"Invalid JSON payload received. Unknown name \"{name}\" at 'generation_config'.")
        if int(config.get("candidateCount") or 1) > 1:
            raise _invalid(f"Multiple candidates is not enabled for models/{model}")
        image_config = config.get("imageConfig") or {}
        for name in set(image_config) - IMAGE_CONFIG:
            raise _invalid(f"{name} parameter is not supported in Gemini API.")
        ratios, sizes = MODELS[model]
        aspect = image_config.get("aspectRatio", "1:1")
        image_size = image_config.get("imageSize", "1K")
        if aspect not in ratios:
            raise _invalid(f"Unsupported aspect ratio: {aspect}")
        if image_size not in sizes:
            raise _invalid(f"Unsupported image size: {image_size}")
        if "IMAGE" not in (config.get("responseModalities") or ["TEXT", "IMAGE"]):
            raise _invalid("This model only supports responses that include an image.")
        return model, aspect, image_size, prompt

    def _success(
        self, model: str, aspect: str, image_size: str, prompt: str, b: dict[str, Any], request_id: str
    ) -> Response:
        kind = b["kind"]
        usage = {"promptTokenCount": 12, "totalTokenCount": 12}
        if kind == "prompt_blocked":
            body: dict[str, Any] = {
                "promptFeedback": {"blockReason": b.get("reason", "PROHIBITED_CONTENT")},
                "usageMetadata": usage,
                "modelVersion": model,
            }
            return json_response(200, body)
        if kind in ("output_blocked", "no_image"):
            reason = b.get("reason", "IMAGE_SAFETY" if kind == "output_blocked" else "NO_IMAGE")
            candidate = {"content": {"role": "model"}, "finishReason": reason, "index": 0}
            return json_response(200, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model})
        width, height = pixels(aspect, image_size)
        if kind == "wrong_size":
            width, height = (int(x) for x in str(b.get("size") or "512x512").split("x"))
        fmt = "jpeg" if kind == "jpeg" else "png"
        data = solid_image(width, height, fmt)
        encoded = b64(truncated(data) if kind == "truncated_image" else data)
        if kind == "bad_b64":
            encoded = "!!not*base64@@" + encoded[:20]
        parts: list[dict[str, Any]] = [{"text": "Here is your image: "}]
        if kind == "thought_image":
            parts.insert(
                0, {"inlineData": {"mimeType": "image/png", "data": b64(solid_image(64, 64, "png"))}, "thought": True}
            )
        if kind != "text_only":
            parts.append({"inlineData": {"mimeType": f"image/{fmt}", "data": encoded}})
        body = {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {
                "promptTokenCount": 16,
                "candidatesTokenCount": 1120,
                "totalTokenCount": 1136,
                "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
            },
            "modelVersion": model,
            "responseId": request_id[:22],
        }
        raw = json.dumps(body).encode()
        if kind == "malformed_json":
            raw = raw[: len(raw) // 2]
        return Response(200, raw, [("content-type", "application/json; charset=UTF-8")])


def _prompt(contents: Any) -> str:
    if not isinstance(contents, list) or not contents:
        raise _invalid("* GenerateContentRequest.contents: contents is not specified")
    texts = [
        part.get("text")
        for content in contents
        if isinstance(content, dict)
        for part in content.get("parts") or ()
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]
    if not texts or not "".join(texts).strip():
        raise _invalid("* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.")
    _check_reference_images(contents)
    return "".join(texts)


MAX_REFERENCE_IMAGES = 14


def _check_reference_images(contents: list[Any]) -> None:
    """Edits: reference images as `inlineData` parts, each a decodable png/jpeg/webp, at most 14."""
    inline = [
        part["inlineData"]
        for content in contents
        if isinstance(content, dict)
        for part in content.get("parts") or ()
        if isinstance(part, dict) and "inlineData" in part
    ]
    if len(inline) > MAX_REFERENCE_IMAGES:
        raise _invalid(f"Too many images: at most {MAX_REFERENCE_IMAGES} reference images are supported.")
    for data in inline:
        if not isinstance(data, dict) or data.get("mimeType") not in ("image/png", "image/jpeg", "image/webp"):
            raise _invalid("Unsupported MIME type for inline data.")
        try:
            decode_b64_image(data.get("data"))
        except ValueError as exc:
            raise _invalid(f"Unable to process input image: {exc}") from exc


def _scripted_error(b: dict[str, Any]) -> _GoogleError | None:
    kind = b["kind"]
    if kind == "server_error":
        return _GoogleError(500, "INTERNAL", "An internal error has occurred. Please retry or report.")
    if kind == "unavailable":
        return _GoogleError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    if kind == "rate_limit":
        return _GoogleError(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaMetric": "generate_content_requests"}],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {"description": "Learn more", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": str(b.get("retry_delay", "26s"))},
            ],
        )
    if kind == "invalid_key":
        return invalid_key_error()
    if kind == "bad_param":
        return _invalid(b.get("message") or "Request contains an invalid argument.")
    return None


__all__ = ["MODELS", "ONE_K", "FakeGemini", "pixels"]
