"""A batch line of `/v1/images/edits`: OpenAI's JSON edit body, whose input images are named by URL
(`images: [{"image_url": "data:…" | "https://…"}]`), read into the edit's text fields and image
references; and the request it will be, for the batch's quote, before any image is read.

The images are read when the line runs (`service.images.inputs`: a data URL decoded, an https URL
fetched under the address rules), exactly as a chat or Responses edit names them. Not taken here:
`file_id` images (the gateway keeps no uploaded images) and a `mask` (an edit line refuses it).
"""

from __future__ import annotations

from typing import Any

from .catalog import Catalog
from .edit_request import Upload, check_counts, check_field_names, edit_model, parse_edit_request, text_fields
from .errors import InvalidRequest
from .image_url import ImageRef
from .input_image import InputImage
from .request import ImageRequest

_UNREAD = InputImage(b"", "png", 1, 1)
"""An input image not read yet: an edit's fields are checked the same whatever its images are."""


def edit_line(body: dict[str, Any]) -> tuple[dict[str, Any], list[ImageRef]]:
    """(the edit's fields, its images by URL); the contract's 400 naming what is wrong."""
    if "mask" in body:
        raise InvalidRequest(
            "A batch's edit does not take a 'mask' yet; send that edit on its own.",
            code="unsupported_parameter",
            param="mask",
        )
    images = body.get("images")
    if not isinstance(images, list) or not images:
        raise InvalidRequest(
            '\'images\' is required: a list of {"image_url": "data:…" or "https://…"}.',
            code="missing_required_parameter",
            param="images",
        )
    refs = []
    for index, item in enumerate(images):
        param = f"images[{index}]"
        if isinstance(item, dict) and "file_id" in item:
            raise InvalidRequest(
                "Images named by 'file_id' are not taken: name each by 'image_url' (a data or https URL).",
                code="unsupported_value",
                param=f"{param}.file_id",
            )
        if not isinstance(item, dict) or set(item) != {"image_url"}:
            raise InvalidRequest(f'\'{param}\' must be {{"image_url": "…"}}.', code="invalid_type", param=param)
        refs.append(ImageRef(item["image_url"], f"{param}.image_url"))
    return {k: v for k, v in body.items() if k != "images"}, refs


def edit_line_request(body: dict[str, Any], catalog: Catalog) -> ImageRequest:
    """The request the line will be (its model, size, quality, n: what it is priced at), checked as
    its edit will be, its images not read."""
    fields, refs = edit_line(body)
    text = text_fields(fields)
    uploads = [Upload("image", ref.param, b"") for ref in refs]
    check_field_names(text, uploads)
    model = edit_model(text, catalog)
    check_counts(model, uploads)
    return parse_edit_request(text, (_UNREAD,) * len(refs), None, catalog)


__all__ = ["edit_line", "edit_line_request"]
