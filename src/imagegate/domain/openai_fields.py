"""OpenAI's request fields beyond the first release's, validated against the model's catalog data.

Every parameter that the `openai` SDK's `images.generate` and `images.edit` send is either served
(`background`, `moderation`, `size: "auto"`, `safety_identifier`, `complexity`, `input_fidelity`,
`stream`, `partial_images`) or refused with a message that says why (`REFUSED`), never with
"unknown parameter". The checks here read `Capabilities.extra`; nothing switches on a model name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import BACKGROUNDS, COMPLEXITIES, INPUT_FIDELITIES, MODERATIONS, Model
from .errors import InvalidRequest

MAX_IDENTIFIER_CHARS = 256
TRANSPARENT_FORMATS = ("png", "webp")
MAX_PARTIAL_IMAGES = 3

GENERATION_FIELDS = (
    "background",
    "moderation",
    "safety_identifier",
    "complexity",
    "stream",
    "partial_images",
)
EDIT_FIELDS = (*GENERATION_FIELDS, "input_fidelity")
"""Fields an edit takes beyond the generation's (its files, `image` and `mask`, are parsed apart)."""

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
    extra = model.capabilities.extra
    background = _value(fields, "background", BACKGROUNDS, "auto")
    _check_offered(model, "background", background, extra.backgrounds)
    if background == "transparent" and output_format not in TRANSPARENT_FORMATS:
        raise InvalidRequest(
            f"A transparent background needs output_format 'png' or 'webp'; '{output_format}' has no alpha channel.",
            param="background",
        )
    moderation = _value(fields, "moderation", MODERATIONS, "auto")
    if moderation not in extra.moderations:
        raise InvalidRequest(
            f"The model '{model.id}' takes only moderation 'auto': its upstream has no moderation level to set. "
            "(The gateway's own prompt screening applies either way.)",
            param="moderation",
        )
    complexity = _optional_value(fields, "complexity", COMPLEXITIES)
    if complexity is not None and not extra.complexities:
        raise InvalidRequest(
            f"The model '{model.id}' does not take 'complexity' (a planning effort of OpenAI's gpt-image-2.5 models).",
            code="unsupported_parameter",
            param="complexity",
        )
    if complexity is not None:
        _check_offered(model, "complexity", complexity, extra.complexities)
    fidelity = _optional_value(fields, "input_fidelity", INPUT_FIDELITIES) if edit else None
    if fidelity is not None and not extra.input_fidelities:
        raise InvalidRequest(
            f"The model '{model.id}' does not take 'input_fidelity': its upstream has no such setting.",
            code="unsupported_parameter",
            param="input_fidelity",
        )
    if fidelity is not None:
        _check_offered(model, "input_fidelity", fidelity, extra.input_fidelities)
    stream, partial = _stream(fields)
    return Extras(background, moderation, _identifier(fields), complexity, stream, partial, fidelity)


def _stream(fields: Mapping[str, Any]) -> tuple[bool, int | None]:
    stream = fields.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", code="invalid_type", param="stream")
    partial = fields.get("partial_images")
    if partial is not None:
        if isinstance(partial, bool) or not isinstance(partial, int):
            raise InvalidRequest("'partial_images' must be an integer.", code="invalid_type", param="partial_images")
        if not 0 <= partial <= MAX_PARTIAL_IMAGES:
            raise InvalidRequest(
                f"'partial_images' must be between 0 and {MAX_PARTIAL_IMAGES}; got {partial}.", param="partial_images"
            )
        if not stream:
            raise InvalidRequest("'partial_images' applies only with 'stream': true.", param="partial_images")
    return stream, partial


def check_stream_n(model: Model, n: int) -> None:
    """A streamed request may ask for at most the model's `stream_max_n` images."""
    most = model.capabilities.extra.stream_max_n or model.capabilities.max_n
    if n > most:
        raise InvalidRequest(
            f"The model '{model.id}' streams at most {most} image(s) per request; got n={n}. "
            f"Send n up to {most}, or the request without 'stream'.",
            param="n",
        )


def _identifier(fields: Mapping[str, Any]) -> str | None:
    value = fields.get("safety_identifier")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest("'safety_identifier' must be a string.", code="invalid_type", param="safety_identifier")
    if len(value) > MAX_IDENTIFIER_CHARS:
        raise InvalidRequest(
            f"'safety_identifier' must be at most {MAX_IDENTIFIER_CHARS} characters.", param="safety_identifier"
        )
    return value or None  # OpenAI: an empty identifier means "use `user`"


def _optional_value(fields: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", code="invalid_type", param=name)
    if value not in allowed:
        raise InvalidRequest(
            f"Invalid value for '{name}': '{value}'. Supported values are: {', '.join(allowed)}.", param=name
        )
    return value


def _value(fields: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _optional_value(fields, name, allowed)
    return default if value is None else value


def _check_offered(model: Model, name: str, value: str, offered: tuple[str, ...]) -> None:
    if value not in offered:
        raise InvalidRequest(
            f"The model '{model.id}' cannot honour {name} '{value}'; it supports: {', '.join(offered)}.", param=name
        )


__all__ = [
    "EDIT_FIELDS",
    "EDIT_ONLY",
    "GENERATION_FIELDS",
    "REFUSED",
    "Extras",
    "check_stream_n",
    "parse_extras",
    "refuse_openai_field",
]
