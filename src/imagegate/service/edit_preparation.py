"""Turning an edit's multipart parts into a request: names, the model's img2img, counts, bytes (413),
decoding (Pillow, in a thread), then the fields. Cheap refusals come before any image is decoded."""

from __future__ import annotations

import hashlib
from typing import Any

from ..domain.catalog import Catalog
from ..domain.edit_request import Upload, check_counts, check_field_names, edit_model, parse_edit_request
from ..domain.request import ImageRequest
from ..input_images import check_bytes, decode_all


async def prepare_edit(
    fields: dict[str, str], files: list[Upload], catalog: Catalog, max_image_bytes: int
) -> tuple[dict[str, Any], ImageRequest]:
    """(what the Idempotency-Key's body hash covers, the edit request)."""
    check_field_names(fields, files)
    model = edit_model(fields, catalog)
    check_counts(model, files)
    check_bytes(files, min(max_image_bytes, model.capabilities.extra.max_input_image_bytes))
    decoded = await decode_all(files)
    inputs = tuple(image for image, upload in zip(decoded, files, strict=True) if upload.field == "image")
    mask = next((image for image, upload in zip(decoded, files, strict=True) if upload.field == "mask"), None)
    request = parse_edit_request(fields, inputs, mask, catalog)
    return idempotency_body(fields, files), request


def idempotency_body(fields: dict[str, str], files: list[Upload]) -> dict[str, Any]:
    """The edit as JSON for the Idempotency-Key's body hash: the fields, and each file by its SHA-256."""
    return {**fields, "files": [[f.field, hashlib.sha256(f.data).hexdigest()] for f in files]}


__all__ = ["idempotency_body", "prepare_edit"]
