"""An image a client sent to edit (or a mask), already checked to decode."""

from __future__ import annotations

from dataclasses import dataclass

MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class InputImage:
    data: bytes
    format: str  # "png" | "jpeg" | "webp"
    width: int
    height: int
    filename: str = "image"

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.format]

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


__all__ = ["MIME_TYPES", "InputImage"]
