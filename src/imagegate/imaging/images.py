"""Checking upstream image bytes and making them exactly what the client asked for.

`inspect` is cheap (header parse plus Pillow's `verify`, never a pixel decode) because it runs for
every image. `conform_image` re-encodes only when it must: a wrong format, or a size the gateway upscales
from. Any other mismatch is a `BadImage`, so a client is never handed a wrong image.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import anyio.to_thread
from PIL import Image, UnidentifiedImageError

from ..domain.upstream import RetryableUpstreamError, ScreeningImage
from .pixels import reserve

FORMATS = ("png", "jpeg", "webp")
"""The formats a client may ask for, by their `output_format` names."""

_PIL_FORMATS: Mapping[str, str] = MappingProxyType({"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp"})
"""Pillow's format names -> ours. MPO is a JPEG with extra frames appended; decoders read it as one."""

_PIL_OPENERS = ("PNG", "JPEG", "WEBP")
"""The only Pillow plugins tried: fewer parsers see upstream bytes, and identification is quicker."""

_END_MARKERS: Mapping[str, bytes] = MappingProxyType(
    {
        "png": b"\x00\x00\x00\x00IEND\xaeB`\x82",  # the whole IEND chunk, CRC included
        "jpeg": b"\xff\xd9",  # EOI; cannot occur inside entropy-coded data (0xFF is stuffed there)
    }
)
_TAIL_ALLOWANCE = 1024
"""How far from the end an end marker may sit: some encoders pad or append a few bytes."""

INLINE_MAX_BYTES = 64 * 1024
"""Up to this size an image that needs no change is checked on the event loop, not in a thread."""

_DEFAULT_JPEG_QUALITY = 95
_DEFAULT_WEBP_QUALITY = 100
_DEFAULT_PNG_LEVEL = 6
_LARGE_PIXELS = 4_200_000  # above ~2048x2048, zlib level 6 costs seconds for no smaller file
_LARGE_PNG_LEVEL = 1


def _png_level(size: tuple[int, int]) -> int:
    return _LARGE_PNG_LEVEL if size[0] * size[1] > _LARGE_PIXELS else _DEFAULT_PNG_LEVEL


class BadImage(RetryableUpstreamError):
    """The upstream's bytes are not a usable image (unknown format, truncated, corrupt, wrong size)."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # "png" | "jpeg" | "webp"
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def inspect(data: bytes) -> ImageInfo:
    """Format and dimensions of `data`; raises `BadImage` for anything unusable.

    Truncation is caught without decoding pixels: PNG chunk CRCs are checked up to IEND by
    `verify()`, a PNG or JPEG must end with its end marker (a little trailing padding is allowed),
    and a WEBP must be as long as its RIFF header says.
    """
    if not data:
        raise BadImage("upstream returned an empty image")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise BadImage("upstream returned a truncated WEBP (shorter than its RIFF header says)")
    try:
        with Image.open(io.BytesIO(data), formats=_PIL_OPENERS) as image:
            pil_format = image.format or ""
            width, height = image.size
            image.verify()
    except UnidentifiedImageError:
        message = f"upstream returned {len(data)} bytes that are not a PNG, JPEG or WEBP image"
        raise BadImage(message) from None
    except Exception as exc:  # Pillow's parsers raise many types (OSError, SyntaxError, struct.error, ...)
        raise BadImage(f"upstream returned a corrupt or truncated image: {exc}") from exc
    fmt = _PIL_FORMATS.get(pil_format)
    if fmt is None:
        raise BadImage(f"upstream returned a {pil_format or 'unknown'} image, not PNG, JPEG or WEBP")
    end_marker = _END_MARKERS.get(fmt)
    if end_marker is not None and end_marker not in data[-_TAIL_ALLOWANCE:]:
        raise BadImage(f"upstream returned a truncated {fmt.upper()} (no end-of-image marker)")
    if width <= 0 or height <= 0:
        raise BadImage(f"upstream returned an image of size {width}x{height}")
    return ImageInfo(format=fmt, width=width, height=height)


@dataclass(frozen=True, slots=True)
class Conformed:
    """An image made what the client asked for, and what it was when the upstream delivered it."""

    data: bytes
    source: ImageInfo
    """The upstream's image: its format and size before any change."""
    changed: bool
    """Re-encoded (another format or compression) or resized; False when `data` is the upstream's bytes."""
    view: ScreeningImage | None = None
    """Output screening's view of the pixels, when they had to be decoded anyway and one was asked for."""


@dataclass(frozen=True, slots=True)
class Wanted:
    """What an image is to be made: the client's format and size, and how the route delivers it."""

    format: str
    size: tuple[int, int]
    compression: int | None
    native_size: tuple[int, int] | None = None
    """The route's native size: an image at it (when that differs from `size`) is upscaled with Lanczos."""
    reencode: bool = False
    """Re-encode even the right format (an upstream that could not apply the requested compression)."""
    view_side: int | None = None
    """Keep output screening's view of the pixels, at most this a side, where they are decoded anyway."""

    @property
    def pixels(self) -> tuple[int, int]:
        return int(self.size[0]), int(self.size[1])


