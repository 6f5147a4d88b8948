"""An input image a client names by URL instead of uploading it (a chat message's `image_url` part, a
Responses `input_image`): either a `data:` URL, decoded here, or an `https://` URL the gateway
fetches (`ports.ImageUrlReader`).

A URL the gateway fetches makes it send a request wherever the URL points, exactly as a webhook
does, so the same address rules apply (`domain.webhook_url`): https only (plain http only to a
loopback host), no credentials, and on a public node no loopback, private, link-local or other
non-public address, checked again on every address the name resolves to when connecting. A data
URL's size is judged from its length before a byte is decoded, so an oversized one costs nothing.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import pybase64

from .errors import InvalidRequest, RequestTooLarge
from .text import check_text
from .webhook_url import MAX_URL_CHARS, WebhookTarget, check_webhook_url

DATA_PREFIX = "data:"
_WEBHOOK_WORDING = "The webhook URL "


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An input image named by URL, and where the client's body named it (`param`: what a refusal
    names, e.g. `messages[2].content[1].image_url.url`)."""

    url: object
    param: str


def is_data_url(url: str) -> bool:
    return url[:5].lower() == DATA_PREFIX


def image_url_text(url: object, param: str) -> str:
    """The URL as a string; 400 `invalid_type` naming `param` for anything else."""
    if not isinstance(url, str):
        raise InvalidRequest(f"'{param}' must be a string (a data: or https: URL).", code="invalid_type", param=param)
    if not url:
        raise InvalidRequest(f"'{param}' must not be empty.", param=param)
    return url


def decode_data_url(url: str, *, param: str, max_bytes: int) -> bytes:
    """The bytes of `data:<media type>;base64,<data>`: 413 naming `param` when they would pass
    `max_bytes` (judged from the length first), 400 when it is not a base64 image data URL."""
    header, comma, payload = url.partition(",")
    media_type = header[len(DATA_PREFIX) :].split(";", 1)[0].strip().lower()
    if not comma or not header.lower().endswith(";base64"):
        raise InvalidRequest(f"'{param}' must be a base64 data URL such as 'data:image/png;base64,…'.", param=param)
    if media_type and not media_type.startswith("image/"):
        raise InvalidRequest(
            f"'{param}' is a data URL of '{media_type[:40]}'; it must be an image (PNG, JPEG or WEBP).", param=param
        )
    payload = payload.strip()
    padding = len(payload) - len(payload.rstrip("="))
    size = len(payload) * 3 // 4 - padding
    if size > max_bytes:
        raise RequestTooLarge(
            f"The image in '{param}' is about {size} bytes; each image may be at most {max_bytes} bytes for this model.",
            param=param,
        )
    try:
        data = pybase64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"'{param}' is not valid base64 after 'base64,'.", param=param) from None
    if not data:
        raise InvalidRequest(f"The data URL in '{param}' holds no image.", param=param)
    return data


def check_image_url(url: str, *, public: bool, param: str) -> WebhookTarget:
    """An `https://` image URL the gateway may fetch, under the webhook address rules; a 400
    `invalid_value` naming `param` that says what is wrong."""
    check_text(url, param, MAX_URL_CHARS)
    try:
        return check_webhook_url(url, public=public)
    except InvalidRequest as exc:  # the webhook rules word their refusals for webhooks: say image URL
        message = exc.message.replace(_WEBHOOK_WORDING, "The image URL ", 1)
        raise InvalidRequest(f"{message} ({param})", code=exc.code, param=param) from None


__all__ = ["DATA_PREFIX", "ImageRef", "check_image_url", "decode_data_url", "image_url_text", "is_data_url"]
