"""Money bounds (domain/money.py): amounts parsed exactly and refused past the documented maximum,
and a catalog price past the maximum stops the gateway at start."""

from __future__ import annotations

import pytest

from imagegate.domain.catalog import Catalog, CatalogError
from imagegate.domain.errors import InvalidRequest
from imagegate.domain.money import MAX_AMOUNT_MICROS, MAX_PRICE_MICROS, check_balance, usd_to_micros
from tests.unit.test_routes_catalog import model_data


@pytest.mark.parametrize(
    ("amount", "micros"),
    [
        ("12.5", 12_500_000),
        ("0.000001", 1),
        ("-0.1", -100_000),
        ("1E+9", MAX_AMOUNT_MICROS),
        ("-1000000000", -MAX_AMOUNT_MICROS),
    ],
)
def test_amounts_within_the_bounds_are_exact(amount: str, micros: int) -> None:
    assert usd_to_micros(amount) == micros


@pytest.mark.parametrize(
    "amount",
    [
        "1000000000.000001",
        "5.29e+16",
        "9000000000000",
        "1e999999999",
        "-1e999999999",
        "1e-999999999",
        "0.0000001",
        "Infinity",
        "-Infinity",
        "NaN",
        "sNaN",
        "",
        "1\x00",
        "\ud800",
        "9" * 41,
    ],
)
def test_amounts_past_the_bounds_or_not_exact_are_refused(amount: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        usd_to_micros(amount)
    assert refused.value.param == "amount_usd"
    assert refused.value.body()  # renders (no unstorable text in the message)


def test_a_price_has_its_own_lower_maximum() -> None:
    assert usd_to_micros("10000", maximum=MAX_PRICE_MICROS) == MAX_PRICE_MICROS
    with pytest.raises(InvalidRequest):
        usd_to_micros("10000.01", maximum=MAX_PRICE_MICROS)


def test_a_balance_past_the_maximum_is_refused() -> None:
    assert check_balance(MAX_AMOUNT_MICROS) == MAX_AMOUNT_MICROS
    with pytest.raises(InvalidRequest):
        check_balance(MAX_AMOUNT_MICROS + 1)


@pytest.mark.parametrize("price", [MAX_PRICE_MICROS + 1, -1, 2**70])
def test_a_catalog_price_past_the_maximum_stops_the_start(price: int) -> None:
    data = model_data()
    data["models"]["m"]["prices"]["standard"]["2048x2048"] = price
    with pytest.raises(CatalogError):
        Catalog.from_dict(data)
