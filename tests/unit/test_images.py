"""imagegate.imaging.images: cheap checks of upstream bytes, and conforming them to the request."""

from __future__ import annotations

import functools
import io
import os
import zlib
from typing import Any

import anyio
import pytest
from PIL import Image, ImageCms

from imagegate.domain.upstream import RetryableUpstreamError
from imagegate.imaging.images import (
    INLINE_MAX_BYTES,
    BadImage,
    ImageInfo,
    Wanted,
    conform_image,
    conform_image_async,
    encode,
    inspect,
    screening_view,
)


def wanted(want_format: str, want_size: tuple[int, int], compression: int | None, **options: Any) -> Wanted:
    return Wanted(want_format, want_size, compression, **options)


def conform(data: bytes, **options: Any) -> bytes:
    return conform_image(data, wanted(**options)).data


async def conform_async(data: bytes, **options: Any) -> bytes:
    return (await conform_image_async(data, wanted(**options))).data


def _picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """A small image with structure (a gradient plus noise), so encoders have real work."""
    ramp = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 30)
    image = Image.merge("RGB", (ramp, noise, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    if mode == "RGBA":
        image.putalpha(ramp)
    return image


def _rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def _bytes(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(("pil_format", "expected"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp")])
def test_inspect_reports_format_and_size(pil_format: str, expected: str) -> None:
    data = _bytes(_picture((64, 48)), pil_format)
    assert inspect(data) == ImageInfo(format=expected, width=64, height=48)


@pytest.mark.parametrize("pil_format", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("keep", [0.5, -1])
def test_truncated_images_are_bad(pil_format: str, keep: float) -> None:
    data = _bytes(_picture((128, 128)), pil_format)
    cut = int(len(data) * keep) if keep > 0 else len(data) + int(keep)
    with pytest.raises(BadImage):
        inspect(data[:cut])


@pytest.mark.parametrize(
    "data",
    [b"", os.urandom(4096), b"\x89PNG\r\n\x1a\n" + os.urandom(200), _bytes(_picture(), "GIF")],
    ids=["empty", "random", "png-signature-then-garbage", "gif"],
)
def test_non_images_are_bad(data: bytes) -> None:
    with pytest.raises(BadImage):
        inspect(data)


def test_bad_image_is_retryable() -> None:
    assert issubclass(BadImage, RetryableUpstreamError)
    assert BadImage("x").retryable


def test_png_with_trailing_padding_is_accepted() -> None:
    data = _bytes(_picture(), "PNG") + b"\x00" * 16
    assert inspect(data).format == "png"


def _corrupt_idat(png: bytes) -> bytes:
    """The PNG with its first IDAT payload scrambled but its CRC recomputed: structurally valid."""
    pos = 8
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            start = pos + 8
            payload = bytearray(png[start : start + length])
            payload[length // 4 : length // 2] = bytes(length // 2 - length // 4)
            crc = zlib.crc32(kind + payload).to_bytes(4, "big")
            return png[:start] + bytes(payload) + crc + png[start + length + 4 :]
        pos += 12 + length
    raise AssertionError("no IDAT chunk")


def test_inspect_checks_structure_without_decoding_pixels() -> None:
    """Scrambled compressed pixels pass `inspect` (no decode), and fail once `conform` must decode."""
    data = _corrupt_idat(_bytes(_picture((256, 256)), "PNG"))
    assert inspect(data) == ImageInfo(format="png", width=256, height=256)
    with pytest.raises(BadImage, match="does not decode"):
        conform(data, want_format="jpeg", want_size=(256, 256), compression=90)


def test_conform_returns_the_same_object_when_nothing_to_do() -> None:
    data = _bytes(_picture((64, 48)), "PNG")
    out = conform(data, want_format="png", want_size=(64, 48), compression=None, native_size=(32, 24))
    assert out is data


@pytest.mark.parametrize("want_format", ["webp", "jpeg"])
def test_conform_converts_format_at_the_right_size(want_format: str) -> None:
    data = _bytes(_picture((64, 48)), "PNG")
    out = conform(data, want_format=want_format, want_size=(64, 48), compression=80)
    assert inspect(out) == ImageInfo(format=want_format, width=64, height=48)


def test_conform_png_from_jpeg() -> None:
    data = _bytes(_picture((64, 48)), "JPEG")
    out = conform(data, want_format="png", want_size=(64, 48), compression=None)
    assert inspect(out).format == "png"


def test_rgba_to_jpeg_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (32, 32), (200, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 16, 32))  # left half fully transparent
    out = conform(_bytes(image, "PNG"), want_format="jpeg", want_size=(32, 32), compression=95)
    decoded = Image.open(io.BytesIO(out)).convert("RGB")
    assert decoded.mode == "RGB"
    assert all(channel > 240 for channel in _rgb(decoded, (4, 16)))  # white, not black
    red, green, blue = _rgb(decoded, (28, 16))
    assert red > 150 and green < 60 and blue < 60


def test_palette_with_transparency_to_jpeg_and_webp() -> None:
    image = _picture((40, 40), "RGBA").convert("P")
    image.info["transparency"] = 0
    data = _bytes(image, "PNG", transparency=0)
    for fmt in ("jpeg", "webp"):
        assert inspect(conform(data, want_format=fmt, want_size=(40, 40), compression=90)).format == fmt


def test_jpeg_compression_is_the_quality() -> None:
    data = _bytes(_picture((256, 256)), "PNG")
    low = conform(data, want_format="jpeg", want_size=(256, 256), compression=5)
    high = conform(data, want_format="jpeg", want_size=(256, 256), compression=100)
    assert len(low) < len(high)
    zero = conform(data, want_format="webp", want_size=(256, 256), compression=0)
    assert inspect(zero).format == "webp"


@pytest.mark.parametrize("want_format", ["png", "jpeg", "webp"])
def test_conform_upscales_from_the_native_size(want_format: str) -> None:
    data = _bytes(_picture((72, 72)), "PNG")
    out = conform(data, want_format=want_format, want_size=(100, 100), compression=90, native_size=(72, 72))
    assert inspect(out) == ImageInfo(format=want_format, width=100, height=100)


def test_upscale_of_a_palette_image() -> None:
    data = _bytes(_picture((36, 36)).convert("P"), "PNG")
    out = conform(data, want_format="png", want_size=(50, 50), compression=None, native_size=(36, 36))
    assert inspect(out).size == (50, 50)


def test_wrong_size_is_bad() -> None:
    data = _bytes(_picture((50, 40)), "PNG")
    with pytest.raises(BadImage, match="upstream returned 50x40, expected 100x100"):
        conform(data, want_format="png", want_size=(100, 100), compression=None)
    with pytest.raises(BadImage, match="upstream returned 50x40, expected 100x100"):
        conform(data, want_format="png", want_size=(100, 100), compression=None, native_size=(72, 72))


def test_conform_rejects_truncated_bytes() -> None:
    data = _bytes(_picture((64, 64)), "PNG")
    with pytest.raises(BadImage):
        conform(data[: len(data) // 2], want_format="png", want_size=(64, 64), compression=None)


def test_conform_async_matches_conform() -> None:
    data = _bytes(_picture((64, 48)), "PNG")
    work = functools.partial(conform_async, data, want_format="webp", want_size=(64, 48), compression=70)
    out = anyio.run(work)
    assert out == conform(data, want_format="webp", want_size=(64, 48), compression=70)


def test_conform_async_on_small_images_checks_inline_and_converts_in_the_thread() -> None:
    data = _bytes(_picture((64, 48)), "PNG")
    assert len(data) <= INLINE_MAX_BYTES
    same = anyio.run(functools.partial(conform_async, data, want_format="png", want_size=(64, 48), compression=None))
    assert same is data
    for kwargs in ({"want_format": "png", "want_size": (100, 100)}, {"want_format": "png", "want_size": (64, 48)}):
        bad = data[:-20] if kwargs["want_size"] == (64, 48) else data
        with pytest.raises(BadImage):
            anyio.run(functools.partial(conform_async, bad, compression=None, **kwargs))  # type: ignore[arg-type]
    converted = anyio.run(
        functools.partial(conform_async, data, want_format="jpeg", want_size=(64, 48), compression=None)
    )
    assert inspect(converted) == ImageInfo("jpeg", 64, 48)
    recompressed = anyio.run(
        functools.partial(conform_async, data, want_format="png", want_size=(64, 48), compression=50, reencode=True)
    )
    assert recompressed is not data and inspect(recompressed) == ImageInfo("png", 64, 48)


def test_encode_keeps_an_rgb_icc_profile() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.open(io.BytesIO(_bytes(_picture(), "PNG", icc_profile=icc)))
    for fmt in ("png", "jpeg", "webp"):
        assert Image.open(io.BytesIO(encode(image, fmt, 90))).info.get("icc_profile") == icc


def test_encode_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError):
        encode(_picture(), "gif", None)


def test_conform_keeps_a_screening_view_only_where_it_decoded_the_pixels_anyway() -> None:
    """Output screening reads this view instead of decoding the image a second time."""
    picture = _picture((300, 200))
    same = conform_image(_bytes(picture, "PNG"), Wanted("png", (300, 200), None, view_side=64))
    assert same.view is None  # passed through undecoded: the screen decodes it, once
    converted = conform_image(_bytes(picture, "PNG"), Wanted("jpeg", (300, 200), None, view_side=64))
    view = converted.view
    assert inspect(converted.data).format == "jpeg" and view is not None and (view.width, view.height) == (64, 43)
    assert view == screening_view(_bytes(picture, "PNG"), 64)  # the pixels the screen would have decoded
    upscaled = conform_image(_bytes(picture, "PNG"), Wanted("png", (600, 400), None, (300, 200), view_side=64))
    assert inspect(upscaled.data).size == (600, 400) and upscaled.view == view
    assert conform_image(_bytes(picture, "PNG"), Wanted("jpeg", (300, 200), None)).view is None


def test_the_screening_view_is_rgb_reduced_with_transparency_on_white() -> None:
    clear = Image.new("RGBA", (2048, 1024), (0, 0, 0, 0))
    view = screening_view(_bytes(clear, "PNG"), 640)
    assert (view.width, view.height, len(view.rgb)) == (640, 320, 640 * 320 * 3)
    assert set(view.rgb) == {255}
    jpeg = screening_view(_bytes(_picture((1600, 1600)), "JPEG"), 300)  # read at 1/4 scale, then reduced
    assert (jpeg.width, jpeg.height) == (300, 300)
