"""imagegate.domain.request: a JSON body becomes an ImageRequest, or a refusal naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from imagegate.config import load_catalog
from imagegate.domain.catalog import Catalog
from imagegate.domain.errors import InvalidRequest
from imagegate.domain.request import FIELDS, ImageRequest, parse_image_request

CATALOG: Catalog = load_catalog()


def parse(**body: Any) -> ImageRequest:
    return parse_image_request(body, CATALOG)


def refused(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        parse_image_request(body, CATALOG)
    return raised.value


def test_contract_defaults_for_gpt_image_2() -> None:
    request = parse(model="gpt-image-2", prompt="a cat")
    assert request.model.id == "gpt-image-2"
    assert (request.size, request.n, request.quality, request.style) == ("1024x1024", 1, "medium", "natural")
    assert (request.output_format, request.output_compression, request.response_format) == ("png", None, "url")
    assert request.user is None
    assert (request.width, request.height) == (1024, 1024)


def test_seedream_defaults_to_its_own_size_and_has_no_quality_or_style() -> None:
    request = parse(model="seedream-4.5", prompt="a cat")
    assert request.size == "2048x2048"
    assert request.quality is None
    assert request.style is None


@pytest.mark.parametrize("model", ["nano-banana-2", "nano-banana-pro", "seedream-4.5", "preview"])
def test_models_without_qualities_have_quality_none(model: str) -> None:
    request = parse(model=model, prompt="a cat")
    assert request.quality is None
    assert request.style is None
    assert request.size == CATALOG.find(model).capabilities.default_size  # type: ignore[union-attr]


def test_alias_resolves_to_the_model() -> None:
    assert parse(model="gpt-image-2-2026-04-21", prompt="a cat").model.id == "gpt-image-2"


def test_null_counts_as_not_given() -> None:
    body = {name: None for name in FIELDS if name not in ("model", "prompt")}
    request = parse(model="gpt-image-2", prompt="a cat", **body)
    assert request == parse(model="gpt-image-2", prompt="a cat")
    # ...including for a field the model does not support
    assert parse(model="seedream-4.5", prompt="a cat", quality=None, style=None).quality is None


def test_null_compression_with_png_is_not_given() -> None:
    assert (
        parse(model="gpt-image-2", prompt="a", output_format="png", output_compression=None).output_compression is None
    )


def test_null_required_field_is_missing() -> None:
    error = refused({"model": "gpt-image-2", "prompt": None})
    assert (error.code, error.param) == ("missing_required_parameter", "prompt")


def test_values_are_kept_as_asked() -> None:
    request = parse(
        model="gpt-image-2",
        prompt="a cat",
        size="1536x1024",
        n=4,
        quality="auto",
        style="vivid",
        output_format="jpeg",
        output_compression=0,
        response_format="b64_json",
        user="u" * 256,
    )
    assert (request.size, request.n, request.quality, request.style) == ("1536x1024", 4, "auto", "vivid")
    assert (request.output_format, request.output_compression, request.response_format) == ("jpeg", 0, "b64_json")
    assert request.user == "u" * 256


def test_compression_defaults_to_100_for_lossy_formats() -> None:
    assert parse(model="gpt-image-2", prompt="a", output_format="webp").output_compression == 100


def test_upstream_size_and_prompt() -> None:
    request = parse(model="gpt-image-2", prompt="a cat", size="4096x4096", style="vivid")
    assert request.upstream_size == "2880x2880"
    assert request.upstream_prompt.startswith("a cat\n\nStyle: vivid.")
    plain = parse(model="gpt-image-2", prompt="a cat")
    assert (plain.upstream_size, plain.upstream_prompt) == ("1024x1024", "a cat")


@pytest.mark.parametrize("name", ["foo", "seed", "Model"])
def test_unknown_field_is_named(name: str) -> None:
    error = refused({"model": "gpt-image-2", "prompt": "a cat", name: "x"})
    assert (error.status, error.code, error.param) == (400, "unknown_parameter", name)
    assert name in error.message


def test_unknown_field_is_named_even_when_null() -> None:
    error = refused({"model": "gpt-image-2", "prompt": "a cat", "seed": None})
    assert (error.code, error.param) == ("unknown_parameter", "seed")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ([], "invalid_json", None),
        ("a cat", "invalid_json", None),
        ({"prompt": "a cat"}, "missing_required_parameter", "model"),
        ({"model": "gpt-image-2"}, "missing_required_parameter", "prompt"),
        ({"model": "dall-e-9", "prompt": "a cat"}, "model_not_found", "model"),
        ({"model": 2, "prompt": "a cat"}, "invalid_type", "model"),
        ({"model": "gpt-image-2", "prompt": "   "}, "invalid_value", "prompt"),
        ({"model": "gpt-image-2", "prompt": "x" * 32001}, "invalid_value", "prompt"),
        ({"model": "seedream-4.5", "prompt": "x" * 4001}, "invalid_value", "prompt"),
        ({"model": "gpt-image-2", "prompt": "a", "size": "512x512"}, "invalid_value", "size"),
        ({"model": "seedream-4.5", "prompt": "a", "size": "1024x1024"}, "invalid_value", "size"),
        ({"model": "gpt-image-2", "prompt": "a", "n": 0}, "invalid_value", "n"),
        ({"model": "gpt-image-2", "prompt": "a", "n": 5}, "invalid_value", "n"),
        ({"model": "gpt-image-2", "prompt": "a", "n": 1.0}, "invalid_type", "n"),
        ({"model": "gpt-image-2", "prompt": "a", "n": "1"}, "invalid_type", "n"),
        ({"model": "gpt-image-2", "prompt": "a", "n": True}, "invalid_type", "n"),
        ({"model": "gpt-image-2", "prompt": "a", "quality": "hd"}, "invalid_value", "quality"),
        ({"model": "gpt-image-2", "prompt": "a", "style": "anime"}, "invalid_value", "style"),
        ({"model": "seedream-4.5", "prompt": "a", "quality": "high"}, "unsupported_parameter", "quality"),
        ({"model": "nano-banana-2", "prompt": "a", "style": "vivid"}, "unsupported_parameter", "style"),
        ({"model": "gpt-image-2", "prompt": "a", "output_format": "gif"}, "invalid_value", "output_format"),
        ({"model": "gpt-image-2", "prompt": "a", "output_compression": 80}, "invalid_value", "output_compression"),
        (
            {"model": "gpt-image-2", "prompt": "a", "output_format": "png", "output_compression": 100},
            "invalid_value",
            "output_compression",
        ),
        (
            {"model": "gpt-image-2", "prompt": "a", "output_format": "jpeg", "output_compression": 101},
            "invalid_value",
            "output_compression",
        ),
        (
            {"model": "gpt-image-2", "prompt": "a", "output_format": "webp", "output_compression": -1},
            "invalid_value",
            "output_compression",
        ),
        (
            {"model": "gpt-image-2", "prompt": "a", "output_format": "webp", "output_compression": 50.5},
            "invalid_type",
            "output_compression",
        ),
        ({"model": "gpt-image-2", "prompt": "a", "response_format": "base64"}, "invalid_value", "response_format"),
        ({"model": "gpt-image-2", "prompt": "a", "user": "u" * 257}, "invalid_value", "user"),
        ({"model": "gpt-image-2", "prompt": "a", "user": 7}, "invalid_type", "user"),
    ],
)
def test_refusals_name_code_and_param(body: Any, code: str, param: str | None) -> None:
    error = refused(body)
    assert error.status == 400
    assert error.type == "invalid_request_error"
    assert (error.code, error.param) == (code, param)
