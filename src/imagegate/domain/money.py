"""Bounds on money, so that every amount is an exact integer both engines store.

A signed 64-bit integer (PostgreSQL `bigint`, SQLite's widest integer before it silently turns a sum
into a float) holds 9.2e18 micros, $9.2 trillion. The gateway stays four orders of magnitude below:
  - one amount (a top-up, an adjustment) is at most $1,000,000,000 (10**15 micros);
  - a balance is at most $1,000,000,000 (a top-up that would pass it is refused);
  - a price per image is at most $10,000 (10**10 micros), so a hold (price x n) is far below either.
An amount past a bound is a 400 `invalid_value` naming the field, before it reaches the database; an
amount that would take a balance past its bound is a 409 `balance_out_of_range` (the account's state).

An amount is written as a plain decimal (`AMOUNT_TEXT`: `"12.5"`, `"-3"`; no exponent, no spaces, ASCII
digits only), or comes as a JSON number, which is read as the decimal it spells (`amount_text`).
`amount_pattern` is the same rule, with the bounds and the sign, as one regular expression: what the
API document promises each amount field accepts.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Literal

from .errors import BalanceOutOfRange, InvalidRequest
from .storable import printable

MICROS_PER_UNIT = 1_000_000
SIX_PLACES = Decimal("0.000001")
MAX_AMOUNT_MICROS = 10**15
MAX_BALANCE_MICROS = 10**15
MAX_PRICE_MICROS = 10**10
MAX_AMOUNT_CHARS = 40
"""No amount within the bounds needs more characters; longer text is refused before it is parsed."""
AMOUNT_TEXT = r"-?[0-9]+(\.[0-9]+)?"
DECIMALS = 6


def usd_to_micros(amount: str, param: str = "amount_usd", maximum: int = MAX_AMOUNT_MICROS) -> int:
    """`"12.5"` USD -> 12500000 micros, exactly, with |micros| <= `maximum`. More than six decimals
    is refused, never rounded; so are NaN, infinities and anything past the bound."""
    if len(amount) > MAX_AMOUNT_CHARS:
        raise InvalidRequest(f"'{param}' is too long to be an amount.", param=param)
    if re.fullmatch(AMOUNT_TEXT, amount) is None:
        raise InvalidRequest(
            f"'{printable(amount)}' is not a number written as plain decimal digits (such as 12.5 or -3).", param=param
        )
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover -- AMOUNT_TEXT is a Decimal
        raise InvalidRequest(f"'{printable(amount)}' is not a number.", param=param) from exc
    if value.adjusted() > 20 or abs(value) > Decimal(maximum) / MICROS_PER_UNIT:
        raise InvalidRequest(
            f"'{param}' must be at most {format_usd(maximum)} USD in either direction; got {amount}.", param=param
        )
    if value != value.quantize(SIX_PLACES):  # exact: |value| < 10**10 needs at most 16 of 28 digits
        raise InvalidRequest(f"'{amount}' has more than six decimal places.", param=param)
    return int(value * MICROS_PER_UNIT)


def amount_text(value: str | int | float) -> str:
    """An amount as text: a string as it is, a JSON number as the decimal it spells (`0.1`, not 0.1000…)."""
    if isinstance(value, str):
        return value
    spelled = Decimal(repr(value))
    return format(spelled, "f") if spelled.is_finite() else repr(value)


Sign = Literal["any", "positive", "nonzero", "non_negative"]


def amount_pattern(sign: Sign, maximum: int) -> str:
    """The amounts `usd_to_micros(text, maximum=maximum)` accepts, of `sign`, as one regular expression.

    `maximum` is a power of ten of dollars in micros. Leading zeros and trailing decimal zeros are
    allowed (the value is what counts); the length is bounded apart, by `MAX_AMOUNT_CHARS`.
    """
    digits = len(str(maximum // MICROS_PER_UNIT)) - 1  # $10**digits
    assert maximum == 10**digits * MICROS_PER_UNIT, "the maximum must be a power of ten of dollars"
    fraction = rf"(\.[0-9]{{1,{DECIMALS}}}0*)?"
    positive = "|".join(
        (
            rf"0*[1-9][0-9]{{0,{digits - 1}}}{fraction}",  # at least one whole dollar
            rf"0*1{'0' * digits}(\.0+)?",  # the maximum itself
            rf"0+\.[0-9]{{0,{DECIMALS - 1}}}[1-9]0*",  # less than a dollar
        )
    )
    zero = r"0+(\.0+)?"
    return {
        "positive": f"({positive})",
        "nonzero": f"-?({positive})",
        "non_negative": f"(-?{zero}|{positive})",
        "any": f"-?({zero}|{positive})",
    }[sign]


def format_usd(micros: int) -> str:
    return f"{Decimal(micros) / MICROS_PER_UNIT:,f}"


def check_balance(balance_micros: int, param: str = "amount_usd") -> int:
    """A resulting balance within [.., MAX_BALANCE_MICROS], or a 409 naming the amount that would pass it."""
    if balance_micros > MAX_BALANCE_MICROS:
        raise BalanceOutOfRange(
            f"This would take the balance past the maximum of {format_usd(MAX_BALANCE_MICROS)} USD.", param=param
        )
    return balance_micros


__all__ = [
    "AMOUNT_TEXT",
    "MAX_AMOUNT_CHARS",
    "MAX_AMOUNT_MICROS",
    "MAX_BALANCE_MICROS",
    "MAX_PRICE_MICROS",
    "MICROS_PER_UNIT",
    "Sign",
    "amount_pattern",
    "amount_text",
    "check_balance",
    "format_usd",
    "usd_to_micros",
]
