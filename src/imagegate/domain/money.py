"""Bounds on money, so that every amount is an exact integer both engines store.

A signed 64-bit integer (PostgreSQL `bigint`, SQLite's widest integer before it silently turns a sum
into a float) holds 9.2e18 micros, $9.2 trillion. The gateway stays four orders of magnitude below:
  - one amount (a top-up, an adjustment) is at most $1,000,000,000 (10**15 micros);
  - a balance is at most $1,000,000,000 (a top-up that would pass it is refused);
  - a price per image is at most $10,000 (10**10 micros), so a hold (price x n) is far below either.
Anything past a bound is a 400 `invalid_value` naming the field, before it reaches the database.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import InvalidRequest
from .storable import printable

MICROS_PER_UNIT = 1_000_000
SIX_PLACES = Decimal("0.000001")
MAX_AMOUNT_MICROS = 10**15
MAX_BALANCE_MICROS = 10**15
MAX_PRICE_MICROS = 10**10
MAX_AMOUNT_CHARS = 40
"""No amount within the bounds needs more characters; longer text is refused before it is parsed."""


def usd_to_micros(amount: str, param: str = "amount_usd", maximum: int = MAX_AMOUNT_MICROS) -> int:
    """`"12.5"` USD -> 12500000 micros, exactly, with |micros| <= `maximum`. More than six decimals
    is refused, never rounded; so are NaN, infinities and anything past the bound."""
    if len(amount) > MAX_AMOUNT_CHARS:
        raise InvalidRequest(f"'{param}' is too long to be an amount.", param=param)
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidRequest(f"'{printable(amount)}' is not a number.", param=param) from exc
    if not value.is_finite():
        raise InvalidRequest(f"'{amount}' is not a finite number.", param=param)
    if value.adjusted() > 20 or abs(value) > Decimal(maximum) / MICROS_PER_UNIT:
        raise InvalidRequest(
            f"'{param}' must be at most {format_usd(maximum)} USD in either direction; got {amount}.", param=param
        )
    if value != value.quantize(SIX_PLACES):  # exact: |value| < 10**10 needs at most 16 of 28 digits
        raise InvalidRequest(f"'{amount}' has more than six decimal places.", param=param)
    return int(value * MICROS_PER_UNIT)


def format_usd(micros: int) -> str:
    return f"{Decimal(micros) / MICROS_PER_UNIT:,f}"


def check_balance(balance_micros: int, param: str = "amount_usd") -> int:
    """A resulting balance within [.., MAX_BALANCE_MICROS], or a 400 naming the amount that would pass it."""
    if balance_micros > MAX_BALANCE_MICROS:
        raise InvalidRequest(
            f"This would take the balance past the maximum of {format_usd(MAX_BALANCE_MICROS)} USD.", param=param
        )
    return balance_micros


__all__ = [
    "MAX_AMOUNT_MICROS",
    "MAX_BALANCE_MICROS",
    "MAX_PRICE_MICROS",
    "MICROS_PER_UNIT",
    "check_balance",
    "format_usd",
    "usd_to_micros",
]
