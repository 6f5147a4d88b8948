"""When some of n images fail, the client gets and pays for the ones that succeeded, and is told.

Gemini and Seedream make one upstream call per image, so one call of several can fail; OpenAI and
Azure answer n images in one call, and may answer fewer. If none succeeds the client gets the error,
never a 200 with an empty `data`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Account, Gateway
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_seedream import FakeSeedream

pytestmark = pytest.mark.tier("in_process")

START = 10_000_000


@pytest.fixture
def account_10(live_gateway: Gateway) -> Account:
    return live_gateway.new_account("10")


def _partial(gateway: Gateway, account: Account, model: str, n: int, unit: int, delivered: int, **extra: Any) -> None:
    raw = gateway.client(account.key).images.with_raw_response.generate(model=model, prompt="three foxes", n=n, **extra)
    result = raw.parse()
    assert len(result.data) == delivered
    assert result.model_extra["billing"] == {
        "images": delivered,
        "images_requested": n,
        "amount_micros": unit * delivered,
        "currency": "USD",
        "unit_price_micros": unit,
    }
    assert raw.headers["x-imagegate-images-missing"] == str(n - delivered)
    assert raw.headers["x-imagegate-cost-micros"] == str(unit * delivered)
    assert gateway.balance(account.id) == (START - unit * delivered, 0)


def test_gemini_one_failed_call_of_three(live_gateway: Gateway, account_10: Account, fake_gemini: FakeGemini) -> None:
    fake_gemini.script({"kind": "server_error"})
    _partial(live_gateway, account_10, "nano-banana-2", 3, 67_000, 2)
    assert len(fake_gemini.requests) == 3  # one call per image; the partial result is not retried


def test_gemini_one_output_blocked_of_two(live_gateway: Gateway, account_10: Account, fake_gemini: FakeGemini) -> None:
    fake_gemini.script({"kind": "output_blocked"})
    _partial(live_gateway, account_10, "nano-banana-pro", 2, 134_000, 1)


def test_seedream_failed_item(live_gateway: Gateway, account_10: Account, fake_seedream: FakeSeedream) -> None:
    fake_seedream.script({"kind": "item_errors", "items": ["OutputImageSensitiveContentDetected"]})
    _partial(live_gateway, account_10, "seedream-4.5", 2, 40_000, 1, size="2048x2048")
    assert len(fake_seedream.requests) == 2


def test_openai_answers_fewer_images(live_gateway: Gateway, account_10: Account, fake_openai: FakeOpenAI) -> None:
    fake_openai.script({"kind": "fewer_images"})
    _partial(live_gateway, account_10, "gpt-image-2", 3, 9_000, 2, quality="low", size="1024x1536")


def test_azure_answers_fewer_images(live_gateway: Gateway, account_10: Account, fake_azure: Any) -> None:
    fake_azure.script({"kind": "fewer_images"})
    _partial(live_gateway, account_10, "gpt-image-2-official", 2, 6_000, 1, quality="low")


def test_all_delivered_has_no_missing_header(live_gateway: Gateway, account_10: Account) -> None:
    response = live_gateway.post_images(account_10.key, {"model": "nano-banana-2", "prompt": "x", "n": 2})
    assert response.status_code == 200
    assert "x-imagegate-images-missing" not in response.headers
    assert response.json()["billing"]["images"] == 2


def test_every_call_blocked_is_451_not_an_empty_200(
    live_gateway: Gateway, account_10: Account, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script({"kind": "output_blocked", "times": 2})
    response = live_gateway.post_images(account_10.key, {"model": "nano-banana-2", "prompt": "x", "n": 2})
    assert response.status_code == 451
    assert response.json()["error"]["code"] == "output_blocked"
    assert len(fake_gemini.requests) == 2  # a refusal is not retried
    assert live_gateway.balance(account_10.id) == (START, 0)


def test_every_call_failed_is_retried_then_502(
    live_gateway: Gateway, account_10: Account, fake_seedream: FakeSeedream
) -> None:
    fake_seedream.script({"kind": "server_error", "times": 6})
    response = live_gateway.post_images(account_10.key, {"model": "seedream-4.5", "prompt": "x", "n": 2})
    assert response.status_code == 502
    assert len(fake_seedream.requests) == 6  # both calls, three attempts
    assert live_gateway.balance(account_10.id) == (START, 0)


def test_openai_answering_no_images_is_retried(
    live_gateway: Gateway, account_10: Account, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script({"kind": "fewer_images"})
    response = live_gateway.post_images(account_10.key, {"model": "gpt-image-2", "prompt": "x", "n": 1})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    assert len(fake_openai.requests) == 2
