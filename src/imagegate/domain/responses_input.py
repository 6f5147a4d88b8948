"""The `input` of a Responses API request, read for an image: the prompt is the text of the last user
message (or `input` itself, a string); that message's `input_image` parts (data or https URLs, read
later by `service.images.inputs`) and the latest `image_generation_call` sent back with its `result`
(conversation state kept by the client) are what an edit starts from. System, developer and
assistant messages are accepted and not read: no text model runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from .errors import InvalidRequest
from .fields import Field
from .image_url import ImageRef

ROLES = ("user", "assistant", "system", "developer")
IMAGE_URL = Field("image_url", "string", "a data URL or an https URL", required=True)
FILE_ID = Field("file_id", "string", "this gateway has no Files API: send the image as 'image_url'", offered=False)


def _typed(kind: str, *fields: Field, doc: str = "") -> Field:
    """An object of `type` `kind` and these fields."""
    return Field("part", "object", doc, fields=(Field("type", "string", required=True, choices=(kind,)), *fields))


INPUT_IMAGE = _typed("input_image", IMAGE_URL, FILE_ID, Field("detail", "string"))
INPUT_TEXT = _typed("input_text", Field("text", "string", required=True))
_ITEM_EXTRAS = tuple(Field(name, "any", "not read") for name in ("id", "status"))
_MESSAGE = Field("type", "string", "left out: a message", choices=("message",))
_TEXT = _typed("input_text", Field("text", "string", required=True, non_blank=True), doc="a text part")
OTHER_MESSAGE = Field(
    "item",
    "object",
    fields=(
        _MESSAGE,
        Field("role", "string", required=True, choices=ROLES[1:]),
        Field("content", "any", "not read"),
        *_ITEM_EXTRAS,
    ),
)
EARLIER_IMAGE = replace(
    _typed(
        "image_generation_call",
        Field("result", "string", "the image, base64", required=True, non_blank=True),
        doc="an image_generation_call sent back",
    ),
    values=Field("value", "any", "the call's other fields, as the answer gave them: not read"),
)
Images = Literal["any", "none", "earlier", "input"]
"""Which images an input holds: any; none; an image_generation_call sent back; an `input_image`."""


def user_message(images: Images = "any") -> Field:
    """A user message: text (not blank: the last one's is the prompt), and `input_image` parts unless
    `images` is "none"; "input": at least one."""
    parts = (INPUT_TEXT,) if images == "none" else (INPUT_TEXT, INPUT_IMAGE)
    held = (_TEXT, replace(INPUT_IMAGE, doc="an input_image")) if images == "input" else (_TEXT,)
    listed = Field("content", "array", items=Field("part", "object", variants=parts), contains=held)
    content = Field(
        "content",
        "string",
        "text, or `input_text` and `input_image` parts; the last user message's text is the prompt",
        required=True,
        variants=(listed,) if images == "input" else (Field("content", "string", non_blank=True), listed),
    )
    fields = (_MESSAGE, Field("role", "string", required=True, choices=("user",)), content, *_ITEM_EXTRAS)
    return Field("item", "object", "a user message", fields=fields)


def input_field(images: Images = "any") -> Field:
    """`input` as declared; `images` narrows it to inputs that hold (or do not hold) images to edit."""
    items: tuple[Field, ...] = (user_message("none" if images == "none" else "any"), OTHER_MESSAGE)
    if images != "none":
        items += (EARLIER_IMAGE,)
    held = {"earlier": (EARLIER_IMAGE,), "input": (user_message("input"),)}.get(images, ())
    listed = Field("input", "array", items=Field("item", "object", variants=items), contains=(user_message(), *held))
    text = Field("input", "string", non_blank=True)
    return Field(
        "input",
        "string",
        "a string, or input items: messages (the last user message's text is the prompt, its `input_image`s the "
        "images to edit) and `image_generation_call` items sent back with their `result`",
        required=True,
        variants=(listed,) if images in ("earlier", "input") else (text, listed),
    )


INPUT = input_field()


@dataclass(frozen=True, slots=True)
class EarlierImage:
    """An earlier image sent back as input: an `image_generation_call` item with its `result`."""

    b64: str
    param: str
    """Where the body has it (what a refusal of it names)."""


def read_input(value: Any) -> tuple[str, EarlierImage | None, tuple[ImageRef, ...]]:
    """(the prompt, the latest earlier image sent back, the images): the last user message's text
    and `input_image`s."""
    if isinstance(value, str):
        return _prompt(value), None, ()
    if value is None:
        raise InvalidRequest("Missing required parameter: 'input'.", code="missing_required_parameter", param="input")
    if not isinstance(value, list):
        raise InvalidRequest("'input' must be a string or a list of input items.", code="invalid_type", param="input")
    user: tuple[str, Any] | None = None
    earlier: EarlierImage | None = None
    for index, item in enumerate(value):
        param = f"input[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"'{param}' must be an object.", code="invalid_type", param=param)
        kind = item.get("type") or "message"  # left out or null: a message
        if kind == "message":
            role = item.get("role")
            if role not in ROLES:
                raise InvalidRequest(f"'{param}.role' must be one of: {', '.join(ROLES)}.", param=f"{param}.role")
            if role == "user":
                user = (param, item.get("content"))
        elif kind == "image_generation_call":
            earlier = _earlier_image(item, param)
        else:
            raise InvalidRequest(
                f"Input items of type '{str(kind)[:40]}' are not read here: this gateway reads messages and "
                "image_generation_call items.",
                param=f"{param}.type",
            )
    if user is None:
        raise InvalidRequest(
            "The input has no user message: its text is the image's prompt.",
            code="missing_required_parameter",
            param="input",
        )
    prompt, images = _user_content(*user)
    return prompt, earlier, images


def _earlier_image(item: Mapping[str, Any], param: str) -> EarlierImage:
    result = item.get("result")
    if not isinstance(result, str) or not result:
        raise InvalidRequest(
            "An image_generation_call sent back as input must carry its 'result' (the image in base64); "
            "or send 'previous_response_id' instead.",
            param=f"{param}.result",
        )
    return EarlierImage(result, f"{param}.result")


def _user_content(param: str, content: Any) -> tuple[str, tuple[ImageRef, ...]]:
    if isinstance(content, str):
        return _prompt(content), ()
    if not isinstance(content, list):
        raise InvalidRequest(
            f"'{param}.content' must be a string or a list of content parts.",
            code="invalid_type",
            param=f"{param}.content",
        )
    texts: list[str] = []
    images: list[ImageRef] = []
    for index, part in enumerate(content):
        where = f"{param}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "input_text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "input_image":
            images.append(input_image(part, where))
        else:
            raise InvalidRequest(
                f"'{where}' must be an input_text part (with 'text') or an input_image part: those are what an "
                "image is made from.",
                param=where,
            )
    return _prompt("\n".join(texts)), tuple(images)


def input_image(part: Mapping[str, Any], where: str) -> ImageRef:
    if part.get("file_id") is not None:
        raise InvalidRequest(
            "Input images by 'file_id' are not offered (this gateway has no Files API): send the image as a "
            "data URL or an https URL in 'image_url'.",
            code="unsupported_parameter",
            param=f"{where}.file_id",
        )
    if part.get("image_url") is None:
        raise InvalidRequest(
            f"Missing required parameter: '{where}.image_url' (a data URL or an https URL).",
            code="missing_required_parameter",
            param=f"{where}.image_url",
        )
    return ImageRef(part["image_url"], f"{where}.image_url")  # read (and type-checked) by service.images.inputs


def _prompt(text: str) -> str:
    if not text.strip():
        raise InvalidRequest(
            "The input has no text: the text of the last user message is the image's prompt.",
            code="missing_required_parameter",
            param="input",
        )
    return text


__all__ = ["INPUT", "INPUT_IMAGE", "ROLES", "EarlierImage", "input_image", "read_input"]
