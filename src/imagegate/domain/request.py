"""The validated image request, and the rules that turn a JSON body into one.

Values are never silently changed: a body is either served as asked or refused with the
contract's code and the offending `param`. An explicit `null` counts as "not given".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .catalog import AUTO_SIZE, Catalog, Model, parse_size
from .errors import GatewayError, InvalidRequest
from .input_image import InputImage
from .openai_fields import GENERATION_FIELDS, Extras, check_stream_n, parse_extras, refuse_openai_field
from .text import check_text

FIELDS = (
    "model",
    "prompt",
    "size",
    "n",
    "quality",
    "style",
    "output_format",
    "output_compression",
    "response_format",
    "user",
    *GENERATION_FIELDS,
)
RESPONSE_FORMATS = ("url", "b64_json")
COMPRESSIBLE_FORMATS = ("webp", "jpeg")
MAX_USER_CHARS = 256


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


def build_request(
    fields: dict[str, Any],
    catalog: Catalog,
    *,
    inputs: tuple[InputImage, ...] = (),
    mask: InputImage | None = None,
) -> ImageRequest:
    """The request of already name-checked `fields` (no nulls); `inputs` make it an edit."""
    model_name = _required_string(fields, "model")
    model = catalog.find(model_name)
    if model is None:
        raise InvalidRequest(
            f"The model '{model_name}' does not exist. GET /v1/models lists the available models.",
            code="model_not_found",
            param="model",
        )
    try:
        return _request_of(fields, model, inputs, mask)
    except GatewayError as exc:
        exc.model = model.id  # the refusal's record names the model it was for
        raise


def _request_of(
    fields: dict[str, Any], model: Model, inputs: tuple[InputImage, ...], mask: InputImage | None
) -> ImageRequest:
    caps = model.capabilities
    prompt = _prompt(fields, caps.max_prompt_chars)
    size = _size(fields, model)
    n = _n(fields, caps.max_n)
    quality = _supported_choice(fields, "quality", caps.qualities, caps.default_quality, model.id)
    style = _supported_choice(fields, "style", caps.styles, caps.default_style, model.id)
    output_format = _choice(fields, "output_format", caps.output_formats, "png")
    compression = _compression(fields, output_format)
    response_format = _choice(fields, "response_format", RESPONSE_FORMATS, "url")
    user = _user(fields)
    extras: Extras = parse_extras(fields, model, output_format, edit=bool(inputs))
    if extras.stream:
        check_stream_n(model, n)
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


def _size(fields: dict[str, Any], model: Model) -> str:
    """`auto` stays `auto` where the upstream picks (the model has `auto_sizes`), else it is the default size."""
    caps = model.capabilities
    if fields.get("size") == AUTO_SIZE:
        return AUTO_SIZE if caps.extra.auto_sizes else caps.default_size
    return _choice(fields, "size", caps.sizes, caps.default_size)


def _string(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", code="invalid_type", param=name)
    return value if value is None else check_text(value, name)


def _required_string(fields: dict[str, Any], name: str) -> str:
    value = _string(fields, name)
    if value is None:
        raise InvalidRequest(f"Missing required parameter: '{name}'.", code="missing_required_parameter", param=name)
    return value


def _prompt(fields: dict[str, Any], max_chars: int) -> str:
    prompt = _required_string(fields, "prompt")
    if not prompt.strip():
        raise InvalidRequest("'prompt' must not be empty.", code="invalid_value", param="prompt")
    if len(prompt) > max_chars:
        raise InvalidRequest(
            f"'prompt' is {len(prompt)} characters long; this model accepts at most {max_chars}.",
            code="invalid_value",
            param="prompt",
        )
    return prompt


def _choice(fields: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _string(fields, name)
    if value is None:
        return default
    if value not in allowed:
        raise InvalidRequest(
            f"Invalid value for '{name}': '{value}'. Supported values are: {', '.join(allowed)}.",
            code="invalid_value",
            param=name,
        )
    return value


def _supported_choice(
    fields: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None, model_id: str
) -> str | None:
    if not allowed:
        if name in fields:
            raise InvalidRequest(
                f"The model '{model_id}' does not support '{name}'.",
                code="unsupported_parameter",
                param=name,
            )
        return None
    assert default is not None
    return _choice(fields, name, allowed, default)


def _integer(fields: dict[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"'{name}' must be an integer.", code="invalid_type", param=name)
    return value


def _n(fields: dict[str, Any], max_n: int) -> int:
    n = _integer(fields, "n")
    if n is None:
        return 1
    if not 1 <= n <= max_n:
        raise InvalidRequest(
            f"'n' must be between 1 and {max_n} for this model; got {n}.", code="invalid_value", param="n"
        )
    return n


def _compression(fields: dict[str, Any], output_format: str) -> int | None:
    compression = _integer(fields, "output_compression")
    if output_format not in COMPRESSIBLE_FORMATS:
        if compression is not None:
            raise InvalidRequest(
                "'output_compression' applies only to 'webp' and 'jpeg' output.",
                code="invalid_value",
                param="output_compression",
            )
        return None
    if compression is None:
        return 100
    if not 0 <= compression <= 100:
        raise InvalidRequest(
            f"'output_compression' must be between 0 and 100; got {compression}.",
            code="invalid_value",
            param="output_compression",
        )
    return compression


def _user(fields: dict[str, Any]) -> str | None:
    user = _string(fields, "user")
    if user is not None and len(user) > MAX_USER_CHARS:
        raise InvalidRequest(f"'user' must be at most {MAX_USER_CHARS} characters.", code="invalid_value", param="user")
    return user


__all__ = ["AUTO_SIZE", "FIELDS", "ImageRequest", "build_request", "parse_image_request"]
