"""The Responses API's request body (`POST /v1/responses` with the image_generation tool), declared:
what its reader (`domain/responses_request.py`) checks and what the API document shows.

The document also says, per model, what the reader and the endpoint then decide in code: which image
model runs (the tool's `model`, else the request's), the tool's options as that model takes them, and
how the body makes its image (`responses_variants`, one variant per model and mode: `action:
generate`; no image given; an edit, naming its image as an `input_image`, an `image_generation_call`
sent back or `previous_response_id`, on a model that edits). No body is of two variants.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from .catalog import Model
from .fields import Field, GivenOne, Rule
from .openai_fields import INPUT_FIDELITY, PARTIAL_IMAGES, REFUSED, extras_for, extras_rules
from .request import COMPRESSION_NEEDS_FORMAT, generation_fields
from .responses_input import IMAGE_URL, Images, input_field
from .text import MAX_ID_CHARS

TOOL_TYPE = "image_generation"
IMAGE_FIELDS = (
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "input_fidelity",
    "complexity",
)
"""The tool's options that are the Images API's fields of the same name."""
ACTIONS = ("auto", "generate", "edit")
IGNORED = frozenset(
    {
        "instructions",
        "temperature",
        "top_p",
        "top_logprobs",
        "max_output_tokens",
        "max_tool_calls",
        "parallel_tool_calls",
        "reasoning",
        "text",
        "truncation",
        "include",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
        "stream_options",
        "context_management",
    }
)
"""What the text model that would call the tool reads: accepted and ignored (none runs)."""
UNSUPPORTED = {
    "conversation": "Conversations are not kept by this gateway; chain requests with 'previous_response_id'.",
    "prompt": "Reusable prompts ('prompt') live on OpenAI's platform; send the text as 'input'.",
}
MAX_METADATA_PAIRS = 16
Mode = Literal["generate", "text", "edit"]
"""How a body makes its image: `action: generate` (input images ignored); no image given; an edit of
`previous_response_id`'s image, of an image_generation_call sent back or of an `input_image`."""
_IMAGES: dict[Mode, Images] = {"generate": "any", "text": "none", "edit": "any"}

MASK = Field(
    "input_image_mask", "object", "an edit's mask", fields=(IMAGE_URL, Field("file_id", "string", offered=False))
)
TOOL_CHOICE = Field(
    "tool_choice",
    "string",
    '`"auto"`, `"required"` or `{"type": "image_generation"}`',
    variants=(
        Field("tool_choice", "string", choices=("auto", "required")),
        Field("tool_choice", "object", fields=(Field("type", "string", required=True, choices=(TOOL_TYPE,)),)),
    ),
)
PREVIOUS = Field("previous_response_id", "string", "its image is the input of an edit", max_chars=MAX_ID_CHARS)


def tool_field(model: Model | None = None, *, mode: Mode | None = None) -> Field:
    """The image_generation tool; with `model`, as that model takes its options (the tool naming it
    or not); with `mode`, the `action` and mask that mode takes."""
    images = {field.name: field for field in generation_fields(model)}
    edit = mode == "edit"
    images["input_fidelity"] = INPUT_FIDELITY
    if model is not None and edit:
        images["input_fidelity"] = next(f for f in extras_for(model, edit=True) if f.name == "input_fidelity")
    name = Field("model", "string", "the image model (else the request's `model`)")
    if model is not None:
        name = replace(name, choices=(model.id, *model.aliases))
    action = Field("action", "string", "`edit` needs an image; `generate` ignores input images", choices=ACTIONS)
    mask = MASK
    if mode is not None:
        actions = {"generate": ("generate",), "text": ("auto",)}.get(mode, ("auto", "edit"))
        action = replace(action, choices=actions, required=mode == "generate")
        mask = replace(MASK, offered=edit and (model is None or model.capabilities.extra.edit_mask))
    fields = (
        Field("type", "string", required=True, choices=(TOOL_TYPE,)),
        name,
        *(images[field] for field in IMAGE_FIELDS),
        PARTIAL_IMAGES,
        action,
        mask,
        *(Field(refused, "any", reason, offered=False) for refused, reason in REFUSED.items()),
    )
    rules = (COMPRESSION_NEEDS_FORMAT, *extras_rules("png")[:1])
    doc = "OpenAI's image generation tool; its options are the Images API's"
    return Field("tool", "object", doc, fields=fields, rules=rules)


