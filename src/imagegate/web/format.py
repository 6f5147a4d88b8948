"""Template filters: money in dollars from micros, durations, dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

MICROS_PER_USD = 1_000_000


def usd(micros: int) -> str:
    """167000 -> "$0.167", 1670000 -> "$1.67", 0 -> "$0.00": exact, at least two decimals."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    decimals = f"{frac:06d}".rstrip("0")
    return f"{sign}${whole:,}.{decimals.ljust(2, '0')}"


def seconds(ms: int | None) -> str:
    if ms is None:
        return "—"
    return f"{ms / 1000:.1f} s"


def when(value: str | datetime | None) -> str:
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


FILTERS: dict[str, Callable[..., Any]] = {"usd": usd, "seconds": seconds, "when": when}

__all__ = ["FILTERS", "seconds", "usd", "when"]
