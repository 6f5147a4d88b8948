"""A fake OpenAI Images API (``POST /v1/images/generations``) for the gateway's tests.

A real HTTP/1.1 server on raw asyncio + ``httptools`` so that it can misbehave at the
transport level (drop a connection mid-request, hang, send truncated bodies), with
keep-alive. It follows the wire format of the real API for GPT image models
(docs: shared/reference/providers.md section 1).

In-process use::

    fake = FakeOpenAI(api_key="sk-fake-upstream")
    fake.start()
    fake.script({"kind": "rate_limit", "retry_after": 1}, {"kind": "server_error"})
    ...                       # point the gateway at fake.base_url
    fake.wait_for_requests(3)
    fake.stop()

As a process::

    python -m tests.upstreams.fake_openai --port 8123 --api-key sk-x

controlled over HTTP: ``POST /_control/script`` (JSON list of behaviours, appended to the
queue), ``POST /_control/reset``, ``GET /_control/requests``, ``POST /_control/config``
(``{"auto_quality": "high"}``), ``GET /_control/health``.

Each request to ``/v1/images/generations`` takes the next queued behaviour (or ``ok`` once the
queue is empty), in order of arrival, whatever its key or body. See ``BEHAVIOURS`` for the kinds
and their options. ``GET /v1/models`` (the cheap authenticated call ``imagegate doctor`` makes)
lists ``MODELS`` for the right key and answers 401 for any other.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from tests.upstreams.loopback import LoopbackServer, RecordedRequest
from tests.upstreams.marked_images import render_marked
from tests.upstreams.reference_images import image_size, parse_multipart
from tests.upstreams.transport import Connection, Incoming, Response, json_response, serialize

GENERATIONS_PATH = "/v1/images/generations"
MODELS_PATH = "/v1/models"
MODELS = ("gpt-image-2", "gpt-image-1.5", "gpt-image-1", "gpt-image-1-mini")
"""What `GET /v1/models` lists (a real account lists many more)."""
EDITS_PATH = "/v1/images/edits"
IMAGE_PATHS = (GENERATIONS_PATH, EDITS_PATH)

ALLOWED_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "n",
        "size",
        "quality",
        "output_format",
        "output_compression",
        "background",
        "moderation",
        "user",
        "safety_identifier",
        "stream",
        "partial_images",
    }
)
EDIT_FIELDS = ALLOWED_FIELDS | {"input_fidelity"}
EDIT_INTEGERS = ("n", "output_compression", "partial_images")
MAX_EDIT_IMAGES = 16
QUALITIES = ("auto", "low", "medium", "high")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATIONS = ("low", "auto")
MAX_SIDE = 3840
MAX_PIXELS = 3840 * 2160
MAX_PROMPT = 32000
DEFAULT_SIZE = "1024x1024"

# kind -> options it understands (every kind also takes "headers": extra response headers,
# and "times": how many consecutive requests it applies to, default 1).
BEHAVIOURS: dict[str, tuple[str, ...]] = {
    "ok": ("marked",),  # marked: indexes of the images drawn with the mark (tests/upstreams/marked_images.py)
    "server_error": (),
    "status": ("status", "body"),
    "rate_limit": ("retry_after", "retry_after_ms", "message"),
    "insufficient_quota": (),
    "invalid_key": (),
    "bad_param": ("param", "message", "code"),
    "moderation_blocked": ("stage", "categories"),
    "content_policy": (),
    "billing_limit": (),
    "model_not_found": (),
    "hang": ("seconds",),
    "delay": ("seconds",),
    "hold": ("seconds",),  # answered (as ok) once the test calls release(), or after `seconds`
    "drop": ("partial_bytes", "rst"),
    "pause_before_completed": ("seconds",),
    "malformed_json": (),
    "bad_b64": (),
    "truncated_image": (),
    "wrong_size": ("size",),
    "wrong_format": ("marked",),
    "fewer_images": (),
}
_COMMON_OPTIONS = ("kind", "headers", "times", "usage")
"""`usage`: the `usage` object to report instead of the realistic one (null: report none, as some
OpenAI-compatible servers do)."""

_USAGE_INPUT = 50
OUTPUT_TOKENS = {
    "low": {"square": 272, "portrait": 408, "landscape": 400},
    "medium": {"square": 1056, "portrait": 1584, "landscape": 1568},
    "high": {"square": 4160, "portrait": 6240, "landscape": 6208},
}
"""Image output tokens per image at 1024x1024, 1024x1536 and 1536x1024, as OpenAI bills gpt-image
models; other sizes scale with their area against those."""


def output_tokens(quality: str, width: int, height: int) -> int:
    """The image output tokens of one image of `quality` at `width` x `height` (auto quality: medium)."""
    row = OUTPUT_TOKENS.get(quality, OUTPUT_TOKENS["medium"])
    shape, base = (
        ("square", 1024 * 1024)
        if width == height
        else ("portrait", 1024 * 1536)
        if height > width
        else ("landscape", 1536 * 1024)
    )
    return row[shape] * width * height // base


def _validate_behaviour(b: Any) -> dict[str, Any]:
    if not isinstance(b, dict) or not isinstance(b.get("kind"), str):
        raise ValueError(f"behaviour must be a dict with a 'kind': {b!r}")
    kind = b["kind"]
    if kind not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour kind {kind!r}; known: {sorted(BEHAVIOURS)}")
    unknown = set(b) - set(BEHAVIOURS[kind]) - set(_COMMON_OPTIONS)
    if unknown:
        raise ValueError(f"unknown options for {kind!r}: {sorted(unknown)}")
    if kind == "status" and not isinstance(b.get("status"), int):
        raise ValueError("'status' behaviour needs an integer 'status'")
    return dict(b)


# ---------------------------------------------------------------------------------------------
# Images (rendered with Pillow, cached per (size, format, index, transparent))

_image_cache: dict[tuple[int, int, str, int, bool], tuple[bytes, str]] = {}
_image_cache_lock = threading.Lock()


def _font(px: int) -> Any:
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def render_image(width: int, height: int, fmt: str, index: int = 0, transparent: bool = False) -> tuple[bytes, str]:
    """Return (image bytes, base64 text) of a ``width``x``height`` image showing ``index``."""
    key = (width, height, fmt, index, transparent)
    with _image_cache_lock:
        hit = _image_cache.get(key)
    if hit is not None:
        return hit
    hue = (index * 67) % 256
    colour = ((hue * 3) % 256, (hue * 5 + 80) % 256, (255 - hue) % 256)
    if transparent and fmt != "jpeg":
        img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        ImageDraw.Draw(img).ellipse((width // 8, height // 8, width * 7 // 8, height * 7 // 8), fill=(*colour, 255))
    else:
        img = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(img)
    text = str(index)
    px = max(8, min(width, height) // 3)
    draw.text((width // 2, height // 2), text, fill=(255, 255, 255), font=_font(px), anchor="mm")
    # a per-index stripe so even a failed font still yields distinct images
    draw.rectangle((0, 0, min(width, 4 + index * 8), max(1, height // 16)), fill=(0, 0, 0))
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG", compress_level=1)
    elif fmt == "jpeg":
        img.convert("RGB").save(buf, "JPEG", quality=85)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=80, method=0)
    else:
        raise ValueError(fmt)
    data = buf.getvalue()
    result = (data, base64.b64encode(data).decode("ascii"))
    with _image_cache_lock:
        _image_cache[key] = result
    return result


# ---------------------------------------------------------------------------------------------
# OpenAI error bodies


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str, param: str | None, code: str | None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


def _invalid(message: str, param: str | None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, "invalid_request_error", param, code)


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "sk-" + "*" * 4
    return key[:3] + "*" * max(4, len(key) - 7) + key[-4:]


def invalid_key_error(provided: str | None) -> ApiError:
    if not provided:
        msg = (
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
            "username) if you're accessing the API from your browser and are prompted for a username and "
            "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
        )
    else:
        msg = (
            f"Incorrect API key provided: {_mask_key(provided)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
    return ApiError(401, msg, "invalid_request_error", None, "invalid_api_key")


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a decimal"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return "an unknown type"


def _bad_type(name: str, expected: str, v: Any) -> ApiError:
    return _invalid(
        f"Invalid type for '{name}': expected {expected}, but got {_type_name(v)} instead.", name, "invalid_type"
    )


def _check_int(body: dict, name: str, lo: int, hi: int) -> int | None:
    if name not in body or body[name] is None:
        return None
    v = body[name]
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad_type(name, "an integer", v)
    if v < lo:
        raise _invalid(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {lo}, but got {v} instead.",
            name,
            "integer_below_min_value",
        )
    if v > hi:
        raise _invalid(
            f"Invalid '{name}': integer above maximum value. Expected a value <= {hi}, but got {v} instead.",
            name,
            "integer_above_max_value",
        )
    return v


def _check_enum(body: dict, name: str, allowed: tuple[str, ...]) -> str | None:
    if name not in body or body[name] is None:
        return None
    v = body[name]
    if not isinstance(v, str):
        raise _bad_type(name, "one of " + ", ".join(repr(a) for a in allowed), v)
    if v not in allowed:
        raise _invalid(
            f"Invalid value: '{v}'. Supported values are: " + ", ".join(f"'{a}'" for a in allowed) + ".", name
        )
    return v


_SIZE_RE = re.compile(r"^([0-9]{1,5})x([0-9]{1,5})$")


def parse_size(v: Any, auto_size: str = DEFAULT_SIZE) -> tuple[int, int]:
    """Validate a gpt-image-2 style size; 'auto' -> `auto_size` (the size the fake "picks")."""
    if not isinstance(v, str):
        raise _bad_type("size", "a string", v)
    if v == "auto":
        w, _, h = auto_size.partition("x")
        return int(w), int(h)
    m = _SIZE_RE.match(v)
    if not m:
        raise _invalid(
            f"Invalid value: '{v}'. Size must be 'auto' or in the format 'WIDTHxHEIGHT', e.g. '1024x1024'.", "size"
        )
    w, h = int(m.group(1)), int(m.group(2))
    problem = None
    if w <= 0 or h <= 0 or w % 16 or h % 16:
        problem = "width and height must be multiples of 16"
    elif w > MAX_SIDE or h > MAX_SIDE:
        problem = f"width and height must be at most {MAX_SIDE}"
    elif w * h > MAX_PIXELS:
        problem = f"total pixels must be at most {MAX_PIXELS} (3840x2160)"
    elif max(w, h) > 3 * min(w, h):
        problem = "aspect ratio must be between 1:3 and 3:1"
    if problem:
        raise _invalid(f"Invalid size '{v}': {problem}.", "size")
    return w, h


@dataclass
class _Params:
    model: str
    prompt: str
    n: int
    width: int
    height: int
    size: str
    quality: str
    output_format: str
    background: str
    stream: bool
    partial_images: int


def validate_generation(body: Any, auto_quality: str, auto_size: str = DEFAULT_SIZE) -> _Params:
    if not isinstance(body, dict):
        raise _invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
            "If you have trouble figuring out how to fix this, please contact us through our help center at "
            "help.openai.com.)",
            None,
            None,
        )
    for name in body:
        if name not in ALLOWED_FIELDS:
            raise _invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    for name in ("prompt", "model"):
        if name not in body or body[name] is None:
            raise _invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
        if not isinstance(body[name], str):
            raise _bad_type(name, "a string", body[name])
    prompt = body["prompt"]
    if not prompt:
        raise _invalid(
            "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
            "prompt",
            "empty_string",
        )
    if len(prompt) > MAX_PROMPT:
        raise _invalid(
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT}, "
            f"but got a string with length {len(prompt)} instead.",
            "prompt",
            "string_above_max_length",
        )
    n = _check_int(body, "n", 1, 10) or 1
    size_in = body.get("size")
    w, h = parse_size(size_in, auto_size) if size_in is not None else parse_size(DEFAULT_SIZE)
    quality = _check_enum(body, "quality", QUALITIES) or "auto"
    fmt = _check_enum(body, "output_format", OUTPUT_FORMATS) or "png"
    compression = _check_int(body, "output_compression", 0, 100)
    if compression is not None and fmt == "png":
        raise _invalid(
            "The 'output_compression' parameter is only supported for the 'jpeg' and 'webp' output formats.",
            "output_compression",
        )
    background = _check_enum(body, "background", BACKGROUNDS) or "auto"
    if background == "transparent" and fmt == "jpeg":
        raise _invalid("Transparent background is not supported for the 'jpeg' output format.", "background")
    _check_enum(body, "moderation", MODERATIONS)
    if "user" in body and body["user"] is not None and not isinstance(body["user"], str):
        raise _bad_type("user", "a string", body["user"])
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad_type("stream", "a boolean", stream)
    partial = _check_int(body, "partial_images", 0, 3) or 0
    return _Params(
        model=body["model"],
        prompt=prompt,
        n=n,
        width=w,
        height=h,
        size=f"{w}x{h}",
        quality=auto_quality if quality == "auto" else quality,
        output_format=fmt,
        background="transparent" if background == "transparent" else "opaque",
        stream=bool(stream),
        partial_images=partial,
    )


def edit_body(inc: Incoming) -> dict[str, Any]:
    """An edit's multipart text fields as a generation body, once its files are checked: `image` (or
    `image[]`, up to 16, each png/jpeg/webp that decodes), an optional png `mask` of the first image's size."""
    try:
        parts = parse_multipart(inc.headers.get("content-type", ""), inc.body)
    except ValueError as exc:
        raise _invalid(f"Could not parse multipart form: {exc}", None, None) from exc
    body: dict[str, Any] = {}
    images: list[tuple[int, int]] = []
    mask: tuple[int, int] | None = None
    for part in parts:
        name = part.name.removesuffix("[]")
        if part.filename is None:
            if name not in EDIT_FIELDS:
                raise _invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
            text = part.data.decode()
            body[name] = int(text) if name in EDIT_INTEGERS and text.lstrip("-").isdigit() else text
            if name == "stream":
                body[name] = text == "true"
            continue
        try:
            size = image_size(part.data)
        except ValueError as exc:
            raise _invalid(f"Invalid image file: {exc}", name, "invalid_image_file") from exc
        if name == "image" and part.content_type in ("image/png", "image/jpeg", "image/webp"):
            images.append(size)
        elif name == "mask" and part.content_type == "image/png":
            mask = size
        else:
            raise _invalid(f"Invalid file '{name}' ({part.content_type}).", name, "invalid_image_file")
    if not images:
        raise _invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if len(images) > MAX_EDIT_IMAGES:
        raise _invalid(f"Invalid 'image': too many images, at most {MAX_EDIT_IMAGES}.", "image")
    if mask is not None and mask != images[0]:
        raise _invalid("Invalid mask image: the mask must have the same dimensions as the image.", "mask")
    _check_enum(body, "input_fidelity", ("high", "low"))
    body.pop("input_fidelity", None)
    return body


