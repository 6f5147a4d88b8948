"""OpenAI's request fields beyond the first release's, validated against the model's catalog data.

Every parameter that the `openai` SDK's `images.generate` and `images.edit` send is either served
(`background`, `moderation`, `size: "auto"`, `safety_identifier`, `complexity`, `input_fidelity`,
`stream`, `partial_images`) or refused with a message that says why (`REFUSED`), never with
"unknown parameter". The checks here read `Capabilities.extra`; nothing switches on a model name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .catalog import BACKGROUNDS, COMPLEXITIES, INPUT_FIDELITIES, MODERATIONS, Model, ModelMemo
from .errors import InvalidRequest
from .fields import AtMost, Field, Requires, check_value

MAX_IDENTIFIER_CHARS = 256
TRANSPARENT_FORMATS = ("png", "webp")
MAX_PARTIAL_IMAGES = 3

BACKGROUND = Field(
    "background",
    "string",
    "transparent only with png or webp, on models that draw it",
    choices=BACKGROUNDS,
    default="auto",
)
MODERATION = Field(
    "moderation", "string", "where the model's upstream takes a level", choices=MODERATIONS, default="auto"
)
SAFETY_IDENTIFIER = Field(
    "safety_identifier", "string", "OpenAI's successor of `user`; recorded the same way", max_chars=MAX_IDENTIFIER_CHARS
)
COMPLEXITY = Field("complexity", "string", "a planning effort, on models that take it", choices=COMPLEXITIES)
STREAM = Field(
    "stream", "boolean", "true: server-sent events (`image_generation.partial_image`, `.completed`)", default=False
)
PARTIAL_IMAGES = Field(
    "partial_images",
    "integer",
    "partial images per streamed image (only with stream)",
    minimum=0,
    maximum=MAX_PARTIAL_IMAGES,
)
INPUT_FIDELITY = Field("input_fidelity", "string", "an edit's faithfulness to its images", choices=INPUT_FIDELITIES)

GENERATION_FIELDS = (BACKGROUND, MODERATION, SAFETY_IDENTIFIER, COMPLEXITY, STREAM, PARTIAL_IMAGES)
EDIT_FIELDS = (*GENERATION_FIELDS, INPUT_FIDELITY)
"""Fields an edit takes beyond the generation's (its files, `image` and `mask`, are parsed apart)."""


def extras_for(model: Model | None, *, edit: bool) -> tuple[Field, ...]:
    """These fields, as `model` takes them (its backgrounds, moderations, complexities, fidelities)."""
    fields = EDIT_FIELDS if edit else GENERATION_FIELDS
    if model is None:
        return fields
    return _MODEL_EXTRAS.get(model, edit, lambda: _offered_extras(model, fields))


_MODEL_EXTRAS: ModelMemo[tuple[Field, ...]] = ModelMemo()
"""Each model's extras, made once (every request of the model reads them)."""


def _offered_extras(model: Model, fields: tuple[Field, ...]) -> tuple[Field, ...]:
    extra = model.capabilities.extra
    offered = {
        "background": extra.backgrounds,
        "moderation": extra.moderations,
        "complexity": extra.complexities,
        "input_fidelity": extra.input_fidelities,
    }
    return tuple(
        replace(field, choices=offered[field.name], offered=bool(offered[field.name]))
        if field.name in offered
        else field
        for field in fields
    )


def extras_rules(default_format: str) -> tuple[Requires, ...]:
    return (
        Requires(
            "background",
            "output_format",
            TRANSPARENT_FORMATS,
            "A transparent background needs output_format 'png' or 'webp'; '{other}' has no alpha channel.",
            when="transparent",
            default=default_format,
        ),
        Requires(
            "partial_images", "stream", (True,), "'partial_images' applies only with 'stream': true.", default=False
        ),
    )


def model_rules(model: Model) -> tuple[AtMost, ...]:
    """A streamed request asks for at most the model's `stream_max_n` images."""
    most = model.capabilities.extra.stream_max_n or model.capabilities.max_n
    if most >= model.capabilities.max_n:
        return ()
    message = (
        f"The model '{model.id}' streams at most {most} image(s) per request; got n={{value}}. "
        f"Send n up to {most}, or the request without 'stream'."
    )
    return (AtMost("n", most, "stream", True, message),)


