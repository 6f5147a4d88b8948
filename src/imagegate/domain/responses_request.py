"""A Responses API request (`POST /v1/responses`) with OpenAI's `image_generation` tool, read into
what the gateway runs: the Images API's fields of one image, the images an edit starts from (as the
body names them, not yet read), and what the answer echoes.

No text model runs here. The prompt is the text of the last user message; that message's
`input_image` parts, an earlier `image_generation_call` sent back as input and `previous_response_id`'s
image are what an edit starts from; the tool's options are the Images API's fields of the same names.
The image model is the tool's `model`, else the request's `model` when that is a catalog image model.
Fields only a text model would use (`temperature`, `reasoning`, …) are accepted and ignored; a field
asking for what this gateway cannot do is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import Catalog
from .errors import InvalidRequest
from .fields import read_fields
from .image_url import ImageRef
from .openai_fields import MAX_PARTIAL_IMAGES, REFUSED
from .responses_fields import (
    ACTIONS,
    IGNORED,
    IMAGE_FIELDS,
    MAX_METADATA_PAIRS,
    RULES,
    TOOL_TYPE,
    UNSUPPORTED,
    responses_fields,
    tool_field,
)
from .responses_input import EarlierImage, input_image, read_input
from .text import check_id

_TOOL = tool_field().fields or ()
_TOOL_STRINGS = frozenset(field.name for field in _TOOL if field.kind == "string" and field.name != "type")
_TOOL_INTEGERS = frozenset(field.name for field in _TOOL if field.kind == "integer")
TOOL_FIELDS = frozenset(field.name for field in _TOOL if field.offered)
FIELDS = frozenset(field.name for field in responses_fields() if field.offered)
"""The names the declarations take (`responses_fields.py`); those they refuse are said apart."""


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    fields: dict[str, Any]
    """The Images API's fields of the one image (`model`, `prompt`, `size`, …), as JSON types."""
    previous_response_id: str | None
    earlier: EarlierImage | None
    images: tuple[ImageRef, ...]
    """The last user message's `input_image`s. An edit starts from `previous_response_id`'s image,
    then `earlier`, then these."""
    mask: ImageRef | None
    action: str
    """`auto` (an edit when there is an image), `generate` (input images ignored) or `edit`."""
    store: bool
    echo: dict[str, Any]
    """The request's fields the answer repeats (`tools`, `tool_choice`, `metadata`, …)."""
    params: dict[str, str]
    """Each Images API field -> where this body gave it (`size` -> `tools[0].size`): what an error names."""

    @property
    def stream(self) -> bool:
        return bool(self.fields.get("stream"))

    @property
    def image_count(self) -> int:
        """How many images the request names to start from."""
        return (self.previous_response_id is not None) + (self.earlier is not None) + len(self.images)


def parse_responses_request(body: Mapping[str, Any], catalog: Catalog) -> ResponsesRequest:
    """The request, or the contract's 400 naming the field (`tools[0].size`, `input[1].content[0]`)."""
    _check_names(body)
    stream = _optional(body, "stream", bool, "a boolean") or False
    store = _optional(body, "store", bool, "a boolean")
    tool_param, tool = _tool(body)
    model, model_param = _image_model(body, tool, tool_param, catalog)
    prompt, earlier, images = read_input(body.get("input"))
    previous = _optional(body, "previous_response_id", str, "a string")
    fields: dict[str, Any] = {"model": model, "prompt": prompt, "stream": stream}
    fields.update({name: tool[name] for name in IMAGE_FIELDS if tool.get(name) is not None})
    partial = tool.get("partial_images")
    if partial is not None and not 0 <= partial <= MAX_PARTIAL_IMAGES:
        raise InvalidRequest(
            f"'partial_images' must be between 0 and {MAX_PARTIAL_IMAGES}; got {partial}.",
            param=f"{tool_param}.partial_images",
        )
    if stream and partial is not None:  # unstreamed, partial images have nowhere to go (as on OpenAI)
        fields["partial_images"] = partial
    for name in ("user", "safety_identifier"):
        if _optional(body, name, str, "a string") is not None:
            fields[name] = body[name]
    params = {name: f"{tool_param}.{name}" for name in (*IMAGE_FIELDS, "partial_images")}
    params.update(model=model_param, prompt="input", image="input", mask=f"{tool_param}.input_image_mask")
    params["action"] = f"{tool_param}.action"
    read_fields(body, responses_fields(), RULES)  # all the API document says of its shape, beyond the checks above
    return ResponsesRequest(
        fields=fields,
        previous_response_id=None if previous is None else check_id(previous, "previous_response_id"),
        earlier=earlier,
        images=images,
        mask=_mask(tool, tool_param),
        action=tool.get("action") or "auto",
        store=True if store is None else store,
        echo=_echo(body, tool),
        params=params,
    )


def _check_names(body: Mapping[str, Any]) -> None:
    for name in body:
        if name in UNSUPPORTED:
            if body[name] is None:  # null counts as not given
                continue
            raise InvalidRequest(UNSUPPORTED[name], code="unsupported_parameter", param=name)
        if name not in FIELDS:
            raise InvalidRequest(f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)
    background = body.get("background")
    if background is not None and not isinstance(background, bool):
        raise InvalidRequest("'background' must be a boolean.", code="invalid_type", param="background")
    if background:
        raise InvalidRequest(
            "Background responses are not offered: send the request without 'background' (the Images API's "
            "async jobs, 'Prefer: respond-async', run a request later).",
            code="unsupported_parameter",
            param="background",
        )


def _optional(fields: Mapping[str, Any], name: str, kind: type, what: str, param: str | None = None) -> Any:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidRequest(f"'{param or name}' must be {what}.", code="invalid_type", param=param or name)
    return value


