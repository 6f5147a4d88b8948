"""POST /v1/images/quote: the same body as a generation, the price it would pay now, validation included,
and nothing generated, held, charged, stored or recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, Gateway
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

FUNDED = (10_000_000, 0)
KITE = "a red kite over a green hill"
HIGH_1024_N2 = {"model": "gpt-image-2", "prompt": KITE, "quality": "high", "size": "1024x1024", "n": 2}


def quote(gateway: Gateway, key: str | None, request: Any, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kwargs.pop("headers", {}))
    with gateway.http() as http:
        if isinstance(request, (bytes, str)):
            return http.post("/v1/images/quote", content=request, headers=headers, **kwargs)
        return http.post("/v1/images/quote", json=request, headers=headers, **kwargs)


def quoted(gateway: Gateway, key: str, request: Any) -> dict[str, Any]:
    response = quote(gateway, key, request)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"].startswith("req_")
    return response.json()


def stored_files(gateway: Gateway) -> set[Path]:
    """Files of the data dir other than the database's own."""
    return {p for p in gateway.data_dir.rglob("*") if p.is_file() and not p.name.startswith("imagegate.db")}


def usage_totals(gateway: Gateway, key: str) -> dict[str, int]:
    with gateway.http() as http:
        return http.get("/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()["totals"]


@pytest.fixture
def restore_prices(gateway: Gateway) -> Iterator[None]:
    before = json.loads(gateway.cli("prices", "list", "--json"))
    yield
    after = json.loads(gateway.cli("prices", "list", "--json"))
    for model, card in before["models"].items():
        for quality, row in card.items():
            for size, micros in row.items():
                if quality != "auto" and after["models"][model][quality][size] != micros:
                    quality_args = [] if quality == "standard" else ["--quality", quality]
                    usd = f"{micros / 1e6:.6f}"
                    gateway.cli("prices", "set", model, *quality_args, "--size", size, "--usd", usd)
    assert json.loads(gateway.cli("prices", "list", "--json")) == before


def test_quote_answers_the_price_and_does_nothing_else(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    files = stored_files(gateway)
    body = quoted(gateway, account.key, HIGH_1024_N2)

    assert body["unit_price_micros"] == 211_000
    assert body["amount_micros"] == 422_000
    assert body["currency"] == "USD"
    assert (body.get("model", "gpt-image-2"), body.get("n", 2)) == ("gpt-image-2", 2)

    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED  # nothing held, nothing charged
    assert stored_files(gateway) == files  # no image
    assert usage_totals(gateway, account.key) == {"requests": 0, "images": 0, "cost_micros": 0}

    # the generation with the same body pays exactly what was quoted
    generated = gateway.post_images(account.key, HIGH_1024_N2)
    assert generated.status_code == 200, generated.text
    assert generated.headers["x-imagegate-cost-micros"] == "422000"
    assert generated.json()["billing"]["unit_price_micros"] == 211_000
    assert gateway.balance(account.id) == (FUNDED[0] - 422_000, 0)


@pytest.mark.parametrize(
    ("request_body", "price"),
    [
        pytest.param({"model": "gpt-image-2", "prompt": KITE}, 53_000, id="defaults-medium-1024"),
        pytest.param({"model": "gpt-image-2", "prompt": KITE, "quality": "low", "n": 4}, 6_000, id="low-n4"),
        pytest.param(
            {"model": "gpt-image-2", "prompt": KITE, "quality": "high", "size": "4096x4096"}, 1_670_000, id="high-4096"
        ),
        pytest.param({"model": "gpt-image-2-2026-04-21", "prompt": KITE, "quality": "low"}, 6_000, id="alias"),
        pytest.param({"model": "preview", "prompt": KITE, "size": "256x256"}, 0, id="free-model"),
    ],
)
def test_quote_matches_the_price_card(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, request_body: dict[str, Any], price: int
) -> None:
    body = quoted(gateway, account.key, request_body)
    n = request_body.get("n", 1)
    assert (body["unit_price_micros"], body["amount_micros"], body["currency"]) == (price, price * n, "USD")
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


INVALID = [
    pytest.param({**HIGH_1024_N2, "n": 9}, id="n-too-big"),
    pytest.param({**HIGH_1024_N2, "n": 0}, id="n-zero"),
    pytest.param({**HIGH_1024_N2, "n": "2"}, id="n-string"),
    pytest.param({**HIGH_1024_N2, "n": 2.0}, id="n-float"),
    pytest.param({**HIGH_1024_N2, "unknown": 1}, id="unknown-field"),
    pytest.param({**HIGH_1024_N2, "model": "dall-e-9"}, id="unknown-model"),
    pytest.param({k: v for k, v in HIGH_1024_N2.items() if k != "prompt"}, id="no-prompt"),
    pytest.param({**HIGH_1024_N2, "prompt": "   "}, id="blank-prompt"),
    pytest.param({**HIGH_1024_N2, "size": "999x999"}, id="bad-size"),
    pytest.param({**HIGH_1024_N2, "quality": "ultra"}, id="bad-quality"),
    pytest.param({**HIGH_1024_N2, "output_compression": 50}, id="compression-with-png"),
    pytest.param({"model": "nano-banana-2", "prompt": KITE, "style": "vivid"}, id="unsupported-style"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"[1, 2]", id="json-array"),
]


@pytest.mark.parametrize("request_body", INVALID)
def test_quote_validates_exactly_as_generation_does(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, request_body: Any
) -> None:
    headers = {"Content-Type": "application/json"}
    generation = gateway.post_images(account.key, request_body, headers=headers)
    response = quote(gateway, account.key, request_body, headers=headers)

    assert generation.status_code == 400, generation.text
    assert response.status_code == generation.status_code, response.text
    assert response.headers["x-request-id"].startswith("req_")
    assert response.json() == generation.json()
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_quote_errors_name_the_parameter(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    error = quote(gateway, account.key, {**HIGH_1024_N2, "n": 9}).json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "n")
    error = quote(gateway, account.key, {**HIGH_1024_N2, "seed": 7}).json()["error"]
    assert (error["code"], error["param"]) == ("unknown_parameter", "seed")


def test_test_key_quotes_zero(gateway: Gateway, upstream: FakeOpenAI, test_account: Account) -> None:
    body = quoted(gateway, test_account.key, HIGH_1024_N2)
    assert (body["unit_price_micros"], body["amount_micros"], body["currency"]) == (0, 0, "USD")
    assert upstream.requests == []


def test_quote_applies_the_key_restrictions(gateway: Gateway, upstream: FakeOpenAI) -> None:
    restricted = gateway.new_account("10", models=["preview"])
    response = quote(gateway, restricted.key, HIGH_1024_N2)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "model_not_allowed"
    assert gateway.balance(restricted.id) == FUNDED


def test_a_live_price_change_is_quoted_next(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, restore_prices: None
) -> None:
    assert quoted(gateway, account.key, HIGH_1024_N2)["unit_price_micros"] == 211_000
    gateway.cli("prices", "set", "gpt-image-2", "--quality", "high", "--size", "1024x1024", "--usd", "0.3")
    body = quoted(gateway, account.key, HIGH_1024_N2)
    assert (body["unit_price_micros"], body["amount_micros"]) == (300_000, 600_000)
    other_size = quoted(gateway, account.key, {**HIGH_1024_N2, "size": "1024x1536"})
    assert other_size["unit_price_micros"] == 317_000  # only the card that changed
    assert gateway.balance(account.id) == FUNDED


def test_auto_quality_quotes_the_dearest_quality_for_the_size(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, restore_prices: None
) -> None:
    auto = {"model": "gpt-image-2", "prompt": KITE, "quality": "auto"}
    assert quoted(gateway, account.key, auto)["unit_price_micros"] == 211_000
    assert quoted(gateway, account.key, {**auto, "size": "1024x1536", "n": 3})["amount_micros"] == 3 * 317_000

    # when another quality becomes the dearest, auto follows it
    gateway.cli("prices", "set", "gpt-image-2", "--quality", "medium", "--size", "1024x1024", "--usd", "0.5")
    assert quoted(gateway, account.key, auto)["unit_price_micros"] == 500_000
    assert quoted(gateway, account.key, {**auto, "quality": "high"})["unit_price_micros"] == 211_000
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_quote_needs_a_key(gateway: Gateway, upstream: FakeOpenAI) -> None:
    for key, code in ((None, "missing_api_key"), ("ig_live_not-a-real-key", "invalid_api_key")):
        response = quote(gateway, key, HIGH_1024_N2)
        assert response.status_code == 401, response.text
        assert response.headers["x-request-id"].startswith("req_")
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("authentication_error", code)
    assert upstream.requests == []
