"""Images the fake upstreams can draw "flagged": a skin-toned oval on an orange ground.

The mark is what the fake moderations endpoint looks for in an image it is sent (the colour at the
centre), and it is also an image the real NudeNet detector scores as `BUTTOCKS_EXPOSED` (about 0.45
to 0.5 at 1024x1024): an abstract shape, no person, which lets tests drive the local classifier's
real inference past a threshold an operator set low.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

MARK = (240, 200, 180)
GROUND = (200, 120, 50)
_TOLERANCE = 24
"""Per channel: lossy formats and the gateway's reduction shift the colour a little."""


def render_marked(width: int, height: int, fmt: str) -> bytes:
    image = Image.new("RGB", (width, height), GROUND)
    ImageDraw.Draw(image).ellipse((width * 0.2, height * 0.2, width * 0.8, height * 0.8), fill=MARK)
    out = io.BytesIO()
    image.save(out, {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt])
    return out.getvalue()


def is_marked(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        centre = rgb.getpixel((rgb.width // 2, rgb.height // 2))
    assert isinstance(centre, tuple)
    return all(abs(int(have) - want) <= _TOLERANCE for have, want in zip(centre, MARK, strict=True))


__all__ = ["GROUND", "MARK", "is_marked", "render_marked"]
