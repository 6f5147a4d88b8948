"""GET /v1/models and /v1/models/{id}: the catalog in the OpenAI list shape, with live prices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import Account, Gateway
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

CATALOG_IDS = {"gpt-image-2", "gpt-image-2-official", "nano-banana-2", "nano-banana-pro", "seedream-4.5", "preview"}
GPT_IMAGE_2_CAPABILITIES = {
    "sizes": ["1024x1024", "1024x1536", "1536x1024", "2048x2048", "4096x4096"],
    "max_n": 4,
    "qualities": ["low", "medium", "high", "auto"],
    "styles": ["natural", "vivid"],
    "output_formats": ["png", "webp", "jpeg"],
    "img2img": False,
    "max_prompt_chars": 32000,
    "upscaled_from": {"4096x4096": "2880x2880"},
    "backgrounds": ["auto", "opaque", "transparent"],
    "moderations": ["auto", "low"],
    "auto_sizes": ["1024x1024", "1024x1536", "1536x1024"],
    "complexities": [],
    "input_fidelities": ["high", "low"],
    "max_input_images": 16,
    "max_input_image_bytes": 52428800,
    "edit_mask": True,
    "stream_max_n": 1,
}


def list_models(gateway: Gateway) -> dict[str, Any]:
    with gateway.http() as http:
        response = http.get("/v1/models")
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    return response.json()


def model_entry(gateway: Gateway, model_id: str) -> dict[str, Any]:
    (entry,) = [m for m in list_models(gateway)["data"] if m["id"] == model_id]
    return entry


def test_list_is_the_openai_shape_with_exactly_the_catalog(gateway: Gateway) -> None:
    body = list_models(gateway)
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == CATALOG_IDS
    for model in body["data"]:
        assert model["object"] == "model"
        assert isinstance(model["created"], int)
        assert isinstance(model["owned_by"], str) and model["owned_by"]
        extra = model["imagegate"]
        assert {"vendor", "display_name", "capabilities", "pricing", "latency", "when_to_use"} <= set(extra)
        assert extra["pricing"]["currency"] == "USD"
        low, high = extra["latency"]["typical_seconds"]
        assert 0 <= low <= high


def test_sdk_lists_and_retrieves(gateway: Gateway, test_account: Account) -> None:
    client = gateway.client(test_account.key)
    assert {m.id for m in client.models.list()} == CATALOG_IDS
    model = client.models.retrieve("gpt-image-2")
    assert model.id == "gpt-image-2"
    assert model.object == "model"
    assert model.owned_by == "openai"
    assert model.model_extra["imagegate"]["display_name"] == "GPT-Image 2"


def test_gpt_image_2_is_described_as_the_contract_says(gateway: Gateway) -> None:
    with gateway.http() as http:
        one = http.get("/v1/models/gpt-image-2").json()
    assert one == model_entry(gateway, "gpt-image-2")
    extra = one["imagegate"]
    assert extra["vendor"] == "OpenAI"
    assert extra["display_name"] == "GPT-Image 2"
    assert extra["capabilities"] == GPT_IMAGE_2_CAPABILITIES
    card = extra["pricing"]["per_image_micros"]
    assert card["high"]["1024x1024"] == 211000
    assert card["medium"]["1024x1024"] == 53000
    assert card["low"]["1024x1024"] == 6000
    # auto is shown as the dearest quality it can resolve to (what it is held at)
    assert card["auto"] == card["high"]
    for quality in GPT_IMAGE_2_CAPABILITIES["qualities"]:
        assert set(card[quality]) == set(GPT_IMAGE_2_CAPABILITIES["sizes"])


def test_alias_retrieves_the_catalog_model(gateway: Gateway) -> None:
    with gateway.http() as http:
        response = http.get("/v1/models/gpt-image-2-2026-04-21")
    assert response.status_code == 200
    assert response.json()["id"] == "gpt-image-2"


@pytest.mark.parametrize("model_id", ["nano-banana-2", "nano-banana-pro", "seedream-4.5", "preview"])
def test_models_without_qualities_are_priced_under_standard(gateway: Gateway, model_id: str) -> None:
    extra = model_entry(gateway, model_id)["imagegate"]
    assert extra["capabilities"]["qualities"] == []
    card = extra["pricing"]["per_image_micros"]
    assert list(card) == ["standard"]
    assert set(card["standard"]) == set(extra["capabilities"]["sizes"])


def test_seedream_prices(gateway: Gateway) -> None:
    card = model_entry(gateway, "seedream-4.5")["imagegate"]["pricing"]["per_image_micros"]
    assert card["standard"]["2048x2048"] == 40000


def test_preview_is_free(gateway: Gateway) -> None:
    card = model_entry(gateway, "preview")["imagegate"]["pricing"]["per_image_micros"]
    assert card["standard"]
    assert all(micros == 0 for row in card.values() for micros in row.values())


def test_unknown_model_is_404_model_not_found(gateway: Gateway, test_account: Account) -> None:
    with gateway.http() as http:
        response = http.get("/v1/models/dall-e-9")
    assert response.status_code == 404
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "model_not_found"
    assert "dall-e-9" in error["message"]

    with pytest.raises(openai.NotFoundError) as raised:
        gateway.client(test_account.key).models.retrieve("dall-e-9")
    assert raised.value.status_code == 404


@pytest.fixture
def restore_gpt_image_2_high_price(gateway: Gateway) -> Iterator[None]:
    yield
    gateway.cli("prices", "set", "gpt-image-2", "--quality", "high", "--size", "1024x1024", "--usd", "0.211", "--json")
    assert (
        model_entry(gateway, "gpt-image-2")["imagegate"]["pricing"]["per_image_micros"]["high"]["1024x1024"] == 211000
    )


@pytest.mark.tier("process")  # the CLI, another process, changes the price a running process serves
def test_live_price_change_applies_without_restart(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, restore_gpt_image_2_high_price: None
) -> None:
    pid = gateway.process.pid
    out = gateway.cli(
        "prices", "set", "gpt-image-2", "--quality", "high", "--size", "1024x1024", "--usd", "0.3", "--json"
    )
    assert json.loads(out) == {"model": "gpt-image-2", "quality": "high", "size": "1024x1024", "micros": 300000}

    card = model_entry(gateway, "gpt-image-2")["imagegate"]["pricing"]["per_image_micros"]
    assert card["high"]["1024x1024"] == 300000
    assert card["auto"]["1024x1024"] == 300000
    assert card["high"]["1024x1536"] == 317000  # other cells untouched
    assert card["medium"]["1024x1024"] == 53000
    with gateway.http() as http:
        assert (
            http.get("/v1/models/gpt-image-2").json()["imagegate"]["pricing"]["per_image_micros"]["high"]["1024x1024"]
            == 300000
        )

    raw = gateway.client(account.key).images.with_raw_response.generate(
        model="gpt-image-2", prompt="a cat", size="1024x1024", quality="high"
    )
    assert raw.headers["x-imagegate-cost-micros"] == "300000"
    billing = raw.parse().model_extra["billing"]
    assert (billing["amount_micros"], billing["unit_price_micros"]) == (300000, 300000)
    assert gateway.balance(account.id) == (10_000_000 - 300_000, 0)
    assert gateway.process.pid == pid  # the same process: no restart
