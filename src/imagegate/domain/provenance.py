"""What the gateway says about an image it hands out: its C2PA provenance, as plain facts.

The facts are gathered where the image is made ready for the client (`routing.conform`): which model
drew it, whether it is a test-mode placeholder, what the gateway did to the upstream's bytes, and the
upstream's own bytes when they carry a manifest of their own (the parent ingredient). An
`ImageMarker` (`domain.ports`) turns them into a signed manifest.

`carries_manifest` walks the container's structure (PNG chunks, JPEG segments, RIFF chunks) without
decoding pixels, so deciding whether there is a parent to keep costs microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
"""IPTC's digital source type of media made by a model trained on sampled content (generative AI)."""
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
"""IPTC's digital source type of media made purely by an algorithm: the test-mode placeholder."""


class Change(StrEnum):
    """What the gateway did to the upstream's bytes (the C2PA action it is recorded as)."""

    CONVERTED = "c2pa.converted"
    """Re-encoded: another format, or another compression than the upstream could apply."""
    RESIZED = "c2pa.resized"
    """Upscaled (Lanczos) from the route's native size."""


@dataclass(frozen=True, slots=True)
class Edit:
    change: Change
    description: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Who made the image: the catalog's model and its vendor, or the offline preview standing in for it."""

    model_id: str
    vendor: str
    preview: bool = False


@dataclass(frozen=True, slots=True)
class Marking:
    """Everything a manifest of one image says, besides who signs it."""

    origin: Origin
    format: str
    """The delivered bytes' format: png, jpeg or webp."""
    edits: tuple[Edit, ...] = ()
    parent: bytes | None = None
    """The upstream's bytes as delivered, when they carry a C2PA manifest: it becomes the parent ingredient."""

    @property
    def parent_format(self) -> str | None:
        return None if self.parent is None else sniff_format(self.parent)


def sniff_format(data: bytes) -> str | None:
    """png, jpeg or webp by the file's signature; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def carries_manifest(data: bytes) -> bool:
    """Whether the image embeds a C2PA manifest store: a PNG `caBX` chunk, a JPEG APP11 JUMBF segment
    labelled c2pa, or a WebP `C2PA` chunk. A quick substring test rules most images out first."""
    fmt = sniff_format(data)
    if fmt == "png":
        return b"caBX" in data and _png_has_chunk(data, b"caBX")
    if fmt == "jpeg":
        return b"c2pa" in data and _jpeg_has_c2pa(data)
    if fmt == "webp":
        return b"C2PA" in data and _riff_has_chunk(data, b"C2PA")
    return False


def _png_has_chunk(data: bytes, kind: bytes) -> bool:
    at = 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        name = data[at + 4 : at + 8]
        if name == kind:
            return True
        if name == b"IEND":
            return False
        at += 12 + length
    return False


def _jpeg_has_c2pa(data: bytes) -> bool:
    """APP11 segments before the scan data; C2PA puts its JUMBF boxes there, labelled `c2pa`."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA or marker == 0xD9:  # start of scan, end of image: no more metadata
            return False
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == 0xEB and b"c2pa" in data[at + 4 : at + 2 + length]:
            return True
        at += 2 + length
    return False


def _riff_has_chunk(data: bytes, kind: bytes) -> bool:
    at = 12
    while at + 8 <= len(data):
        if data[at : at + 4] == kind:
            return True
        length = int.from_bytes(data[at + 4 : at + 8], "little")
        at += 8 + length + (length & 1)  # chunks are padded to even sizes
    return False


__all__ = [
    "ALGORITHMIC_MEDIA",
    "TRAINED_ALGORITHMIC_MEDIA",
    "Change",
    "Edit",
    "Marking",
    "Origin",
    "carries_manifest",
    "sniff_format",
]
