"""JavaScript clients, as they are: the official `openai` npm package (`tests/js/`, pinned by its
package-lock.json) against a real gateway process, its upstream the fake OpenAI on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Gateway, serve_gateway
from tests.support.js import js_clients, run_script
from tests.upstreams.fake_openai import FakeOpenAI

MEDIUM_1024 = 53_000
"""gpt-image-2's live price of one medium-quality 1024x1024 image (its defaults), in micro-USD."""


@pytest.fixture(scope="module")
def node() -> str:
    return js_clients()


@pytest.fixture(scope="module")
def js_gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    yield from serve_gateway(tmp_path_factory, "js", fake_openai)


def test_the_openai_npm_package_gets_an_image_from_chat_completions(
    node: str, js_gateway: Gateway, upstream: FakeOpenAI
) -> None:
    account = js_gateway.new_account()
    env = {
        "IMAGEGATE_BASE_URL": f"{js_gateway.base_url}/v1",
        "IMAGEGATE_KEY": account.key,
        "IMAGEGATE_MODEL": "gpt-image-2",
    }
    got = run_script(node, "chat.mjs", env)
    assert (got["object"], got["finish_reason"]) == ("chat.completion", "stop")
    (image,) = got["images"]  # type: ignore[misc]
    assert image["type"] == "image_url" and image["url"].startswith("data:image/png;base64,iVBORw0K")
    assert image["bytes"] > 0
    assert got["billing"]["amount_micros"] == MEDIUM_1024  # type: ignore[index]
    assert upstream.requests[0].json["prompt"] == "a paper boat on a pond, watercolor"
