"""ConformingProvider: the client gets exactly the size and format it asked for, or the route's
answer counts as an upstream failure (retryable). Real image bytes, made by Pillow."""

from __future__ import annotations

import asyncio
from typing import Any

import pybase64
import pytest

from imagegate.domain.catalog import Catalog, Route
from imagegate.domain.errors import ContentBlocked
from imagegate.domain.request import parse_image_request
from imagegate.domain.upstream import GeneratedImage, RetryableUpstreamError
from imagegate.imaging.images import BadImage, inspect
from imagegate.routing.conform import ConformingProvider

from .harness import MODEL
from .scripted import ScriptedUpstream, image, picture


def route_named(catalog: Catalog, name: str) -> Route:
    model = catalog.find(MODEL)
    assert model is not None
    return next(r for r in model.routes if r.name == name)


def conformed(
    catalog: Catalog, delivered: list[GeneratedImage] | BaseException, *, route: str = "primary", **body: Any
) -> list[GeneratedImage]:
    request = parse_image_request({"model": MODEL, "prompt": "a red square", **body}, catalog)
    provider = ConformingProvider(ScriptedUpstream(delivered), route_named(catalog, route))
    return asyncio.run(provider.generate(request, timeout=5.0))


def test_an_image_of_the_right_size_and_format_passes_untouched(catalog: Catalog) -> None:
    data = picture((64, 64), "png")
    b64 = pybase64.b64encode_as_string(data)
    delivered = GeneratedImage(data=data, revised_prompt="a red square, flat", quality="low", b64=b64)
    [out] = conformed(catalog, [delivered])
    assert out is delivered  # same bytes, same upstream base64 text, nothing re-encoded


@pytest.mark.parametrize("upstream_format", ["jpeg", "webp"])
def test_another_format_at_the_right_size_is_re_encoded(catalog: Catalog, upstream_format: str) -> None:
    delivered = GeneratedImage(data=picture((64, 64), upstream_format), revised_prompt="r", quality="low", b64="stale")
    [out] = conformed(catalog, [delivered], output_format="png")
    info = inspect(out.data)
    assert (info.format, info.size) == ("png", (64, 64))
    assert out.b64 is None  # the upstream's base64 no longer matches the bytes
    assert (out.revised_prompt, out.quality) == ("r", "low")


def test_a_route_that_cannot_compress_is_re_encoded_at_the_asked_compression(catalog: Catalog) -> None:
    data = picture((64, 64), "jpeg")
    [out] = conformed(
        catalog, [GeneratedImage(data=data)], route="pngonly", output_format="jpeg", output_compression=10
    )
    assert inspect(out.data).format == "jpeg" and out.data != data
    [same] = conformed(
        catalog, [GeneratedImage(data=data)], route="primary", output_format="jpeg", output_compression=10
    )
    assert same.data is data  # a route that compresses natively is trusted to have done it


def test_a_size_the_gateway_upscales_is_upscaled_from_the_native_size(catalog: Catalog) -> None:
    [out] = conformed(catalog, [image((64, 64))], size="128x128")
    assert inspect(out.data).size == (128, 128)


def test_an_image_of_the_wrong_size_is_dropped_and_the_rest_delivered(catalog: Catalog) -> None:
    right, wrong = image((64, 64)), image((80, 64))
    out = conformed(catalog, [wrong, right, image((64, 32))], n=3)
    assert out == [right]


def test_undecodable_bytes_are_dropped(catalog: Catalog) -> None:
    truncated = GeneratedImage(data=picture((64, 64))[:-40])
    right = image((64, 64))
    assert conformed(catalog, [GeneratedImage(data=b"<html>502 Bad Gateway</html>"), truncated, right], n=3) == [right]


def test_when_every_image_is_bad_it_is_a_bad_image_which_is_retryable(catalog: Catalog) -> None:
    with pytest.raises(BadImage) as raised:
        conformed(catalog, [image((80, 64)), GeneratedImage(data=b"not an image")], n=2)
    assert raised.value.retryable
    assert "primary" in raised.value.message and "80x64" in raised.value.message


def test_no_image_at_all_is_a_retryable_upstream_error(catalog: Catalog) -> None:
    with pytest.raises(RetryableUpstreamError) as raised:
        conformed(catalog, [])
    assert raised.value.retryable and "no images" in raised.value.message


def test_a_safety_refusal_passes_through_unchanged(catalog: Catalog) -> None:
    blocked = ContentBlocked("The upstream refused this prompt.")
    with pytest.raises(ContentBlocked) as raised:
        conformed(catalog, blocked)
    assert raised.value is blocked