def _tool(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(where the image_generation tool is, the tool); one must be given or chosen."""
    choice = body.get("tool_choice")
    chosen = _tool_choice(choice)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequest("'tools' must be a list of tools.", code="invalid_type", param="tools")
    found: tuple[str, dict[str, Any]] | None = None
    for index, tool in enumerate(tools or ()):
        param = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"'{param}' must be an object.", code="invalid_type", param=param)
        if tool.get("type") != TOOL_TYPE:
            raise InvalidRequest(
                f"This gateway runs only the 'image_generation' tool: no text model runs here to call a "
                f"'{str(tool.get('type'))[:40]}' tool.",
                code="unsupported_parameter",
                param=f"{param}.type",
            )
        if found is not None:
            raise InvalidRequest("Give at most one 'image_generation' tool.", param=param)
        found = (param, _tool_fields(tool, param))
    if found is not None:
        return found
    if chosen:
        return "tool_choice", {"type": TOOL_TYPE}
    raise InvalidRequest(
        "This gateway answers the Responses API with the image_generation tool: send "
        '"tools": [{"type": "image_generation"}] (its options are the Images API\'s).',
        code="missing_required_parameter",
        param="tools",
    )


def _tool_choice(choice: Any) -> bool:
    """Whether `tool_choice` names the image_generation tool; a choice that rules it out is refused."""
    if choice is None or choice in ("auto", "required"):
        return False
    if isinstance(choice, dict) and choice.get("type") == TOOL_TYPE:
        return True
    raise InvalidRequest(
        '\'tool_choice\' must be "auto", "required" or {"type": "image_generation"}: the image_generation '
        "tool is the only thing this gateway runs.",
        param="tool_choice",
    )


def _tool_fields(tool: dict[str, Any], param: str) -> dict[str, Any]:
    for name in tool:
        if name in REFUSED:
            if tool[name] is None:  # null counts as not given
                continue
            raise InvalidRequest(REFUSED[name], code="unsupported_parameter", param=f"{param}.{name}")
        if name not in TOOL_FIELDS:
            raise InvalidRequest(
                f"Unknown parameter: '{param}.{name}'.", code="unknown_parameter", param=f"{param}.{name}"
            )
    for name in _TOOL_STRINGS:
        _optional(tool, name, str, "a string", f"{param}.{name}")
    for name in _TOOL_INTEGERS:
        _optional(tool, name, int, "an integer", f"{param}.{name}")
    action = tool.get("action")
    if action is not None and action not in ACTIONS:
        raise InvalidRequest(
            f"Invalid value for '{param}.action': '{action}'. Supported values are: {', '.join(ACTIONS)}.",
            param=f"{param}.action",
        )
    return tool


def _image_model(
    body: Mapping[str, Any], tool: Mapping[str, Any], tool_param: str, catalog: Catalog
) -> tuple[str, str]:
    """(the image model's name, where it was given): the tool's `model`, else the request's."""
    named, param = tool.get("model"), f"{tool_param}.model"
    asked = _optional(body, "model", str, "a string")
    if named is None:
        named, param = asked, "model"
    if named is None:
        raise InvalidRequest(
            "Missing required parameter: 'model' (an image model, here or as the tool's 'model').",
            code="missing_required_parameter",
            param="model",
        )
    if catalog.find(named) is None:
        raise InvalidRequest(
            f"The model '{named[:100]}' is not an image model of this gateway. It serves image models only (no "
            "text model runs): name one as the image_generation tool's 'model' or as 'model'. GET /v1/models "
            "lists them.",
            code="model_not_found",
            param=param,
        )
    return named, param


def _mask(tool: Mapping[str, Any], tool_param: str) -> ImageRef | None:
    mask = tool.get("input_image_mask")
    if mask is None:
        return None
    param = f"{tool_param}.input_image_mask"
    if not isinstance(mask, dict):
        raise InvalidRequest(f"'{param}' must be an object with 'image_url'.", code="invalid_type", param=param)
    return input_image(mask, param)


def _echo(body: Mapping[str, Any], tool: Mapping[str, Any]) -> dict[str, Any]:
    """What the answer repeats of the request, each in the type OpenAI's Response object gives it."""

    def number(name: str) -> Any:
        value = body.get(name)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    choice = body.get("tool_choice")
    return {
        "instructions": body["instructions"] if isinstance(body.get("instructions"), str) else None,
        "metadata": _metadata(body.get("metadata")),
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "temperature": number("temperature"),
        "top_p": number("top_p"),
        "max_output_tokens": number("max_output_tokens"),
        "tool_choice": choice if isinstance(choice, (str, dict)) else "auto",
        "tools": [dict(tool)],
        "user": body.get("user"),
        "safety_identifier": body.get("safety_identifier"),
    }


def _metadata(value: Any) -> dict[str, str]:
    """OpenAI's rule: at most 16 pairs, keys up to 64 characters, values up to 512, all strings."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("'metadata' must be an object of strings.", code="invalid_type", param="metadata")
    if len(value) > MAX_METADATA_PAIRS:
        raise InvalidRequest(f"'metadata' may hold at most {MAX_METADATA_PAIRS} pairs.", param="metadata")
    for key, item in value.items():
        if len(key) > 64 or not isinstance(item, str) or len(item) > 512:
            raise InvalidRequest(
                "Each 'metadata' key must be at most 64 characters and each value a string of at most 512.",
                param=f"metadata.{key[:64]}",
            )
    return dict(value)


__all__ = [
    "FIELDS",
    "IGNORED",
    "EarlierImage",
    "ResponsesRequest",
    "parse_responses_request",
]
