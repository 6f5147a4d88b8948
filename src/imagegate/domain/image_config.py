"""OpenRouter's `image_config` (`aspect_ratio` such as "16:9", `image_size` "1K" | "2K" | "4K") read
as one of the model's catalog sizes.

A size matches an aspect ratio within `RATIO_TOLERANCE` (Gemini's 1K 16:9 is 1376x768, 1.79 for
1.78) and belongs to the tier nearest its pixel count (1K ~ 1024², 2K ~ 2048², 4K ~ 4096²). What is
not given is the model's default size's ratio or tier. A combination the model does not draw is
refused naming the field, with what it draws instead: values are never silently changed.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from .catalog import Model, parse_size
from .errors import InvalidRequest
from .fields import Field

TIERS = {"1K": 1024, "2K": 2048, "4K": 4096}
RATIO_TOLERANCE = 0.03
MAX_RATIO_TERM = 100
PARAM = "image_config"
KEYS = ("aspect_ratio", "image_size")
_TERM = "0*(?:100|[1-9][0-9]?)"
ASPECT_RATIO = Field("aspect_ratio", "string", 'e.g. "16:9"', pattern=f"{_TERM}:{_TERM}")
IMAGE_SIZE = Field("image_size", "string", "a size tier", pattern="[124][Kk]")
DOC = "OpenRouter's: picks one of the model's sizes (not with `size`)"


def image_config_field(model: Model | None) -> Field:
    """`image_config` as declared; with `model`, the combinations it draws, one variant per tier
    (found by asking `size_for` itself, so the document says what it accepts)."""
    if model is None:
        return Field(PARAM, "object", DOC, fields=(ASPECT_RATIO, IMAGE_SIZE))
    labels = tuple(dict.fromkeys(_label(size) for size in model.capabilities.sizes))
    groups: dict[tuple[tuple[str, ...], bool], list[str | None]] = {}
    for tier in (None, *TIERS):
        drawn = tuple(label for label in labels if _draws(model, label, tier))
        if drawn:  # tiers that take the same ratios (and the same need for one) are one variant
            groups.setdefault((drawn, not _draws(model, None, tier)), []).append(tier)
    variants = []
    for (drawn, needs_ratio), tiers in groups.items():
        aspect = replace(ASPECT_RATIO, pattern=None, choices=drawn, required=needs_ratio)
        named = tuple(tier for tier in tiers if tier is not None)
        size = replace(IMAGE_SIZE, pattern=None, choices=named, required=None not in tiers, offered=bool(named))
        variants.append(Field(PARAM, "object", fields=(aspect, size)))
    return Field(PARAM, "object", DOC, variants=tuple(variants))


def _draws(model: Model, aspect: str | None, tier: str | None) -> bool:
    try:
        size_for({"aspect_ratio": aspect, "image_size": tier}, model)
    except InvalidRequest:
        return False
    return True


def size_for(config: Any, model: Model) -> str:
    """The catalog size `config` asks for on `model`; a 400 naming `image_config.<field>` otherwise."""
    if not isinstance(config, dict):
        raise InvalidRequest(f"'{PARAM}' must be an object.", code="invalid_type", param=PARAM)
    for key in config:
        if key not in KEYS:
            raise InvalidRequest(
                f"Unknown parameter: '{PARAM}.{key}' (it takes aspect_ratio and image_size).",
                code="unknown_parameter",
                param=f"{PARAM}.{key}",
            )
    sizes = model.capabilities.sizes
    default = model.capabilities.default_size
    aspect = config.get("aspect_ratio")
    wanted_ratio = _ratio_of(aspect) if aspect is not None else _ratio(default)
    tier = _tier_named(config.get("image_size"))
    shaped = [size for size in sizes if abs(_ratio(size) / wanted_ratio - 1) <= RATIO_TOLERANCE]
    if not shaped:
        drawn = ", ".join(dict.fromkeys(_label(size) for size in sizes))
        raise InvalidRequest(
            f"The model '{model.id}' draws no {aspect} image; its aspect ratios are {drawn}.",
            param=f"{PARAM}.aspect_ratio",
        )
    wanted_tier = tier or _tier(default)
    in_tier = [size for size in shaped if _tier(size) == wanted_tier]
    if in_tier:
        return min(in_tier, key=lambda size: abs(_pixels(size) - TIERS[wanted_tier] ** 2))
    if tier is not None:
        offered = ", ".join(dict.fromkeys(_tier(size) for size in shaped))
        raise InvalidRequest(
            f"The model '{model.id}' draws {_label(shaped[0])} images at {offered}, not {tier}.",
            param=f"{PARAM}.image_size",
        )
    return min(shaped, key=lambda size: abs(math.log(_pixels(size) / TIERS[wanted_tier] ** 2)))


def _ratio_of(value: Any) -> float:
    where = f"{PARAM}.aspect_ratio"
    if not isinstance(value, str):
        raise InvalidRequest(f"'{where}' must be a string such as \"16:9\".", code="invalid_type", param=where)
    width, colon, height = value.partition(":")
    if not (colon and width.isascii() and width.isdigit() and height.isascii() and height.isdigit()):
        raise InvalidRequest(f"'{where}' must look like \"16:9\"; got '{value[:20]}'.", param=where)
    w, h = int(width), int(height)
    if not (1 <= w <= MAX_RATIO_TERM and 1 <= h <= MAX_RATIO_TERM):
        raise InvalidRequest(f"'{where}' terms must be 1 to {MAX_RATIO_TERM}; got '{value}'.", param=where)
    return w / h


def _tier_named(value: Any) -> str | None:
    if value is None:
        return None
    where = f"{PARAM}.image_size"
    if not isinstance(value, str) or value.upper() not in TIERS:
        raise InvalidRequest(f"'{where}' must be one of {', '.join(TIERS)}.", param=where)
    return value.upper()


def _ratio(size: str) -> float:
    width, height = parse_size(size)
    return width / height


def _pixels(size: str) -> int:
    width, height = parse_size(size)
    return width * height


def _tier(size: str) -> str:
    """The tier whose square's pixel count is nearest (on a log scale) to the size's."""
    return min(TIERS, key=lambda name: abs(math.log(_pixels(size) / TIERS[name] ** 2)))


_COMMON = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "9:21")


def _label(size: str) -> str:
    """A size's aspect ratio as a client would write it ("16:9"), else its own terms reduced."""
    ratio = _ratio(size)
    for common in _COMMON:
        w, h = common.split(":")
        if abs(ratio / (int(w) / int(h)) - 1) <= RATIO_TOLERANCE:
            return common
    width, height = parse_size(size)
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


__all__ = ["PARAM", "TIERS", "image_config_field", "size_for"]