def _usage(n: int, p: _Params) -> dict[str, Any]:
    out = output_tokens(p.quality, p.width, p.height) * n
    return {
        "input_tokens": _USAGE_INPUT,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": _USAGE_INPUT},
        "output_tokens": out,
        "total_tokens": _USAGE_INPUT + out,
    }


def _chunked(parts: list[bytes]) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p)
    return out + b"0\r\n\r\n"


# ---------------------------------------------------------------------------------------------
# The fake


class FakeOpenAI(LoopbackServer):
    NAME = "fake-openai"
    LABEL = "fake OpenAI server"
    PROTOCOL = Connection

    def __init__(self, api_key: str = "sk-fake-upstream", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self.auto_quality = "medium"  # quality reported for quality "auto" / absent
        self.auto_size = DEFAULT_SIZE  # size drawn for size "auto"
        self.stamp: Callable[[bytes, str], bytes] | None = None
        """Applied to every image served (bytes, format -> bytes): e.g. a vendor's C2PA manifest, as
        OpenAI signs its images. Cleared by `reset`."""

    def reset(self) -> None:
        super().reset()
        self.stamp = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def _validate(self, b: Any) -> dict[str, Any]:
        return _validate_behaviour(b)

    def _too_few_requests(self, count: int, timeout: float) -> str:
        return f"fake OpenAI got {len(self._requests)} request(s), wanted {count}, within {timeout} s"

    def _record(self, inc: Incoming) -> None:
        if inc.path.startswith("/_control/"):
            return
        rec = RecordedRequest(
            time=inc.received,
            method=inc.method,
            path=inc.path,
            headers=dict(inc.headers),
            json=inc.json,
            body=inc.body,
            query=inc.query,
        )
        with self._cond:
            self._requests.append(rec)
            if inc.path in IMAGE_PATHS:
                inc.behaviour = self._queue.popleft() if self._queue else {"kind": "ok"}
            self._cond.notify_all()

    async def _handle(self, conn: Connection, inc: Incoming) -> bool:
        """Answer one request; return False if the connection must be closed."""
        request_id = "req_" + uuid.uuid4().hex
        if inc.path.startswith("/_control/"):
            resp = self._control(inc)
            conn._write(resp, inc.keep_alive)
            return True
        b = inc.behaviour or {"kind": "ok"}
        kind = b["kind"]
        if not await self._transport_behaviour(conn, b):
            return False
        resp = await self._answer(inc, b, request_id)
        resp.headers += [
            ("x-request-id", request_id),
            ("openai-version", "2020-10-01"),
            ("openai-processing-ms", str(max(1, int((time.monotonic() - inc.received) * 1000)))),
        ]
        resp.headers += [(str(k).lower(), str(v)) for k, v in (b.get("headers") or {}).items()]
        if kind == "drop":  # with partial_bytes: send the start of the answer, then close
            conn._write(resp, inc.keep_alive, limit=int(b["partial_bytes"]))
            conn.close(rst=bool(b.get("rst")))
            return False
        if kind == "pause_before_completed":  # a stream: its partial images now, its completed events later
            await self._write_paused(conn, serialize(resp, inc.keep_alive), float(b.get("seconds", 5)))
            return True
        conn._write(resp, inc.keep_alive)
        return True

    @staticmethod
    async def _write_paused(conn: Connection, raw: bytes, seconds: float) -> None:
        """Send up to the chunk of the first completed event, then the rest `seconds` later (a slow
        final render), so that a client can leave between a partial image and its completed one."""
        completed = raw.find(b".completed\ndata: ")
        event = raw.rfind(b"event: ", 0, completed)  # its chunk: "<hex length>\r\nevent: ...\r\n"
        split = raw.rfind(b"\r\n", 0, event - 2) + 2 if completed > 0 else len(raw)
        if conn.transport is None:
            return
        conn.transport.write(raw[:split])
        await asyncio.sleep(seconds)  # the fake's scripted stall, not a wait for anything
        if not conn.transport.is_closing():
            conn.transport.write(raw[split:])

    def _control(self, inc: Incoming) -> Response:
        try:
            if inc.path == "/_control/script" and inc.method == "POST":
                items = inc.json.get("behaviours") if isinstance(inc.json, dict) else inc.json
                if not isinstance(items, list):
                    raise ValueError("body must be a JSON list of behaviours")
                self.script(*items)
                return json_response(200, {"queued": self.pending_behaviours})
            if inc.path == "/_control/reset" and inc.method == "POST":
                self.reset()
                return json_response(200, {"ok": True})
            if inc.path == "/_control/requests" and inc.method == "GET":
                return json_response(200, [r.to_dict() for r in self.requests])
            if inc.path == "/_control/config" and inc.method == "POST":
                if not isinstance(inc.json, dict):
                    raise ValueError("body must be a JSON object")
                if "auto_quality" in inc.json:
                    self.auto_quality = str(inc.json["auto_quality"])
                return json_response(200, {"auto_quality": self.auto_quality})
            if inc.path == "/_control/health":
                return json_response(200, {"ok": True, "client_disconnects": self.client_disconnects})
        except (ValueError, TypeError, AttributeError) as e:
            return json_response(400, {"error": str(e)})
        return json_response(404, {"error": f"no control endpoint {inc.method} {inc.path}"})

    async def _answer(self, inc: Incoming, b: dict[str, Any], request_id: str) -> Response:
        if inc.path not in IMAGE_PATHS or inc.method != "POST":
            if inc.path.startswith("/v1/") and not self._auth_ok(inc):
                return self._error_response(invalid_key_error(self._bearer(inc)))
            err = ApiError(404, f"Invalid URL ({inc.method} {inc.path})", "invalid_request_error", None, None)
            if inc.path == MODELS_PATH and inc.method == "GET":  # GET /v1/models: the cheap authenticated call
                return json_response(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": model, "object": "model", "created": 1745000000, "owned_by": "system"}
                            for model in MODELS
                        ],
                    },
                )
            err = ApiError(404, f"Invalid URL ({inc.method} {inc.path})", "invalid_request_error", None, None)
            return self._error_response(err)
        if not self._auth_ok(inc):
            return self._error_response(invalid_key_error(self._bearer(inc)))
        scripted = self._scripted_error(b, request_id)
        if scripted is not None:
            return scripted
        try:
            body = edit_body(inc) if inc.path == EDITS_PATH else inc.json
            p = validate_generation(body, self.auto_quality, self.auto_size)
        except ApiError as e:
            return self._error_response(e)
        return await self._success(p, b)

    @staticmethod
    def _bearer(inc: Incoming) -> str | None:
        auth = inc.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return None

    def _auth_ok(self, inc: Incoming) -> bool:
        return self._bearer(inc) == self.api_key

    @staticmethod
    def _error_response(e: ApiError, headers: list[tuple[str, str]] | None = None) -> Response:
        return json_response(e.status, e.body, headers)

    def _scripted_error(self, b: dict[str, Any], request_id: str) -> Response | None:
        kind = b["kind"]
        if kind == "server_error":
            return self._error_response(
                ApiError(
                    500,
                    "The server had an error processing your request. Sorry about that! You can retry your request, "
                    "or contact us through our help center at help.openai.com if you keep seeing this error. "
                    f"(Please include the request ID {request_id} in your email.)",
                    "server_error",
                    None,
                    None,
                )
            )
        if kind == "status":
            status = int(b["status"])
            body = b.get("body")
            if body is None:
                body = {
                    "error": {
                        "message": f"Scripted error with status {status}.",
                        "type": "server_error" if status >= 500 else "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                }
            if isinstance(body, (bytes, str)):
                raw = body.encode() if isinstance(body, str) else body
                return Response(status, raw, [("content-type", "application/json")])
            return json_response(status, body)
        if kind == "rate_limit":
            headers: list[tuple[str, str]] = []
            wait = "20s"
            if b.get("retry_after") is not None:
                headers.append(("retry-after", str(b["retry_after"])))
                wait = f"{float(b['retry_after']):.2f} seconds" if _is_number(b["retry_after"]) else wait
            if b.get("retry_after_ms") is not None:
                headers.append(("retry-after-ms", str(b["retry_after_ms"])))
            headers += [
                ("x-ratelimit-limit-requests", "5"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "12s"),
            ]
            msg = b.get("message") or (
                "Rate limit exceeded for images per minute in organization org-fake. Limit: 5/1min. "
                f"Current: 6/1min. Please try again after {wait}. Visit "
                "https://platform.openai.com/account/rate-limits to learn more."
            )
            return self._error_response(ApiError(429, msg, "requests", None, "rate_limit_exceeded"), headers)
        if kind == "insufficient_quota":
            return self._error_response(
                ApiError(
                    429,
                    "You exceeded your current quota, please check your plan and billing details. For more "
                    "information on this error, read the docs: "
                    "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                    "insufficient_quota",
                    None,
                    "insufficient_quota",
                )
            )
        if kind == "invalid_key":
            return self._error_response(invalid_key_error("sk-proj-revokedkey0000"))
        if kind == "bad_param":
            param = b.get("param", "size")
            return self._error_response(
                _invalid(b.get("message") or f"Invalid value for '{param}'.", param, b.get("code", "invalid_value"))
            )
        if kind == "moderation_blocked":
            cats = list(b.get("categories") or ["sexual"])
            return self._error_response(
                ApiError(
                    400,
                    "Your request was rejected by the safety system. If you believe this is an error, contact us at "
                    f"help.openai.com and include the request ID {request_id}. "
                    f"safety_violations=[{', '.join(cats)}].",
                    "image_generation_user_error",
                    None,
                    "moderation_blocked",
                    moderation_details={"moderation_stage": b.get("stage", "input"), "categories": cats},
                )
            )
        if kind == "content_policy":
            return self._error_response(
                ApiError(
                    400,
                    "Your request was rejected as a result of our safety system. Your prompt may contain text that "
                    "is not allowed by our safety system.",
                    "invalid_request_error",
                    None,
                    "content_policy_violation",
                )
            )
        if kind == "billing_limit":
            return self._error_response(
                ApiError(
                    400,
                    "Billing hard limit has been reached",
                    "invalid_request_error",
                    None,
                    "billing_hard_limit_reached",
                )
            )
        if kind == "model_not_found":
            return self._error_response(
                ApiError(
                    404,
                    "The model does not exist or you do not have access to it.",
                    "invalid_request_error",
                    None,
                    "model_not_found",
                )
            )
        return None

    async def _success(self, p: _Params, b: dict[str, Any]) -> Response:
        kind = b["kind"]
        count = max(0, p.n - 1) if kind == "fewer_images" else p.n
        w, h, fmt = p.width, p.height, p.output_format
        if kind == "wrong_size":
            if b.get("size"):
                w, h = (int(x) for x in str(b["size"]).split("x"))
            else:
                w, h = (512, 512) if (w, h) != (512, 512) else (1024, 1024)
        if kind == "wrong_format":
            fmt = "jpeg" if p.output_format != "jpeg" else "png"
        transparent = p.background == "transparent"
        images: list[str] = []
        marked = set(b.get("marked") or ())
        for i in range(count):
            if i in marked:
                data = await asyncio.to_thread(render_marked, w, h, fmt)
                b64 = base64.b64encode(data).decode("ascii")
            else:
                data, b64 = await asyncio.to_thread(render_image, w, h, fmt, i, transparent)
            if self.stamp is not None:
                data = await asyncio.to_thread(self.stamp, data, fmt)
                b64 = base64.b64encode(data).decode("ascii")
            if kind == "bad_b64":
                b64 = "!!not*base64@@" + b64[:20] + "%%"
            elif kind == "truncated_image":
                b64 = base64.b64encode(data[: max(16, len(data) // 2)]).decode("ascii")
            images.append(b64)
        created = int(time.time())
        common = {"background": p.background, "output_format": p.output_format, "quality": p.quality, "size": p.size}
        if p.stream:
            events: list[bytes] = []
            for b64 in images:
                for k in range(p.partial_images):
                    ev = {
                        "type": "image_generation.partial_image",
                        "b64_json": b64,
                        "created_at": created,
                        "partial_image_index": k,
                        **common,
                        "background": "auto" if p.background == "opaque" else p.background,
                    }
                    events.append(b"event: image_generation.partial_image\ndata: " + json.dumps(ev).encode() + b"\n\n")
                ev = {
                    "type": "image_generation.completed",
                    "b64_json": b64,
                    "created_at": created,
                    **common,
                    **_reported(b, _usage(1, p)),
                }
                events.append(b"event: image_generation.completed\ndata: " + json.dumps(ev).encode() + b"\n\n")
            if kind == "malformed_json" and events:
                last = events[-1]
                events[-1] = last[: len(last) // 2] + b"\n\n"
            return Response(
                200,
                _chunked(events),
                [
                    ("content-type", "text/event-stream; charset=utf-8"),
                    ("transfer-encoding", "chunked"),
                    ("cache-control", "no-cache"),
                ],
            )
        body = {"created": created, **common, "data": [{"b64_json": x} for x in images], **_reported(b, _usage(p.n, p))}
        raw = json.dumps(body).encode()
        if kind == "malformed_json":
            raw = raw[: max(1, len(raw) // 2)]
        return Response(200, raw, [("content-type", "application/json")])


def _reported(b: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """The answer's `usage` member: the realistic one, the behaviour's own, or none (`usage: null`)."""
    if "usage" not in b:
        return {"usage": usage}
    return {} if b["usage"] is None else {"usage": b["usage"]}


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Process mode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fake OpenAI Images API")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", default="sk-fake-upstream")
    ap.add_argument("--auto-quality", default="medium")
    args = ap.parse_args(argv)
    fake = FakeOpenAI(api_key=args.api_key, host=args.host, port=args.port)
    fake.auto_quality = args.auto_quality
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fake.start()
    print(f"fake-openai listening on {fake.base_url}", flush=True)
    while not stop.wait(0.5):
        pass
    fake.stop()
    print("fake-openai stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
