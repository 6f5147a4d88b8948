"""Input images named by URL (what chat's `image_url` parts and the Responses API's `input_image` carry),
read by the gateway's own `ImageInputs` and `ImageUrlFetcher` against a real HTTP server on loopback:
data URLs decoded within the image limit, https URLs fetched under the webhook address rules, bounded
in bytes and time, never following a redirect."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from PIL import Image

from imagegate.config import load_catalog
from imagegate.domain.errors import InvalidRequest, RequestTooLarge
from imagegate.domain.image_url import ImageRef
from imagegate.domain.ports import ImageUrlUnreadable
from imagegate.providers.image_url_reader import ImageUrlFetcher
from imagegate.service.images.inputs import ImageInputs
from imagegate.service.images.operations import Edit, Generate

PARAM = "messages[0].content[1].image_url.url"


def png(width: int = 32, height: int = 24) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


class Site:
    """A loopback HTTP server whose paths answer as the tests need; it counts what was asked."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.port = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if request.path == "/image.png":
            return web.Response(body=png(), content_type="image/png")
        if request.path == "/moved":
            raise web.HTTPFound("/image.png")
        if request.path == "/big":  # declares its length: refused before the body is read
            return web.Response(body=b"\x89PNG" + b"\0" * 200_000, content_type="image/png")
        if request.path == "/chunked":  # no length: refused once the bytes read pass the limit
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(1000):
                await response.write(b"\0" * 65_536)
            return response
        if request.path == "/slow":
            await asyncio.sleep(30)
        if request.path == "/empty":
            return web.Response(body=b"")
        return web.Response(status=404)


@asynccontextmanager
async def serving() -> AsyncIterator[Site]:
    site = Site()
    app = web.Application()
    app.router.add_get("/{tail:.*}", site.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.port = runner.addresses[0][1]
    try:
        yield site
    finally:
        await runner.cleanup()


def run(scenario: Callable[[Site], Awaitable[None]]) -> None:
    async def go() -> None:
        async with serving() as site:
            await scenario(site)

    asyncio.run(go())


@asynccontextmanager
async def inputs(*, public: bool = False, max_bytes: int = 100_000, timeout: float = 15) -> AsyncIterator[ImageInputs]:
    fetcher = ImageUrlFetcher(public=public, timeout=timeout)
    try:
        yield ImageInputs(fetcher, load_catalog(), max_image_bytes=max_bytes, public=public)
    finally:
        await fetcher.aclose()


async def refusal(read: Awaitable[object]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        await read
    return caught.value


def test_a_data_url_is_decoded_and_an_oversized_one_is_413_before_it_is_decoded() -> None:
    async def scenario(_site: Site) -> None:
        async with inputs(max_bytes=5_000) as images:
            assert await images.read(ImageRef(data_url(png()), PARAM)) == png()
            too_large = await refusal(images.read(ImageRef(data_url(b"\0" * 6_000), PARAM)))
            assert isinstance(too_large, RequestTooLarge) and too_large.status == 413
            assert (too_large.code, too_large.param) == ("request_too_large", PARAM)
            for url, says in [
                ("data:image/png,plain-text", "base64 data URL"),
                ("data:text/html;base64,PGI+", "must be an image"),
                ("data:image/png;base64,!!!not base64!!!", "not valid base64"),
                ("data:image/png;base64,", "holds no image"),
            ]:
                error = await refusal(images.read(ImageRef(url, PARAM)))
                assert (error.status, error.param) == (400, PARAM) and says in error.message, error.message
            wrong_type = await refusal(images.read(ImageRef({"url": "x"}, PARAM)))
            assert (wrong_type.code, wrong_type.param) == ("invalid_type", PARAM)

    run(scenario)


def test_an_http_url_on_a_loopback_node_is_fetched() -> None:
    async def scenario(site: Site) -> None:
        async with inputs() as images:
            assert await images.read(ImageRef(site.url("/image.png"), PARAM)) == png()

    run(scenario)


def test_a_redirect_is_refused_and_never_followed() -> None:
    async def scenario(site: Site) -> None:
        async with inputs() as images:
            error = await refusal(images.read(ImageRef(site.url("/moved"), PARAM)))
        assert (error.status, error.code, error.param) == (400, "invalid_image_url", PARAM)
        assert "redirect (302)" in error.message
        assert site.hits == ["/moved"]  # the target was never asked

    run(scenario)


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/big", 413, "200004 bytes"),
        ("/chunked", 413, "more than 100000 bytes"),
        ("/missing", 400, "HTTP 404"),
        ("/empty", 400, "no bytes"),
    ],
)
def test_what_the_url_answers_is_bounded(path: str, status: int, says: str) -> None:
    async def scenario(site: Site) -> None:
        async with inputs() as images:
            error = await refusal(images.read(ImageRef(site.url(path), PARAM)))
        assert (error.status, error.param) == (status, PARAM) and says in error.message, error.message

    run(scenario)