def conform_image(data: bytes, want: Wanted) -> Conformed:
    """Bytes that are exactly `want.size` in `want.format` (`data` itself when already so), what the
    upstream's image was, and whether it changed.

    A different format at the right size is re-encoded, and so is the right format with `reencode`.
    An image at `native_size` is upscaled; any other size raises `BadImage`. With `view_side`, output
    screening's view of the pixels where they had to be decoded anyway (so the screen does not decode
    them again); None when the bytes passed as they were."""
    _check_format(want.format)
    info = inspect(data)
    size = want.pixels
    if info.size == size:
        if info.format == want.format and not want.reencode:
            return Conformed(data, info, changed=False)
        image = _decode(data)
        encoded = encode(image, want.format, want.compression, png_compress_level=_png_level(size))
        return Conformed(encoded, info, changed=True, view=_view(image, want.view_side))
    native = want.native_size
    if native is not None and tuple(native) != size and info.size == tuple(native):
        image = _resizable(_decode(data))
        resized = image.resize(size, Image.Resampling.LANCZOS)
        encoded = encode(resized, want.format, want.compression, png_compress_level=_png_level(size))
        # the view from the native pixels: the same picture, fewer to reduce
        return Conformed(encoded, info, changed=True, view=_view(image, want.view_side))
    raise BadImage(f"upstream returned {info.width}x{info.height}, expected {size[0]}x{size[1]}")


async def conform_image_async(data: bytes, want: Wanted) -> Conformed:
    """`conform_image` in a worker thread, so image work never runs on the event loop.

    Except the check of a small image that needs no change: below `INLINE_MAX_BYTES` it runs inline
    (tens of microseconds: less than the hop to a thread and back). Anything to re-encode or resize,
    whatever its size, still goes to the thread.
    """
    if len(data) <= INLINE_MAX_BYTES and not want.reencode:
        _check_format(want.format)
        info = inspect(data)  # BadImage from here is what the thread would have raised
        if info.size == want.pixels and info.format == want.format:
            return Conformed(data, info, changed=False)
    width, height = want.pixels
    source = want.native_size or want.pixels
    async with reserve(width * height + int(source[0]) * int(source[1])):  # decoded + encoded
        return await anyio.to_thread.run_sync(conform_image, data, want)


def screening_view(data: bytes, max_side: int) -> ScreeningImage:
    """The image as output screening reads it: RGB, at most `max_side` a side, decoded once (a JPEG
    straight at reduced scale from its DCT coefficients, `draft`); transparency flattened onto white."""
    try:
        image = Image.open(io.BytesIO(data), formats=_PIL_OPENERS)
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (max_side, max_side))
        image.load()
    except Exception as exc:  # checked by `inspect` before; still, never screen what does not decode
        raise BadImage(f"the image does not decode for screening: {exc}") from exc
    return _reduced(image, max_side)


def _view(image: Image.Image, max_side: int | None) -> ScreeningImage | None:
    """`screening_view` of pixels already decoded (None: no view asked for)."""
    return None if max_side is None else _reduced(image, max_side)


def _reduced(image: Image.Image, max_side: int) -> ScreeningImage:
    rgb = _jpeg_ready(image).convert("RGB")
    rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return ScreeningImage(rgb.width, rgb.height, rgb.tobytes())


def encode(
    image: Image.Image,
    fmt: str,
    compression: int | None,
    *,
    png_compress_level: int = _DEFAULT_PNG_LEVEL,
) -> bytes:
    """Encode `image` as `fmt`, keeping an ICC profile that still fits the pixels (colours survive).

    png: zlib level `png_compress_level`, no optimize (`compression` is ignored).
    jpeg: alpha flattened onto white; quality = `compression` (0-100), else 95.
    webp: lossy, quality = `compression` (0-100), else 100.
    """
    _check_format(fmt)
    icc = image.info.get("icc_profile")
    out = io.BytesIO()
    if fmt == "png":
        ready = _png_ready(image)
        options: dict[str, object] = {"compress_level": png_compress_level, "optimize": False}
    elif fmt == "jpeg":
        ready = _jpeg_ready(image)
        options = {"quality": _DEFAULT_JPEG_QUALITY if compression is None else compression}
    else:
        ready = _webp_ready(image)
        options = {"quality": _DEFAULT_WEBP_QUALITY if compression is None else compression}
    if _icc_fits(icc, ready.mode):
        options["icc_profile"] = icc
    ready.save(out, fmt.upper(), **options)
    return out.getvalue()


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _icc_fits(icc: object, mode: str) -> bool:
    """Whether a source ICC profile describes pixels of `mode` (a CMYK profile on RGB would be wrong)."""
    if not isinstance(icc, bytes) or len(icc) < 20:
        return False
    space = icc[16:20]  # the profile header's data colour space
    return (space == b"RGB " and mode in ("RGB", "RGBA", "P")) or (space == b"GRAY" and mode in ("L", "LA"))


def _decode(data: bytes) -> Image.Image:
    """Fully decoded pixels; a failure here (corrupt compressed data) is still the upstream's fault."""
    try:
        image = Image.open(io.BytesIO(data), formats=_PIL_OPENERS)
        image.load()
    except Exception as exc:  # see inspect(): any parser failure means unusable bytes
        raise BadImage(f"upstream returned an image that does not decode: {exc}") from exc
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or image.has_transparency_data


def _resizable(image: Image.Image) -> Image.Image:
    """A mode Lanczos works on (palette and 1-bit images would fall back to nearest-neighbour)."""
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _png_ready(image: Image.Image) -> Image.Image:
    if image.mode in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _jpeg_ready(image: Image.Image) -> Image.Image:
    """RGB or L; anything with transparency is flattened onto white (JPEG has no alpha)."""
    if image.mode in ("RGB", "L"):
        return image
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _webp_ready(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "RGBA"):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


__all__ = [
    "FORMATS",
    "BadImage",
    "Conformed",
    "ImageInfo",
    "Wanted",
    "conform_image",
    "conform_image_async",
    "encode",
    "inspect",
    "screening_view",
]
