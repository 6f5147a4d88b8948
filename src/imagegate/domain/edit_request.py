"""An edit (`POST /v1/images/edits`): multipart text fields plus input images, made into an `ImageRequest`.

Multipart fields are text, so the integer fields (`n`, `output_compression`, `partial_images`) are
read as integers and `stream` as a boolean here, by their declared kinds; the rest is the generation's validation (`request.build_request`),
with the edit's own rules: the model must say `img2img`, at least one image and at most the model's
`max_input_images`, a `mask` only where the model takes one and only of the first image's size.
Limits on bytes (413) and the decoding of each image happen before, in the service (`input_images`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .catalog import Catalog, Model
from .errors import InvalidRequest
from .fields import Field
from .input_image import InputImage
from .openai_fields import refuse_openai_field
from .request import ImageRequest, build_request, generation_fields, named_model

EDIT_FIELDS = generation_fields(edit=True)
"""An edit's text fields: the generation's and `input_fidelity`."""
KINDS = {field.name: field.kind for field in EDIT_FIELDS}
IMAGE = Field(
    "image",
    "file",
    "the image to edit (`image[]`: several, up to the model's `max_input_images`)",
    required=True,
    choices=("image/png", "image/jpeg", "image/webp"),
)
MASK = Field(
    "mask", "file", "a PNG the size of the first image, its transparent pixels the area to edit", choices=("image/png",)
)
FILE_FIELDS = (IMAGE.name, MASK.name)


def edit_fields(model: Model | None = None) -> tuple[Field, ...]:
    """An edit's parts (as `model` takes them): the text fields, then the files."""
    mask = MASK if model is None else replace(MASK, offered=model.capabilities.extra.edit_mask)
    return (*generation_fields(model, edit=True), IMAGE, mask)


@dataclass(frozen=True, slots=True)
class Upload:
    """One file part of the multipart body, as the client sent it (not yet checked)."""

    field: str  # "image" ("image[]" is read as "image") or "mask"
    filename: str
    data: bytes


def check_field_names(fields: Mapping[str, str], files: list[Upload]) -> None:
    """Refuse, naming it, any part the edit endpoint does not take."""
    for name in list(fields) + [f.field for f in files]:
        if name in FILE_FIELDS and name in fields:
            raise InvalidRequest(f"'{name}' must be a file part, not a text field.", code="invalid_type", param=name)
        if name in KINDS or name in FILE_FIELDS:
            continue
        refuse_openai_field(name, edit=True)
        raise InvalidRequest(f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)
    for upload in files:
        if upload.field not in FILE_FIELDS:
            raise InvalidRequest(
                f"'{upload.field}' must be a text field, not a file.", code="invalid_type", param=upload.field
            )


def edit_model(fields: Mapping[str, str], catalog: Catalog) -> Model:
    """The model named, when it can edit; refused before any image is decoded."""
    model = named_model(catalog, fields.get("model") or None)  # an empty field is a missing one
    if not model.capabilities.img2img:
        raise InvalidRequest(
            f"The model '{model.id}' does not edit images (its catalog entry says img2img: false). "
            "GET /v1/models lists the models with img2img: true.",
            code="unsupported_operation",
            param="model",
        )
    return model


def check_counts(model: Model, files: list[Upload]) -> None:
    images = [f for f in files if f.field == "image"]
    masks = [f for f in files if f.field == "mask"]
    if not images:
        raise InvalidRequest(
            "Missing required parameter: 'image' (one or more image files).",
            code="missing_required_parameter",
            param="image",
        )
    limit = model.capabilities.extra.max_input_images
    if len(images) > limit:
        raise InvalidRequest(
            f"The model '{model.id}' takes at most {limit} input images; got {len(images)}.", param="image"
        )
    if len(masks) > 1:
        raise InvalidRequest("At most one 'mask' may be sent.", param="mask")
    if masks and not model.capabilities.extra.edit_mask:
        raise InvalidRequest(
            f"The model '{model.id}' does not take a 'mask': its upstream edits from the prompt and the images alone.",
            code="unsupported_parameter",
            param="mask",
        )


def parse_edit_request(
    fields: Mapping[str, str], inputs: tuple[InputImage, ...], mask: InputImage | None, catalog: Catalog
) -> ImageRequest:
    """The edit as a request: `inputs` (and `mask`) already decoded and within the byte limits."""
    typed: dict[str, Any] = {k: _typed(k, v) for k, v in fields.items() if v != ""}
    if mask is not None:
        first = inputs[0]
        if mask.format != "png":
            raise InvalidRequest("The 'mask' must be a PNG (its alpha channel marks the area to edit).", param="mask")
        if (mask.width, mask.height) != (first.width, first.height):
            raise InvalidRequest(
                f"The 'mask' is {mask.size}; it must be the size of the first image, {first.size}.", param="mask"
            )
    return build_request(typed, catalog, inputs=inputs, mask=mask)


def text_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """JSON fields (a surface that names its input images by URL) as an edit's multipart text: each
    must have the JSON type the generation takes (an integer `n`, a boolean `stream`, strings else),
    so a chat edit refuses `"n": "2"` as a generation does; nulls are left out."""
    text: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if KINDS.get(name) == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequest(f"'{name}' must be an integer.", code="invalid_type", param=name)
            text[name] = str(value)
        elif KINDS.get(name) == "boolean":
            if not isinstance(value, bool):
                raise InvalidRequest(f"'{name}' must be a boolean.", code="invalid_type", param=name)
            text[name] = "true" if value else "false"
        elif isinstance(value, str):
            text[name] = value
        else:
            raise InvalidRequest(f"'{name}' must be a string.", code="invalid_type", param=name)
    return text


def _typed(name: str, value: str) -> Any:
    if KINDS.get(name) == "integer":
        text = value.strip()
        if re.fullmatch(r"-?[0-9]{1,20}", text) is None:  # ASCII digits: "²".isdigit() is true
            raise InvalidRequest(f"'{name}' must be an integer.", code="invalid_type", param=name)
        return int(text)
    if KINDS.get(name) == "boolean":
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise InvalidRequest(f"'{name}' must be a boolean (true or false).", code="invalid_type", param=name)
        return lowered == "true"
    return value


__all__ = [
    "EDIT_FIELDS",
    "FILE_FIELDS",
    "Upload",
    "check_counts",
    "check_field_names",
    "edit_fields",
    "edit_model",
    "parse_edit_request",
    "text_fields",
]