TOOLS = Field("tools", "array", "one image_generation tool", items=tool_field(), max_items=1)
RULES: tuple[Rule, ...] = (
    GivenOne(
        (replace(TOOLS, min_items=1), replace(TOOL_CHOICE, variants=TOOL_CHOICE.variants[1:])),
        "This gateway answers the Responses API with the image_generation tool: send "
        '"tools": [{"type": "image_generation"}] (its options are the Images API\'s).',
    ),
)
"""A tool is given, or chosen."""


def responses_fields() -> tuple[Field, ...]:
    """The body of POST /v1/responses as the reader checks it (any model, any mode)."""
    return (
        Field("model", "string", "an image model, unless the tool names one"),
        input_field(),
        TOOLS,
        TOOL_CHOICE,
        Field("stream", "boolean", default=False),
        Field("store", "boolean", "keep the answer 24 hours", default=True),
        PREVIOUS,
        Field(
            "metadata",
            "object",
            "at most 16 pairs of strings",
            values=Field("value", "string", max_chars=512),
            max_items=MAX_METADATA_PAIRS,
            max_chars=64,
        ),
        Field("user", "string", max_chars=256),
        Field("safety_identifier", "string", max_chars=256),
        Field("background", "boolean", "only false: background responses are not offered", choices=(False,)),
        *(Field(name, "any", "accepted and ignored: no text model runs") for name in sorted(IGNORED)),
        *(Field(name, "any", reason, offered=False) for name, reason in UNSUPPORTED.items()),
    )


def responses_variants(model: Model) -> tuple[tuple[tuple[Field, ...], tuple[Rule, ...]], ...]:
    """The bodies that run `model` (named by the tool, else by the request), one per mode it takes."""
    names = (model.id, *model.aliases)
    named_by_tool = Field("tool", "object", fields=(Field("model", "string", required=True, choices=names),))
    named = GivenOne(
        (
            replace(responses_fields()[0], choices=names),
            replace(TOOLS, items=replace(named_by_tool, values=Field("option", "any")), min_items=1),
        ),
        "The model is the tool's 'model', else the request's.",
    )
    modes: tuple[Mode, ...] = ("generate", "text", *(("edit",) if model.capabilities.img2img else ()))
    return tuple((_variant(model, mode), (named, *_EDIT_RULES[mode])) for mode in modes)


_EDIT_RULES: dict[Mode, tuple[Rule, ...]] = {
    "generate": (),
    "text": (),
    "edit": (
        GivenOne(
            (replace(PREVIOUS, required=True), input_field("earlier"), input_field("input")),
            "An edit names its image: 'previous_response_id', an image_generation_call sent back, or an "
            "input_image in the last user message.",
        ),
    ),
}


def _variant(model: Model, mode: Mode) -> tuple[Field, ...]:
    fields = {field.name: field for field in responses_fields()}
    tools = replace(TOOLS, items=tool_field(model, mode=mode))
    if mode == "generate":  # the tool is given, with its `action`
        tools = replace(tools, required=True, min_items=1)
    fields["tools"] = tools
    fields["input"] = input_field(_IMAGES[mode])
    if mode == "text":
        fields["previous_response_id"] = replace(PREVIOUS, offered=False)
    return tuple(fields.values())


__all__ = [
    "ACTIONS",
    "IGNORED",
    "IMAGE_FIELDS",
    "RULES",
    "TOOL_TYPE",
    "UNSUPPORTED",
    "responses_fields",
    "responses_variants",
    "tool_field",
]
