"""Upstreams that answer with URLs: two imagegates chained (the inner one the outer's `openai_compatible`
upstream, asked for `b64_json` or answering its own signed URLs), and a fake that answers only URLs.

A URL is downloaded within the attempt's time and a size bound and checked like any image; a failed
download is retried and failed over like a 5xx, and never billed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests.conftest import Account, Gateway, serve_in_process
from tests.providers.conftest import write_config
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_url_images import FakeURLImages

URL_KEY = "sk-url-upstream"
FUNDED = (10_000_000, 0)

MODEL = """
[models.{name}]
vendor = "Example Corp"
display_name = "{name}"
sizes = ["1024x1024", "1536x1024"]
max_n = 2
max_prompt_chars = 2000

[models.{name}.prices.standard]
"1024x1024" = 1000
"1536x1024" = 1500

[[models.{name}.routes]]
name = "upstream"
provider = "openai_compatible"
base_url = "{base_url}"
api_key_env = "{key_env}"
upstream_model = "{upstream_model}"
options = {options}
"""


@pytest.fixture(scope="module")
def inner(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    """The inner imagegate: gpt-image-2 on the fake OpenAI."""
    yield from serve_in_process(tmp_path_factory, "inner", fake_openai)


@pytest.fixture(scope="module")
def inner_account(inner: Gateway) -> Account:
    return inner.new_account("100")


@pytest.fixture(scope="module")
def url_server() -> Iterator[FakeURLImages]:
    with FakeURLImages(api_key=URL_KEY) as fake:
        yield fake


@pytest.fixture
def urls(url_server: FakeURLImages) -> Iterator[FakeURLImages]:
    url_server.reset()
    yield url_server
    url_server.reset()


@pytest.fixture(scope="module")
def outer(
    tmp_path_factory: pytest.TempPathFactory, inner: Gateway, inner_account: Account, url_server: FakeURLImages
) -> Iterator[Gateway]:
    inner_v1 = f"{inner.base_url}/v1"

    def model(name: str, base_url: str, key_env: str, upstream_model: str, options: str = "{}") -> str:
        return MODEL.format(
            name=name, base_url=base_url, key_env=key_env, upstream_model=upstream_model, options=options
        )

    toml = "\n".join(
        [
            model("relay-b64", inner_v1, "INNER_KEY", "gpt-image-2", '{ response_format = "b64_json" }'),
            model("relay-urls", inner_v1, "INNER_KEY", "gpt-image-2"),
            model("url-server", url_server.base_url, "URL_KEY", "gpt-image-2"),
            model("url-server-small", url_server.base_url, "URL_KEY", "gpt-image-2", "{ download_max_bytes = 1000 }"),
        ]
    )
    config = write_config(tmp_path_factory.mktemp("outer-config") / "catalog.toml", toml)
    env = {"IMAGEGATE_CONFIG": config, "INNER_KEY": inner_account.key, "URL_KEY": URL_KEY}
    yield from serve_in_process(tmp_path_factory, "outer", None, extra_env=env)


@pytest.fixture
def account(outer: Gateway) -> Account:
    return outer.new_account("10")


def _image(url: str) -> Image.Image:
    return Image.open(io.BytesIO(httpx.get(url, timeout=30).content))


@pytest.mark.parametrize("model", ["relay-b64", "relay-urls"])
def test_chained_imagegates(
    outer: Gateway, inner: Gateway, inner_account: Account, upstream: FakeOpenAI, account: Account, model: str
) -> None:
    inner_before = inner.balance(inner_account.id)[0]
    result = outer.client(account.key).images.generate(model=model, prompt="a fox", size="1536x1024", n=2)
    assert result.data is not None and len(result.data) == 2
    assert {(_image(item.url or "").size, _image(item.url or "").format) for item in result.data} == {
        ((1536, 1024), "PNG")
    }
    sent = upstream.requests[0].json
    assert (sent["model"], sent["n"], sent["size"]) == ("gpt-image-2", 2, "1536x1024")
    assert "response_format" not in sent  # the inner gateway never forwards it to a GPT model
    assert outer.balance(account.id) == (FUNDED[0] - 3_000, 0)
    inner_cost = 2 * 80_000  # gpt-image-2 medium 1536x1024 on the inner gateway's price card
    assert inner.balance(inner_account.id) == (inner_before - inner_cost, 0)


def test_url_only_upstream_is_downloaded(outer: Gateway, urls: FakeURLImages, account: Account) -> None:
    result = outer.client(account.key).images.generate(
        model="url-server", prompt="a fox", output_format="webp", response_format="b64_json"
    )
    assert result.data is not None and result.data[0].b64_json
    generation, *files = urls.requests
    assert "response_format" not in (generation.json or {})  # the route does not say the upstream takes it
    assert len(files) == 1 and files[0].path.startswith("/files/") and files[0].method == "GET"
    assert outer.balance(account.id) == (FUNDED[0] - 1_000, 0)


def test_relative_url_is_resolved_against_the_upstream(outer: Gateway, urls: FakeURLImages, account: Account) -> None:
    urls.script({"kind": "url_relative"})
    result = outer.client(account.key).images.generate(model="url-server", prompt="a fox")
    assert result.data is not None and _image(result.data[0].url or "").size == (1024, 1024)


def test_failed_download_is_retried(outer: Gateway, urls: FakeURLImages, account: Account) -> None:
    urls.script({"kind": "url_404"})
    result = outer.client(account.key).images.generate(model="url-server", prompt="a fox")
    assert result.data is not None
    assert len([r for r in urls.requests if r.method == "POST"]) == 2
    assert outer.balance(account.id) == (FUNDED[0] - 1_000, 0)


@pytest.mark.parametrize(
    ("model", "script", "status", "code"),
    [
        ("url-server", {"kind": "url_404", "times": 3}, 502, "upstream_failed"),
        ("url-server", {"kind": "url_ftp", "times": 3}, 502, "upstream_failed"),
        ("url-server-small", {"kind": "ok", "times": 3}, 502, "upstream_failed"),  # over download_max_bytes
        ("url-server", {"kind": "url_slow", "seconds": 4, "times": 3}, 504, "upstream_timeout"),
    ],
)
def test_downloads_that_fail_are_not_billed(
    outer: Gateway, urls: FakeURLImages, account: Account, model: str, script: dict[str, object], status: int, code: str
) -> None:
    urls.script(script)
    response = outer.post_images(account.key, {"model": model, "prompt": "a fox"})
    assert_error(response, status, "upstream_error", code)
    assert len([r for r in urls.requests if r.method == "POST"]) == 3  # every attempt, then given up
    assert outer.balance(account.id) == FUNDED
