"""The offline preview provider: real images of the requested shape, deterministic, index drawn."""

from __future__ import annotations

import importlib.resources
import tomllib
from typing import Any

import anyio
import pytest

from imagegate.domain.catalog import Catalog
from imagegate.domain.request import ImageRequest, parse_image_request
from imagegate.domain.upstream import GeneratedImage
from imagegate.imaging.images import ImageInfo, inspect
from imagegate.providers.preview import PreviewProvider, render

PROMPT = "A watercolour fox asleep in a snowy birch forest at dawn, soft pink light and mist."


def _catalog() -> Catalog:
    raw = importlib.resources.files("imagegate").joinpath("catalog.toml").read_bytes()
    return Catalog.from_dict(tomllib.loads(raw.decode("utf-8")))


CATALOG = _catalog()


def _request(**body: Any) -> ImageRequest:
    return parse_image_request({"model": "preview", "prompt": PROMPT, **body}, CATALOG)


def _generate(request: ImageRequest) -> list[GeneratedImage]:
    async def run() -> list[GeneratedImage]:
        provider = PreviewProvider()
        try:
            return await provider.generate(request, timeout=30.0)
        finally:
            await provider.aclose()

    return anyio.run(run)


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("preview", "256x256"),
        ("preview", "1024x1536"),
        ("preview", "1536x1024"),
        ("nano-banana-2", "1584x672"),
        ("seedream-4.5", "1296x3024"),
        ("gpt-image-2", "4096x4096"),
    ],
)
def test_renders_the_requested_size(model: str, size: str) -> None:
    request = _request(model=model, size=size)
    [image] = _generate(request)
    width, height = (int(side) for side in size.split("x"))
    assert inspect(image.data) == ImageInfo(format="png", width=width, height=height)


@pytest.mark.parametrize("output_format", ["png", "jpeg", "webp"])
def test_renders_the_requested_format(output_format: str) -> None:
    [image] = _generate(_request(size="512x512", output_format=output_format))
    assert inspect(image.data) == ImageInfo(format=output_format, width=512, height=512)


def test_draws_at_the_requested_size_even_where_the_model_upscales() -> None:
    request = _request(model="gpt-image-2", size="4096x4096", output_format="jpeg", output_compression=50)
    assert request.upstream_size != request.size
    assert inspect(render(request, 0)).size == (4096, 4096)


def test_n_images_are_returned_and_differ() -> None:
    images = _generate(_request(size="256x256", n=4))
    assert len(images) == 4
    assert len({image.data for image in images}) == 4


def test_same_request_gives_identical_bytes() -> None:
    request = _request(size="512x512", n=2, output_format="webp")
    first = [image.data for image in _generate(request)]
    second = [image.data for image in _generate(_request(size="512x512", n=2, output_format="webp"))]
    assert first == second
    assert render(request, 1) == first[1]


def test_different_prompts_give_different_images() -> None:
    one = render(_request(size="256x256"), 0)
    other = render(_request(size="256x256", prompt="A lighthouse in a storm."), 0)
    assert one != other


def test_reports_the_upstream_prompt_and_no_quality() -> None:
    request = _request(model="gpt-image-2", size="1024x1024", style="vivid", quality="low")
    [image] = _generate(request)
    assert image.revised_prompt == request.upstream_prompt
    assert image.revised_prompt != request.prompt  # the gateway's style text is appended
    assert image.quality is None


@pytest.mark.parametrize(
    "prompt",
    ["x" * 32000, "word " * 6000, "\u4e2d\u6587\u63d0\u793a" * 100, "line one\n\nline two\ttabbed"],
    ids=["one-long-word", "many-words", "cjk", "whitespace"],
)
def test_awkward_prompts_render(prompt: str) -> None:
    request = _request(size="256x256", prompt=prompt)
    assert inspect(render(request, 0)).size == (256, 256)


def test_compression_changes_the_jpeg() -> None:
    low = render(_request(size="512x512", output_format="jpeg", output_compression=5), 0)
    high = render(_request(size="512x512", output_format="jpeg", output_compression=95), 0)
    assert len(low) < len(high)


def test_generate_runs_off_the_event_loop_for_each_image() -> None:
    """Images render in worker threads, so the event loop keeps running other tasks meanwhile."""
    ticks: list[int] = []

    async def run() -> list[GeneratedImage]:
        async def ticker() -> None:
            while True:
                ticks.append(1)
                await anyio.sleep(0.001)

        async with anyio.create_task_group() as group:
            group.start_soon(ticker)
            images = await PreviewProvider().generate(_request(size="2048x2048", n=2), timeout=30.0)
            group.cancel_scope.cancel()
        return images

    images = anyio.run(run)
    assert len(images) == 2
    assert len(ticks) > 5
