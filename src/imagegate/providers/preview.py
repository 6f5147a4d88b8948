"""The offline preview provider: free, instant, deterministic placeholder images.

It draws at `request.size` directly (it can draw any size, so the gateway never upscales its
output) and in the requested format, so a client integrating against it sees real images of
exactly the shape it will get from a paid model. Same request, same bytes.
"""

from __future__ import annotations

import colorsys
import hashlib
import math

import anyio
import anyio.to_thread
from PIL import Image, ImageDraw, ImageFont

from ..domain.catalog import Route
from ..domain.credentials import Credentials
from ..domain.ports import PartialSink
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage
from ..imaging.images import encode
from ..imaging.pixels import reserve
from .base import completed_only

_PNG_LEVEL = 1
"""Fast zlib for preview PNGs: a 4096x4096 gradient at the default level costs several times more."""

_GRADIENT_STEPS = 32
"""Long side of the gradient as drawn before it is resized up (cheap; bilinear keeps a ramp exact)."""

_PROMPT_LINES = 4
_PROMPT_CHARS = 600
"""Prompt text considered for wrapping; anything longer cannot fit in `_PROMPT_LINES` anyway."""

_TEXT = (255, 255, 255)
_OUTLINE = (24, 24, 32)
_MIN_FONT = 10


class PreviewProvider:
    """Draws labelled "PREVIEW" images locally; implements `domain.ports.Provider`."""

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """`request.n` images, each rendered in a worker thread.

        `timeout` is not applied: rendering is local and bounded (well under a second per image).
        """
        rendered: list[bytes] = [b""] * request.n

        async def render_one(index: int) -> None:
            async with reserve(request.width * request.height):  # waits while the pixel budget is spent
                rendered[index] = await anyio.to_thread.run_sync(render, request, index)

        async with anyio.create_task_group() as group:
            for index in range(request.n):
                group.start_soon(render_one, index)
        return [GeneratedImage(data=data, revised_prompt=request.upstream_prompt, quality=None) for data in rendered]

    async def edit(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """A placeholder of the requested shape, as for a generation (the input images are not drawn)."""
        return await self.generate(request, timeout=timeout)

    async def stream(self, request: ImageRequest, *, timeout: float, partial: PartialSink) -> list[GeneratedImage]:
        """Nothing to stream: the image is drawn at once."""
        return await completed_only(self, request, timeout)

    async def aclose(self) -> None:
        """Nothing to release."""


def render(request: ImageRequest, index: int) -> bytes:
    """Image `index` (0-based) of `request`, encoded; a pure function of its arguments."""
    width, height = request.width, request.height
    digest = hashlib.sha256(request.prompt.encode("utf-8")).digest()
    if request.background == "transparent":  # the labels alone, on nothing
        image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    else:
        image = _gradient(width, height, digest, index)
    _draw_labels(image, request, index)
    return encode(image, request.output_format, request.output_compression, png_compress_level=_PNG_LEVEL)


def _gradient(width: int, height: int, digest: bytes, index: int) -> Image.Image:
    """A soft two-colour gradient; colours come from the prompt, the direction turns with `index`."""
    hue = digest[0] / 255
    first = _pastel(hue, digest[2])
    second = _pastel((hue + 0.25 + digest[1] / 255 * 0.25) % 1.0, digest[3])
    angle = math.radians(digest[4] / 255 * 360 + index * 67)
    scale = _GRADIENT_STEPS / max(width, height)
    small_w, small_h = max(2, round(width * scale)), max(2, round(height * scale))
    dx, dy = math.cos(angle) * small_w, math.sin(angle) * small_h
    positions = [
        (x / (small_w - 1) - 0.5) * dx + (y / (small_h - 1) - 0.5) * dy for y in range(small_h) for x in range(small_w)
    ]
    low, high = min(positions), max(positions)
    span = (high - low) or 1.0
    mask = Image.new("L", (small_w, small_h))
    mask.putdata([round((p - low) / span * 255) for p in positions])
    small = Image.composite(Image.new("RGB", mask.size, second), Image.new("RGB", mask.size, first), mask)
    return small.resize((width, height), Image.Resampling.BILINEAR)  # exact for a linear ramp


def _pastel(hue: float, jitter: int) -> tuple[int, int, int]:
    lightness = 0.55 + jitter / 255 * 0.15
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.55)
    return round(red * 255), round(green * 255), round(blue * 255)


def _draw_labels(image: Image.Image, request: ImageRequest, index: int) -> None:
    """Draws "PREVIEW" large, then model, size and index, then the prompt, centred as one block."""
    width, height = image.size
    unit = min(width, height)
    max_text = width * 0.86
    label = _fitted_font("PREVIEW", unit * 0.2, max_text)
    meta_text = f"{request.model.id}  \u00b7  {request.size}  \u00b7  {index + 1}/{request.n}"
    meta = _fitted_font(meta_text, unit * 0.05, max_text)
    body = _font(unit * 0.035)
    prompt_lines = _wrap(request.prompt, body, max_text, _PROMPT_LINES)

    rows: list[tuple[str, ImageFont.FreeTypeFont, float]] = [
        ("PREVIEW", label, label.size * 1.15),
        (meta_text, meta, meta.size * 1.9),
        *((line, body, body.size * 1.3) for line in prompt_lines),
    ]
    block = sum(advance for _, _, advance in rows)
    y = max(0.0, (height - block) / 2)
    draw = ImageDraw.Draw(image)
    for text, font, advance in rows:
        stroke = max(1, round(font.size / 22))
        draw.text(
            (width / 2, y),
            text,
            font=font,
            anchor="ma",
            fill=_TEXT,
            stroke_width=stroke,
            stroke_fill=_OUTLINE,
        )
        y += advance


def _font(size: float) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=max(_MIN_FONT, round(size)))
    assert isinstance(font, ImageFont.FreeTypeFont), "Pillow was built without FreeType"
    return font


def _fitted_font(text: str, size: float, max_width: float) -> ImageFont.FreeTypeFont:
    """The default font at `size`, smaller if `text` would be wider than `max_width`."""
    font = _font(size)
    text_width = font.getlength(text)
    if text_width <= max_width:
        return font
    return _font(font.size * max_width / text_width)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to `max_lines`; over-long words are split, and a cut is marked with "..."."""
    words = text[:_PROMPT_CHARS].split()
    truncated = len(text) > _PROMPT_CHARS
    lines: list[str] = []
    current = ""
    while words:
        word = words.pop(0)
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
            words.insert(0, word)
        else:
            cut = _fitting_prefix(word, font, max_width)
            lines.append(word[:cut])
            if word[cut:]:
                words.insert(0, word[cut:])
        if len(lines) == max_lines:
            truncated = truncated or bool(words) or bool(current)
            break
    else:
        if current:
            lines.append(current)
    if truncated and lines:
        lines[-1] = _with_ellipsis(lines[-1], font, max_width)
    return lines


def _fitting_prefix(word: str, font: ImageFont.FreeTypeFont, max_width: float) -> int:
    """Length of the longest prefix of `word` that fits (at least one character)."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(word[:middle]) <= max_width:
            low = middle
        else:
            high = middle - 1
    return low


def _with_ellipsis(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    while line and font.getlength(line + "...") > max_width:
        line = line[:-1]
    return line.rstrip() + "..."


def build(route: Route, credentials: Credentials, client: object) -> PreviewProvider:
    return PreviewProvider()


__all__ = ["PreviewProvider", "build", "render"]
