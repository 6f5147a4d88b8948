"""A price card in one line per quality: "1K–2K $0.134 · 4K $0.24" instead of 30 rows that repeat
one price. Sizes are grouped by their resolution tier (1K ≈ 1024², 2K ≈ 2048², 4K ≈ 4096²) when
every size of a tier costs the same, else by price."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .catalog import parse_size

SMALLEST_TIER = 0.75
"""Below about 0.75 × 1024² a size is named by itself ("256x256"), not by a tier."""


@dataclass(frozen=True, slots=True)
class PriceGroup:
    label: str
    """ "1K–2K", "4K", "every size", or the sizes themselves ("1024x1536, 1536x1024")."""
    micros: int


def pixels(size: str) -> int:
    width, height = parse_size(size)
    return width * height


def tier(size: str) -> str:
    """ "1K", "2K", "4K" by the size's pixel count (1K = 1024²); small sizes are their own name."""
    ratio = math.sqrt(pixels(size)) / 1024
    return f"{round(ratio)}K" if ratio >= SMALLEST_TIER else size


def summarize_prices(row: Mapping[str, int], sizes: Sequence[str]) -> tuple[PriceGroup, ...]:
    """One quality's prices (`row[size]`), in ascending size order, as few groups as tell them all."""
    ordered = sorted((s for s in sizes if s in row), key=pixels)
    if not ordered:
        return ()
    if len({row[s] for s in ordered}) == 1:
        return (PriceGroup("every size", row[ordered[0]]),)
    tiers: dict[str, set[int]] = {}
    for size in ordered:
        tiers.setdefault(tier(size), set()).add(row[size])
    if all(len(prices) == 1 for prices in tiers.values()):
        return _runs([(name, next(iter(prices))) for name, prices in tiers.items()], join="–")
    by_price: dict[int, list[str]] = {}
    for size in ordered:
        by_price.setdefault(row[size], []).append(size)
    return tuple(PriceGroup(", ".join(group), price) for price, group in by_price.items())


def _runs(items: list[tuple[str, int]], join: str) -> tuple[PriceGroup, ...]:
    """Neighbouring tiers of one price merged: [(1K, a), (2K, a), (4K, b)] -> "1K–2K" a, "4K" b."""
    groups: list[tuple[str, str, int]] = []
    for name, price in items:
        if groups and groups[-1][2] == price:
            first, _, _ = groups[-1]
            groups[-1] = (first, name, price)
        else:
            groups.append((name, name, price))
    return tuple(PriceGroup(first if first == last else f"{first}{join}{last}", price) for first, last, price in groups)


__all__ = ["PriceGroup", "pixels", "summarize_prices", "tier"]