def test_a_url_that_does_not_answer_in_time_is_refused() -> None:
    async def scenario(site: Site) -> None:
        async with inputs(timeout=0.5) as images:
            started = asyncio.get_running_loop().time()
            error = await refusal(images.read(ImageRef(site.url("/slow"), PARAM)))
            assert asyncio.get_running_loop().time() - started < 10
        assert (error.code, error.param) == ("invalid_image_url", PARAM) and "no answer within 0.5 s" in error.message

    run(scenario)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/a.png",
        "http://127.0.0.1/a.png",
        "https://10.0.0.7/a.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:192.168.1.1]/a.png",
        "https://localhost/a.png",
        "ftp://images.example.com/a.png",
        "https://user:secret@images.example.com/a.png",
        "http://images.example.com/a.png",
    ],
)
def test_a_public_node_refuses_urls_the_webhook_rules_refuse(url: str) -> None:
    async def scenario(site: Site) -> None:
        async with inputs(public=True) as images:
            error = await refusal(images.read(ImageRef(url, PARAM)))
        assert (error.status, error.code, error.param) == (400, "invalid_value", PARAM)
        assert error.message.startswith("The image URL ") and "webhook" not in error.message, error.message
        assert site.hits == []

    run(scenario)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",  # a literal: aiohttp resolves none, the fetcher judges it
        "[::ffff:127.0.0.1]",
        "①②⑦.0.0.1",  # as yarl reads it: 127.0.0.1
        "localhost",  # a name: judged in the resolver the connection uses
    ],
)
def test_a_public_fetcher_connects_to_no_private_address_whatever_the_url_says(host: str) -> None:
    """Below the URL checks: the connection itself refuses, so a name that resolves (or is re-bound)
    to a private address is never reached."""

    async def scenario(site: Site) -> None:
        fetcher = ImageUrlFetcher(public=True)
        try:
            with pytest.raises(ImageUrlUnreadable, match="loopback"):
                await fetcher.fetch(site.url("/image.png", host), max_bytes=100_000)
        finally:
            await fetcher.aclose()
        assert site.hits == []

    run(scenario)


def test_images_make_an_edit_on_a_model_that_edits_and_are_refused_elsewhere() -> None:
    fields = {"model": "preview", "prompt": "make it blue", "n": 1, "stream": False}

    async def scenario(site: Site) -> None:
        async with inputs() as images:
            assert await images.operation(fields, []) == Generate(fields)
            edit = await images.operation(fields, [ImageRef(data_url(png()), PARAM)])
            assert isinstance(edit, Edit)
            assert edit.fields == {"model": "preview", "prompt": "make it blue", "n": "1", "stream": "false"}
            assert [(u.field, u.filename, u.data) for u in edit.files] == [("image", PARAM, png())]
            no_edits = await refusal(images.operation({**fields, "model": "gpt-image-2"}, [ImageRef("x", PARAM)]))
            assert (no_edits.code, no_edits.param) == ("unsupported_operation", "model")
            too_many = [ImageRef(site.url("/image.png"), f"messages[{i}]") for i in range(17)]
            count = await refusal(images.operation(fields, too_many))
            assert count.param == "messages[16]" and "at most 16" in count.message
            wrong = await refusal(images.operation({**fields, "n": "2"}, [ImageRef(data_url(png()), PARAM)]))
            assert (wrong.code, wrong.param) == ("invalid_type", "n")
        assert site.hits == []  # every refusal came before any fetch

    run(scenario)