_GIF = "GIF output is not offered by this gateway (it answers png, webp or jpeg), so '{}' has nothing to apply to."
REFUSED: Mapping[str, str] = {
    "frame_count": _GIF.format("frame_count"),
    "frame_duration_ms": _GIF.format("frame_duration_ms"),
    "svg": "SVG output is not offered by this gateway (it answers png, webp or jpeg), so 'svg' has nothing to apply to.",
    "markup": "'markup' guides edits of OpenAI's gpt-image-2.5 models only; no model of this gateway takes it. "
    "Use 'mask' to mark the area to edit.",
    "prompt_rewriter": "'prompt_rewriter' is not offered by this gateway; the prompt is sent as written.",
}
"""Fields of OpenAI's Images API that no model here can honour, with the reason a client is told."""

EDIT_ONLY = ("image", "mask", "input_fidelity", "markup")


@dataclass(frozen=True, slots=True)
class Extras:
    background: str
    moderation: str
    safety_identifier: str | None
    complexity: str | None
    stream: bool
    partial_images: int | None
    input_fidelity: str | None = None


def refuse_openai_field(name: str, *, edit: bool) -> None:
    """Raise the contract's refusal for a field of OpenAI's API that the request may not carry."""
    if name in REFUSED:
        raise InvalidRequest(REFUSED[name], code="unsupported_parameter", param=name)
    if not edit and name in EDIT_ONLY:
        raise InvalidRequest(
            f"'{name}' belongs to image edits: send it to POST /v1/images/edits (multipart).",
            code="unsupported_parameter",
            param=name,
        )


def parse_extras(fields: Mapping[str, Any], model: Model, output_format: str, *, edit: bool = False) -> Extras:
    """The extras of a request for `model`: each value first within its field's own choices (400
    "Invalid value"), then among those the model offers (400, saying what it supports)."""
    offered = {field.name: field for field in extras_for(model, edit=edit)}
    background = _offered(fields, BACKGROUND, offered, model)
    moderation = _value(fields, MODERATION)
    if moderation not in offered["moderation"].choices:
        raise InvalidRequest(
            f"The model '{model.id}' takes only moderation 'auto': its upstream has no moderation level to set. "
            "(The gateway's own prompt screening applies either way.)",
            param="moderation",
        )
    complexity = _offered(fields, COMPLEXITY, offered, model)
    fidelity = _offered(fields, INPUT_FIDELITY, offered, model) if edit else None
    stream: bool = _value(fields, STREAM)
    partial: int | None = _value(fields, PARTIAL_IMAGES)
    values = {**fields, "output_format": output_format}
    for rule in extras_rules(output_format):
        rule.check(values)
    identifier = _value(fields, SAFETY_IDENTIFIER) or None  # OpenAI: an empty identifier means "use `user`"
    return Extras(str(background), str(moderation), identifier, complexity, stream, partial, fidelity)


_NOT_TAKEN = {
    "complexity": "The model '{}' does not take 'complexity' (a planning effort of OpenAI's gpt-image-2.5 models).",
    "input_fidelity": "The model '{}' does not take 'input_fidelity': its upstream has no such setting.",
}


def _value(fields: Mapping[str, Any], field: Field) -> Any:
    value = fields.get(field.name)
    return field.default if value is None else check_value(field, value)


def _offered(fields: Mapping[str, Any], field: Field, offered: Mapping[str, Field], model: Model) -> Any:
    value = _value(fields, field)
    if value is None:
        return None
    choices = offered[field.name].choices
    if not choices and field.name in _NOT_TAKEN:
        raise InvalidRequest(_NOT_TAKEN[field.name].format(model.id), code="unsupported_parameter", param=field.name)
    if value not in choices:
        raise InvalidRequest(
            f"The model '{model.id}' cannot honour {field.name} '{value}'; it supports: {', '.join(choices)}.",
            param=field.name,
        )
    return value


__all__ = [
    "EDIT_FIELDS",
    "EDIT_ONLY",
    "GENERATION_FIELDS",
    "REFUSED",
    "Extras",
    "extras_for",
    "extras_rules",
    "model_rules",
    "parse_extras",
    "refuse_openai_field",
]
