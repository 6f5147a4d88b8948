"""What the fakes use to read the reference images of an edit, in each wire format: a multipart body
(OpenAI), inline base64 parts (Gemini), data URLs (Seedream). Each image must decode with Pillow."""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import io
import re
from dataclasses import dataclass

from PIL import Image

DATA_URL = re.compile(r"^data:image/(png|jpeg|webp|bmp|tiff|gif);base64,(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """The parts of a `multipart/form-data` body; ValueError when it is not one."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise ValueError("not a multipart/form-data body")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ValueError("the multipart body has no parts")
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a part has no name")
        payload = part.get_payload(decode=True)
        parts.append(
            Part(name, part.get_filename(), part.get_content_type(), payload if isinstance(payload, bytes) else b"")
        )
    return parts


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an image that fully decodes; ValueError otherwise."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.size
    except Exception as exc:
        raise ValueError(f"the image does not decode: {exc}") from exc


def decode_b64_image(text: object) -> tuple[int, int]:
    if not isinstance(text, str):
        raise ValueError("image data is not a string")
    try:
        return image_size(base64.b64decode(text, validate=True))
    except binascii.Error as exc:
        raise ValueError("image data is not base64") from exc


def decode_data_url(url: object) -> tuple[int, int]:
    match = DATA_URL.match(url) if isinstance(url, str) else None
    if match is None:
        raise ValueError("not a data:image/<format>;base64 URL")
    return decode_b64_image(match.group(2))


__all__ = ["Part", "decode_b64_image", "decode_data_url", "image_size", "parse_multipart"]
