"""imagegate.domain.pricing: integer micros from the catalog's cards and the operator's live rates."""

from __future__ import annotations

import pytest

from imagegate.config import load_catalog
from imagegate.domain.catalog import Model
from imagegate.domain.pricing import charged_unit_price, held_unit_price, unit_price

CATALOG = load_catalog()


def model(model_id: str) -> Model:
    found = CATALOG.find(model_id)
    assert found is not None
    return found


GPT = model("gpt-image-2")
SEEDREAM = model("seedream-4.5")
PREVIEW = model("preview")


@pytest.mark.parametrize(
    ("quality", "size", "micros"),
    [
        ("low", "1024x1024", 6000),
        ("medium", "1024x1024", 53000),
        ("high", "1024x1024", 211000),
        ("low", "1024x1536", 9000),
        ("medium", "1536x1024", 80000),
        ("high", "4096x4096", 1670000),
    ],
)
def test_catalog_prices(quality: str, size: str, micros: int) -> None:
    assert unit_price(GPT, quality, size, {}) == micros
    assert held_unit_price(GPT, quality, size, {}) == micros
    assert charged_unit_price(GPT, quality, None, size, {}) == micros
    assert charged_unit_price(GPT, quality, "low" if quality != "low" else "high", size, {}) == micros


def test_models_without_qualities_use_standard() -> None:
    assert unit_price(SEEDREAM, "standard", "2048x2048", {}) == 40000
    assert held_unit_price(SEEDREAM, None, "2048x2048", {}) == 40000
    assert charged_unit_price(SEEDREAM, None, None, "2048x2048", {}) == 40000
    assert held_unit_price(model("nano-banana-pro"), None, "4096x4096", {}) == 240000


@pytest.mark.parametrize("size", ["1024x1024", "1536x1024", "4096x4096"])
def test_auto_is_held_at_the_dearest_quality(size: str) -> None:
    dearest = max(GPT.prices[q][size] for q in ("low", "medium", "high"))
    assert held_unit_price(GPT, "auto", size, {}) == dearest == GPT.prices["high"][size]


@pytest.mark.parametrize(("reported", "micros"), [("low", 6000), ("medium", 53000), ("high", 211000)])
def test_auto_is_charged_at_the_reported_quality(reported: str, micros: int) -> None:
    assert charged_unit_price(GPT, "auto", reported, "1024x1024", {}) == micros
    assert micros <= held_unit_price(GPT, "auto", "1024x1024", {})


@pytest.mark.parametrize("reported", [None, "auto", "ultra", ""])
def test_auto_without_a_usable_report_is_charged_at_the_catalogs_auto_price(reported: str | None) -> None:
    assert GPT.auto_quality_price == "high"
    assert charged_unit_price(GPT, "auto", reported, "1024x1024", {}) == 211000


def test_held_covers_every_possible_charge_for_auto() -> None:
    overrides = {("gpt-image-2", "medium", "1024x1024"): 500000}
    held = held_unit_price(GPT, "auto", "1024x1024", overrides)
    assert held == 500000
    for reported in ("low", "medium", "high", None):
        assert charged_unit_price(GPT, "auto", reported, "1024x1024", overrides) <= held


def test_free_models_cost_nothing() -> None:
    overrides = {("preview", "standard", "1024x1024"): 999}
    for size in PREVIEW.capabilities.sizes:
        assert unit_price(PREVIEW, "standard", size, overrides) == 0
        assert held_unit_price(PREVIEW, None, size, overrides) == 0
        assert charged_unit_price(PREVIEW, None, None, size, overrides) == 0


def test_overrides_win() -> None:
    overrides = {
        ("gpt-image-2", "high", "1024x1024"): 300000,
        ("seedream-4.5", "standard", "2048x2048"): 0,
        ("gpt-image-2-official", "low", "1024x1024"): 1,
    }
    assert unit_price(GPT, "high", "1024x1024", overrides) == 300000
    assert held_unit_price(GPT, "high", "1024x1024", overrides) == 300000
    assert charged_unit_price(GPT, "high", None, "1024x1024", overrides) == 300000
    assert held_unit_price(GPT, "auto", "1024x1024", overrides) == 300000
    assert charged_unit_price(GPT, "auto", "high", "1024x1024", overrides) == 300000
    # a zero override is a real price, not "unset"
    assert unit_price(SEEDREAM, "standard", "2048x2048", overrides) == 0
    # only the overridden cell changes: other sizes, qualities and models keep the catalog's
    assert unit_price(GPT, "high", "1024x1536", overrides) == 317000
    assert unit_price(GPT, "medium", "1024x1024", overrides) == 53000
    assert unit_price(GPT, "low", "1024x1024", overrides) == 6000
    assert unit_price(model("gpt-image-2-official"), "low", "1024x1024", overrides) == 1


def test_prices_are_integers() -> None:
    for m in CATALOG:
        for row in m.prices.values():
            assert all(isinstance(v, int) and v >= 0 for v in row.values())
