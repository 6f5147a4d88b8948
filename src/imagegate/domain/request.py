"""The validated image request, and the rules that turn a JSON body into one.

Values are never silently changed: a body is either served as asked or refused with the
contract's code and the offending `param`. An explicit `null` counts as "not given".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .catalog import AUTO_SIZE, OUTPUT_FORMATS, Catalog, Model, ModelMemo, parse_size
from .errors import GatewayError, InvalidRequest
from .fields import Field, Requires, check_value, missing
from .input_image import InputImage
from .openai_fields import (
    GENERATION_FIELDS,
    Extras,
    extras_for,
    extras_rules,
    model_rules,
    parse_extras,
    refuse_openai_field,
)
from .text import check_text

RESPONSE_FORMATS = ("url", "b64_json")
COMPRESSIBLE_FORMATS = ("webp", "jpeg")
MAX_USER_CHARS = 256

MODEL = Field("model", "string", "a catalog id or alias; an unknown one is a 400 model_not_found", required=True)
PROMPT = Field("prompt", "string", "what to draw", required=True, non_blank=True)
SIZE = Field("size", "string", "`auto`: the upstream picks, where the model lets it", default="1024x1024")
N = Field("n", "integer", "how many images; a float, string or boolean is a 400", minimum=1, default=1)
QUALITY = Field("quality", "string", "where the model has qualities")
STYLE = Field("style", "string", "where the model has styles")
OUTPUT_FORMAT = Field("output_format", "string", choices=OUTPUT_FORMATS, default="png")
OUTPUT_COMPRESSION = Field(
    "output_compression", "integer", "only with webp or jpeg (default 100 there)", minimum=0, maximum=100
)
RESPONSE_FORMAT = Field("response_format", "string", choices=RESPONSE_FORMATS, default="url")
USER = Field("user", "string", "your end-user's id, recorded with the usage", max_chars=MAX_USER_CHARS)

BASE_FIELDS = (MODEL, PROMPT, SIZE, N, QUALITY, STYLE, OUTPUT_FORMAT, OUTPUT_COMPRESSION, RESPONSE_FORMAT, USER)
FIELDS = tuple(field.name for field in (*BASE_FIELDS, *GENERATION_FIELDS))
"""The names of a generation's JSON fields (`generation_fields` declares them)."""

COMPRESSION_NEEDS_FORMAT = Requires(
    "output_compression",
    "output_format",
    COMPRESSIBLE_FORMATS,
    "'output_compression' applies only to 'webp' and 'jpeg' output.",
    default=OUTPUT_FORMAT.default,
)
RULES: tuple[Requires, ...] = (COMPRESSION_NEEDS_FORMAT, *extras_rules(OUTPUT_FORMAT.default))
"""Fields that only mean something with certain values of another one (any model's request)."""


def generation_fields(model: Model | None = None, *, edit: bool = False) -> tuple[Field, ...]:
    """A generation's (or an edit's) fields; with `model`, as that model takes them: its names, sizes,
    qualities, styles and formats, its `max_n` and its prompt length. What the checks below read, and
    what the API document shows for each model."""
    if model is None:
        return (*BASE_FIELDS, *extras_for(None, edit=edit))
    return _MODEL_FIELDS.get(model, edit, lambda: _narrowed_fields(model, edit))


_MODEL_FIELDS: ModelMemo[tuple[Field, ...]] = ModelMemo()
"""Each model's fields, made once (every request of the model reads them)."""


def _narrowed_fields(model: Model, edit: bool) -> tuple[Field, ...]:
    caps = model.capabilities
    narrowed = {
        "model": replace(MODEL, choices=(model.id, *model.aliases)),
        "prompt": replace(PROMPT, max_chars=caps.max_prompt_chars),
        "size": replace(SIZE, choices=(*caps.sizes, AUTO_SIZE), default=caps.default_size),
        "n": replace(N, maximum=caps.max_n),
        "quality": replace(QUALITY, choices=caps.qualities, default=caps.default_quality, offered=bool(caps.qualities)),
        "style": replace(STYLE, choices=caps.styles, default=caps.default_style, offered=bool(caps.styles)),
        "output_format": replace(OUTPUT_FORMAT, choices=caps.output_formats),
    }
    return (*(narrowed.get(field.name, field) for field in BASE_FIELDS), *extras_for(model, edit=edit))


@dataclass(frozen=True, slots=True)
class ImageRequest:
    model: Model
    prompt: str
    size: str
    n: int
    quality: str | None
    style: str | None
    output_format: str
    output_compression: int | None
    response_format: str
    user: str | None
    route_size: str | None = None
    """The native size of the route being tried (set by the router), when it differs per route."""
    background: str = "auto"
    moderation: str = "auto"
    safety_identifier: str | None = None
    complexity: str | None = None
    input_fidelity: str | None = None
    inputs: tuple[InputImage, ...] = ()
    """The images to edit (an edit); empty for a generation."""
    mask: InputImage | None = None
    stream: bool = False
    partial_images: int | None = None

    @property
    def auto_size(self) -> bool:
        """`size: "auto"`: the upstream picks one of the model's `auto_sizes`."""
        return self.size == AUTO_SIZE

    @property
    def width(self) -> int:
        return parse_size(self.drawn_size)[0]

    @property
    def height(self) -> int:
        return parse_size(self.drawn_size)[1]

    @property
    def drawn_size(self) -> str:
        """A concrete size: the one asked, or the model's default for `auto` (what a local renderer draws)."""
        return self.model.capabilities.default_size if self.auto_size else self.size

    @property
    def end_user(self) -> str | None:
        """OpenAI's rule: a non-empty `safety_identifier` wins over the deprecated `user`."""
        return self.safety_identifier or self.user

    @property
    def upstream_size(self) -> str:
        """The size asked of the upstream (smaller when the gateway upscales)."""
        return self.route_size or self.model.native_size(self.size)

    @property
    def upstream_prompt(self) -> str:
        """The prompt as sent upstream: the gateway's style text appended where one applies."""
        addition = self.model.style_prompts.get(self.style or "")
        return f"{self.prompt}\n\n{addition}" if addition else self.prompt


