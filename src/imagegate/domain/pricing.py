"""The price of a request, in integer micro-units, from the live price cards."""

from __future__ import annotations

from collections.abc import Mapping

from .catalog import STANDARD_QUALITY, Model

PriceOverrides = Mapping[tuple[str, str, str], int]
"""Live rates set by the operator: (model id, quality key, size) -> micros per image."""


def unit_price(model: Model, quality_key: str, size: str, overrides: PriceOverrides) -> int:
    """Micros per delivered image; free models cost nothing."""
    if model.free:
        return 0
    live = overrides.get((model.id, quality_key, size))
    if live is not None:
        return live
    return model.prices[quality_key][size]


def held_unit_price(model: Model, quality: str | None, size: str, overrides: PriceOverrides) -> int:
    """The price per image a request is held at.

    `auto` resolves upstream, so it is held at the dearest quality for the size (and size `auto` at
    the dearest size the upstream may pick): whatever the upstream picks, the capture fits inside.
    """
    sizes = model.priced_sizes(size)
    if quality == "auto":
        return max(unit_price(model, q, s, overrides) for q in model.prices for s in sizes)
    return max(unit_price(model, model.price_key(quality), s, overrides) for s in sizes)


def charged_unit_price(
    model: Model, quality: str | None, reported: str | None, size: str, overrides: PriceOverrides
) -> int:
    """The price per delivered image: `auto` is charged as the quality the upstream reports using,
    and as the catalog's `auto_quality_price` when it reports none. `size` is the size delivered."""
    if quality == "auto":
        resolved = reported if reported in model.prices else model.auto_quality_price
        return unit_price(model, model.price_key(resolved), size, overrides)
    return unit_price(model, model.price_key(quality), size, overrides)


def live_card(model: Model, overrides: PriceOverrides) -> dict[str, dict[str, int]]:
    """`per_image_micros[quality][size]`; `auto` shows what it is held at (the dearest quality)."""
    if model.free:
        return {STANDARD_QUALITY: dict.fromkeys(model.capabilities.sizes, 0)}
    card = {
        quality: {size: unit_price(model, quality, size, overrides) for size in model.capabilities.sizes}
        for quality in model.prices
    }
    if "auto" in model.capabilities.qualities:
        card["auto"] = {size: max(card[q][size] for q in model.prices) for size in model.capabilities.sizes}
    return card


__all__ = ["PriceOverrides", "charged_unit_price", "held_unit_price", "live_card", "unit_price"]
