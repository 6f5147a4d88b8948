"""Checking the images a client sends to edit: byte limits (413), a format that decodes, and a guard
against decompression bombs (the pixel count is read from the header and bounded before any pixel
is decoded). Pillow work runs in a worker thread.

A 140 KB PNG can be a 6000x6000 image (144 MB of RGBA once decoded), so each decode first reserves
its pixels, read from the header, from the process's pixel budget (`pixels.py`, the one the images
made for answers use): concurrent large edits wait their turn instead of each taking its memory at
once. After a large one the freed heap is handed back to the OS (`heap.py`)."""

from __future__ import annotations

import io
import warnings

import anyio.to_thread
from PIL import Image, UnidentifiedImageError

from ..domain.edit_request import Upload
from ..domain.errors import InvalidRequest, RequestTooLarge
from ..domain.input_image import InputImage
from .heap import after_image
from .pixels import reserve

MAX_INPUT_PIXELS = 40_000_000
"""Largest input image in pixels (e.g. 6000x6000 is 36 M); larger is refused before it is decoded."""

_FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp"}
_OPENERS = ("PNG", "JPEG", "WEBP")


def check_bytes(uploads: list[Upload], max_image_bytes: int) -> None:
    """Each file within `max_image_bytes` (the smaller of the gateway's and the model's limit)."""
    for upload in uploads:
        if len(upload.data) > max_image_bytes:
            raise RequestTooLarge(
                f"The {upload.field} '{upload.filename}' is {len(upload.data)} bytes; each image may be at most "
                f"{max_image_bytes} bytes for this model.",
                param=upload.field,
            )
        if not upload.data:
            raise InvalidRequest(f"The {upload.field} '{upload.filename}' is empty.", param=upload.field)


def probe(upload: Upload) -> tuple[int, int]:
    """The upload's (width, height) from its header alone, no pixel decoded; 400 when it is not a PNG,
    JPEG or WEBP, or has more than `MAX_INPUT_PIXELS`."""
    header = _read(upload, load=False)
    return header.width, header.height


def decode(upload: Upload) -> InputImage:
    """The upload as a checked `InputImage`; 400 `invalid_value` when it is not a PNG, JPEG or WEBP that decodes."""
    return _read(upload, load=True)


def _read(upload: Upload, *, load: bool) -> InputImage:
    what = f"The {upload.field} '{upload.filename}'"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.data), formats=_OPENERS) as image:
                width, height = image.size
                if width * height > MAX_INPUT_PIXELS:
                    raise InvalidRequest(
                        f"{what} is {width}x{height}; input images may have at most {MAX_INPUT_PIXELS} pixels.",
                        param=upload.field,
                    )
                fmt = _FORMATS.get(image.format or "")
                if load:
                    image.load()
    except InvalidRequest:
        raise
    except UnidentifiedImageError:
        raise InvalidRequest(f"{what} is not a PNG, JPEG or WEBP image.", param=upload.field) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidRequest(f"{what} has too many pixels to decode safely.", param=upload.field) from None
    except Exception as exc:  # Pillow's decoders raise many types for corrupt data
        raise InvalidRequest(f"{what} does not decode: {exc}", param=upload.field) from None
    if fmt is None or width <= 0 or height <= 0:
        raise InvalidRequest(f"{what} is not a PNG, JPEG or WEBP image.", param=upload.field)
    return InputImage(upload.data, fmt, width, height, upload.filename)


async def decode_all(uploads: list[Upload]) -> list[InputImage]:
    """Every upload decoded in a worker thread, one after another (the first bad one is the error), each
    within its pixels of the budget."""
    decoded = []
    for upload in uploads:
        width, height = await anyio.to_thread.run_sync(probe, upload)
        async with reserve(width * height):  # waits while other image work holds the budget
            decoded.append(await anyio.to_thread.run_sync(decode, upload))
        after_image(width, height)  # a large one: its freed heap goes back to the OS soon
    return decoded


__all__ = ["MAX_INPUT_PIXELS", "check_bytes", "decode", "decode_all", "probe"]