def parse_image_request(body: Any, catalog: Catalog) -> ImageRequest:
    """Validate a decoded JSON body against the contract and the model's capabilities."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    for name in body:
        if name not in FIELDS:
            check_text(name, None)
            refuse_openai_field(name, edit=False)
            raise InvalidRequest(f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)
    return build_request({k: v for k, v in body.items() if v is not None}, catalog)


def named_model(catalog: Catalog, name: str | None) -> Model:
    """The catalog's model of a body's `model` field (missing or unknown: the contract's 400)."""
    if name is None:
        raise missing("model")
    model = catalog.find(name)
    if model is None:
        raise InvalidRequest(
            f"The model '{name}' does not exist. GET /v1/models lists the available models.",
            code="model_not_found",
            param="model",
        )
    return model


def build_request(
    fields: dict[str, Any],
    catalog: Catalog,
    *,
    inputs: tuple[InputImage, ...] = (),
    mask: InputImage | None = None,
) -> ImageRequest:
    """The request of already name-checked `fields` (no nulls); `inputs` make it an edit."""
    model = named_model(catalog, _string(fields, MODEL))
    try:
        return _request_of(fields, model, inputs, mask)
    except GatewayError as exc:
        exc.model = model.id  # the refusal's record names the model it was for
        raise


def _request_of(
    fields: dict[str, Any], model: Model, inputs: tuple[InputImage, ...], mask: InputImage | None
) -> ImageRequest:
    declared = {field.name: field for field in generation_fields(model, edit=bool(inputs))}
    prompt = _prompt(fields, declared["prompt"])
    size = _size(fields, model, declared["size"])
    n = _value(fields, declared["n"])
    quality = _offered(fields, declared["quality"], model.id)
    style = _offered(fields, declared["style"], model.id)
    output_format = _value(fields, declared["output_format"])
    compression = _compression(fields, declared["output_compression"], output_format)
    response_format = _value(fields, declared["response_format"])
    user = _string(fields, declared["user"])
    extras: Extras = parse_extras(fields, model, output_format, edit=bool(inputs))
    for rule in model_rules(model):
        rule.check({**fields, "n": n, "stream": extras.stream})
    return ImageRequest(
        model=model,
        prompt=prompt,
        size=size,
        n=n,
        quality=quality,
        style=style,
        output_format=output_format,
        output_compression=compression,
        response_format=response_format,
        user=user,
        background=extras.background,
        moderation=extras.moderation,
        safety_identifier=extras.safety_identifier,
        complexity=extras.complexity,
        input_fidelity=extras.input_fidelity,
        inputs=inputs,
        mask=mask,
        stream=extras.stream,
        partial_images=extras.partial_images,
    )


def _value(fields: dict[str, Any], field: Field) -> Any:
    """The field's checked value, or its default when it is not given."""
    value = fields.get(field.name)
    return field.default if value is None else check_value(field, value)


def _string(fields: dict[str, Any], field: Field) -> str | None:
    value: str | None = _value(fields, field)
    return value


def _prompt(fields: dict[str, Any], field: Field) -> str:
    prompt = fields.get("prompt")
    if prompt is None:
        raise missing("prompt")
    prompt = check_value(replace(field, max_chars=None), prompt)
    assert field.max_chars is not None
    if len(prompt) > field.max_chars:
        raise InvalidRequest(
            f"'prompt' is {len(prompt)} characters long; this model accepts at most {field.max_chars}.",
            code="invalid_value",
            param="prompt",
        )
    return str(prompt)


def _size(fields: dict[str, Any], model: Model, field: Field) -> str:
    """`auto` stays `auto` where the upstream picks (the model has `auto_sizes`), else it is the default size."""
    size = str(_value(fields, field))
    if size == AUTO_SIZE and not model.capabilities.extra.auto_sizes:
        return model.capabilities.default_size
    return size


def _offered(fields: dict[str, Any], field: Field, model_id: str) -> str | None:
    """A choice the model may not offer at all (quality, style): then giving it is refused."""
    if not field.offered and field.name in fields:
        raise InvalidRequest(
            f"The model '{model_id}' does not support '{field.name}'.", code="unsupported_parameter", param=field.name
        )
    return _string(fields, field)


def _compression(fields: dict[str, Any], field: Field, output_format: str) -> int | None:
    compression: int | None = _value(fields, field)
    COMPRESSION_NEEDS_FORMAT.check({**fields, "output_format": output_format})
    if output_format not in COMPRESSIBLE_FORMATS:
        return None
    return 100 if compression is None else compression


__all__ = [
    "AUTO_SIZE",
    "FIELDS",
    "RULES",
    "ImageRequest",
    "build_request",
    "generation_fields",
    "named_model",
    "parse_image_request",
]
