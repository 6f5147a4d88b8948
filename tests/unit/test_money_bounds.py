"""Money bounds (domain/money.py): amounts parsed exactly and refused past the documented maximum,
and a catalog price past the maximum stops the gateway at start."""

from __future__ import annotations

import random
import re

import pytest

from imagegate.domain.catalog import Catalog, CatalogError
from imagegate.domain.errors import BalanceOutOfRange, InvalidRequest
from imagegate.domain.money import (
    MAX_AMOUNT_CHARS,
    MAX_AMOUNT_MICROS,
    MAX_PRICE_MICROS,
    Sign,
    amount_pattern,
    amount_text,
    check_balance,
    usd_to_micros,
)
from tests.unit.test_routes_catalog import model_data


@pytest.mark.parametrize(
    ("amount", "micros"),
    [
        ("12.5", 12_500_000),
        ("0.000001", 1),
        ("-0.1", -100_000),
        ("1000000000", MAX_AMOUNT_MICROS),
        ("-1000000000", -MAX_AMOUNT_MICROS),
        ("0012.50000000", 12_500_000),
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
        # only plain decimals: no exponent, sign, spaces, separators or non-ASCII digits (Decimal takes them all)
        "1E+9",
        "1e3",
        "+5",
        " 5",
        "5 ",
        "5.",
        ".5",
        "1_000",
        "\u0663",
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


def test_a_balance_past_the_maximum_is_a_conflict_with_the_account_not_a_bad_amount() -> None:
    assert check_balance(MAX_AMOUNT_MICROS) == MAX_AMOUNT_MICROS
    with pytest.raises(BalanceOutOfRange) as refused:
        check_balance(MAX_AMOUNT_MICROS + 1)
    assert (refused.value.status, refused.value.code) == (409, "balance_out_of_range")


@pytest.mark.parametrize(
    ("value", "text"), [(2.25, "2.25"), (0.1, "0.1"), (3, "3"), (1e-05, "0.00001"), ("7.5", "7.5")]
)
def test_a_json_number_is_the_decimal_it_spells(value: float | int | str, text: str) -> None:
    assert amount_text(value) == text


def _accepts(text: str, sign: Sign, maximum: int) -> bool:
    try:
        micros = usd_to_micros(text, maximum=maximum)
    except InvalidRequest:
        return False
    return {"any": True, "positive": micros > 0, "nonzero": micros != 0, "non_negative": micros >= 0}[sign]


@pytest.mark.parametrize("sign", ["any", "positive", "nonzero", "non_negative"])
@pytest.mark.parametrize("maximum", [MAX_AMOUNT_MICROS, MAX_PRICE_MICROS])
def test_the_documents_pattern_is_exactly_what_the_check_accepts(sign: Sign, maximum: int) -> None:
    """The API document promises `amount_pattern`: every text it matches is accepted, and no other."""
    pattern = re.compile(amount_pattern(sign, maximum))
    rng = random.Random(sign + str(maximum))
    edges = [
        "0",
        "-0",
        "0.0",
        "1",
        "1000000000",
        "1000000000.0",
        "1000000000.000001",
        "999999999.999999",
        "10000",
        "10000.5",
        "9999.999999",
        "0.000001",
        "0.0000001",
        "0.00000100",
        "-0.000001",
        "00001",
        "1.1234561",
    ]
    texts = [*edges]
    for _ in range(20_000):
        texts.append("".join(rng.choice("0123456789.-") for _ in range(rng.randint(1, 14))))
        whole = str(rng.choice([-1, 1]) * rng.randint(0, 10 ** rng.randint(0, 11)))
        texts.append(
            whole + ("." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 8)))) * rng.randint(0, 1)
        )
    wrong = [
        t
        for t in texts
        if (pattern.fullmatch(t) is not None and len(t) <= MAX_AMOUNT_CHARS) != _accepts(t, sign, maximum)
    ]
    assert wrong == []


@pytest.mark.parametrize("price", [MAX_PRICE_MICROS + 1, -1, 2**70])
def test_a_catalog_price_past_the_maximum_stops_the_start(price: int) -> None:
    data = model_data()
    data["models"]["m"]["prices"]["standard"]["2048x2048"] = price
    with pytest.raises(CatalogError):
        Catalog.from_dict(data)
