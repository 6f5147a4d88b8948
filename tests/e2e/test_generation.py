"""Successful generations through the real gateway, with the official openai SDK as the client."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from tests.conftest import Account, Gateway
from tests.support.provenance import active_manifest
from tests.upstreams.fake_openai import FakeOpenAI, render_image

pytestmark = pytest.mark.tier("in_process")

KETTLE = "A kettle on the left and a mug on the right, both steaming, on a marble counter"


def fetch(url: str) -> httpx.Response:
    """Download a returned URL the way a browser would: no key."""
    return httpx.get(url, timeout=30)


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("webp", "WEBP"), ("jpeg", "JPEG")])
def test_test_key_gets_a_real_preview_and_never_reaches_the_upstream(
    gateway: Gateway, upstream: FakeOpenAI, test_account: Account, fmt: str, pil_format: str
) -> None:
    result = gateway.client(test_account.key).images.generate(
        model="gpt-image-2", prompt=KETTLE, size="1536x1024", quality="high", output_format=fmt
    )
    assert len(result.data) == 1
    download = fetch(result.data[0].url)
    assert download.status_code == 200
    assert download.headers["content-type"] == f"image/{fmt}"
    image = image_of(download.content)
    assert (image.format, image.size) == (pil_format, (1536, 1024))
    assert result.data[0].revised_prompt == KETTLE
    assert upstream.requests == []
    assert gateway.balance(test_account.id) == (0, 0)


def test_test_key_serves_models_without_a_configured_upstream(
    gateway: Gateway, upstream: FakeOpenAI, test_account: Account
) -> None:
    result = gateway.client(test_account.key).images.generate(model="nano-banana-2", prompt="a fox", size="1376x768")
    assert image_of(fetch(result.data[0].url).content).size == (1376, 768)
    assert upstream.requests == []


def test_live_key_is_billed_exactly_the_price_card(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    client = gateway.client(account.key)
    raw = client.images.with_raw_response.generate(model="gpt-image-2", prompt=KETTLE, size="1024x1024", quality="high")
    result = raw.parse()

    assert raw.headers["x-imagegate-cost-micros"] == "211000"
    assert raw.headers["x-request-id"].startswith("req_")
    billing = result.model_extra["billing"]
    assert billing == {
        "images": 1,
        "images_requested": 1,
        "amount_micros": 211000,
        "currency": "USD",
        "unit_price_micros": 211000,
    }
    assert gateway.balance(account.id) == (10_000_000 - 211_000, 0)
    image = image_of(fetch(result.data[0].url).content)
    assert (image.format, image.size) == ("PNG", (1024, 1024))


def test_request_is_forwarded_without_style_or_response_format(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    gateway.client(account.key).images.generate(
        model="gpt-image-2",
        prompt=KETTLE,
        size="1024x1536",
        quality="low",
        n=2,
        output_format="webp",
        output_compression=80,
        response_format="url",
        style="natural",
        user="end-user-7",
    )
    (sent,) = upstream.requests
    assert sent.headers["authorization"] == "Bearer sk-fake-upstream"
    assert sent.json == {
        "model": "gpt-image-2",
        "prompt": KETTLE,
        "n": 2,
        "size": "1024x1536",
        "quality": "low",
        "output_format": "webp",
        "output_compression": 80,
        "user": "end-user-7",
    }
    assert gateway.balance(account.id) == (10_000_000 - 2 * 9_000, 0)


def test_defaults_are_the_contracts(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    raw = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat"})
    assert raw.status_code == 200
    (sent,) = upstream.requests
    assert sent.json["size"] == "1024x1024"
    assert sent.json["quality"] == "medium"
    assert sent.json["n"] == 1
    assert sent.json["output_format"] == "png"
    assert "url" in raw.json()["data"][0]
    assert raw.json()["billing"]["amount_micros"] == 53_000


def test_upstream_bytes_are_stored_without_a_re_encode(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    """The upstream's JPEG scan is kept byte for byte: only the gateway's C2PA manifest (an APP11 segment)
    is added before it, so not one pixel is re-encoded."""
    result = gateway.client(account.key).images.generate(
        model="gpt-image-2", prompt="a cat", n=2, output_format="jpeg", output_compression=60
    )
    for index, item in enumerate(result.data):
        expected, _ = render_image(1024, 1024, "jpeg", index)
        stored = fetch(item.url).content
        scan = expected[expected.index(b"\xff\xda") :]  # start of scan to the end of the image
        assert stored.endswith(scan) and len(stored) > len(expected)
        assert active_manifest(stored)["claim_generator_info"][0]["name"] == "imagegate"


def test_vivid_style_is_added_to_the_prompt_and_reported(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    result = gateway.client(account.key).images.generate(model="gpt-image-2", prompt="a cat", style="vivid")
    (sent,) = upstream.requests
    assert sent.json["prompt"].startswith("a cat\n\nStyle: vivid.")
    assert "style" not in sent.json
    assert result.data[0].revised_prompt == sent.json["prompt"]


def test_b64_json_response(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    result = gateway.client(account.key).images.generate(
        model="gpt-image-2", prompt="a cat", response_format="b64_json", output_format="webp"
    )
    item = result.data[0]
    assert item.url is None
    image = image_of(base64.b64decode(item.b64_json))
    assert (image.format, image.size) == ("WEBP", (1024, 1024))
    assert "response_format" not in upstream.requests[0].json


def test_size_beyond_the_upstream_maximum_is_upscaled(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    result = gateway.client(account.key).images.generate(
        model="gpt-image-2", prompt="a cat", size="4096x4096", quality="low", output_format="webp"
    )
    (sent,) = upstream.requests
    assert sent.json["size"] == "2880x2880"
    assert sent.json["output_format"] == "png"  # lossless source, since the gateway re-encodes anyway
    image = image_of(fetch(result.data[0].url).content)
    assert (image.format, image.size) == ("WEBP", (4096, 4096))
    assert gateway.balance(account.id) == (10_000_000 - 48_000, 0)


@pytest.mark.parametrize(("reported", "charged"), [("low", 6_000), ("high", 211_000)])
def test_auto_quality_is_charged_as_the_upstream_resolved_it(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, reported: str, charged: int
) -> None:
    upstream.auto_quality = reported
    result = gateway.client(account.key).images.generate(model="gpt-image-2", prompt="a cat", quality="auto")
    assert upstream.requests[0].json["quality"] == "auto"
    assert result.model_extra["billing"]["amount_micros"] == charged
    assert gateway.balance(account.id) == (10_000_000 - charged, 0)


def test_model_alias_resolves_to_the_catalog_model(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    gateway.client(account.key).images.generate(model="gpt-image-2-2026-04-21", prompt="a cat")
    assert upstream.requests[0].json["model"] == "gpt-image-2"


def test_account_endpoint_shows_balance_and_key(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    gateway.client(account.key).images.generate(model="gpt-image-2", prompt="a cat")
    with gateway.http() as http:
        body = http.get("/v1/account", headers={"Authorization": f"Bearer {account.key}"}).json()
    assert body == {
        "account_id": account.id,
        "balance_micros": 10_000_000 - 53_000,
        "held_micros": 0,
        "currency": "USD",
        "key": {"id": account.key_id, "mode": "live", "allowed_models": None, "rate_limit": None, "budget": None},
    }


def test_credit_is_held_while_the_upstream_works(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    upstream.script({"kind": "delay", "seconds": 1.0})
    with gateway.http() as http:
        import threading

        done: dict[str, httpx.Response] = {}
        thread = threading.Thread(
            target=lambda: done.setdefault(
                "r", gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": "x", "quality": "high"})
            )
        )
        thread.start()
        upstream.wait_for_requests(1)
        held = http.get("/v1/account", headers={"Authorization": f"Bearer {account.key}"}).json()
        thread.join(30)
    assert held["held_micros"] == 211_000
    assert held["balance_micros"] == 10_000_000
    assert done["r"].status_code == 200
    assert gateway.balance(account.id) == (10_000_000 - 211_000, 0)
