"""What an upstream call cost the operator: a route's cost sheet applied to what the call reported.

A cost sheet (a route's `upstream_cost` table in the catalog) prices tokens in micro-USD per
million tokens (`tokens.input_text`, `input_image`, `output_image`, `output_text`) and images in
micro-USD per image (`per_image`: quality key -> size or `"*"` -> micros), as the upstream bills:

- a call that reported tokens, on a sheet with token prices, costs its tokens (OpenAI, Gemini);
- a call that reported a billed image count (Seedream's `generated_images`) costs that many
  images at the sheet's per-image figure;
- anything else (no usage reported, or a report the sheet cannot price) costs the per-image figure
  for each image it made, and the cost is marked an estimate.

Rounding: a record's calls are summed exactly, in picodollars (10**-12 USD: a token count times a
price per million micro-USD is an integer there), and rounded once, half up, to whole micro-USD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .money import MAX_PRICE_MICROS
from .upstream_usage import UpstreamUsage

PICOS_PER_MICRO = 1_000_000
ANY_SIZE = "*"
MAX_TOKEN_PRICE = MAX_PRICE_MICROS
"""At most $10,000 per million tokens, the bound of a price per image."""
TOKEN_KINDS = ("input_text", "input_image", "output_image", "output_text")
SHEET_KEYS = frozenset({"tokens", "per_image"})


class CostSheetError(ValueError):
    """A route's cost sheet is malformed (the catalog refuses to load)."""


@dataclass(frozen=True, slots=True)
class CostSheet:
    """A route's upstream prices. Token prices are micro-USD per million tokens (0: not priced);
    `output_text` None means output text tokens cost what output image tokens do."""

    input_text: int = 0
    input_image: int = 0
    output_image: int = 0
    output_text: int | None = None
    per_image: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def prices_tokens(self) -> bool:
        return bool(self.input_text or self.input_image or self.output_image or self.output_text)

    def token_picos(self, usage: UpstreamUsage) -> int:
        """The exact cost of a token report, in picodollars."""
        output_text = self.output_image if self.output_text is None else self.output_text
        return (
            usage.input_text_tokens * self.input_text
            + usage.input_image_tokens * self.input_image
            + usage.output_image_tokens * self.output_image
            + usage.output_text_tokens * output_text
        )

    def image_micros(self, quality: str | None, size: str) -> int:
        """The per-image figure for `quality` (None: `standard`) at `size`; a size the row lacks
        falls to its `"*"`, then to the row's dearest; a quality the sheet lacks, to its dearest row."""
        if not self.per_image:
            return 0
        row = self.per_image.get(quality or "standard")
        if row is None:
            row = max(self.per_image.values(), key=lambda r: max(r.values(), default=0))
        figure = row.get(size, row.get(ANY_SIZE))
        return figure if figure is not None else max(row.values(), default=0)


@dataclass(frozen=True, slots=True)
class SpentCall:
    """One upstream call that made images, as routing saw it come back (before any check).

    `reports`: each distinct usage report of the call with the number of images carrying it;
    `unreported`: images that carried none. `quality` is the price key the images were made at."""

    route: str
    images: int
    quality: str | None
    size: str
    reports: tuple[tuple[UpstreamUsage, int], ...] = ()
    unreported: int = 0


@dataclass(frozen=True, slots=True)
class UpstreamCost:
    """The exact cost of some upstream calls, and whether any part of it is an estimate."""

    picos: int = 0
    estimated: bool = False

    @property
    def micros(self) -> int:
        """Rounded once, half up, to whole micro-USD."""
        return (self.picos + PICOS_PER_MICRO // 2) // PICOS_PER_MICRO

    def __add__(self, other: UpstreamCost) -> UpstreamCost:
        return UpstreamCost(self.picos + other.picos, self.estimated or other.estimated)


NOTHING = UpstreamCost()


def call_cost(sheet: CostSheet | None, call: SpentCall) -> UpstreamCost:
    """One call's cost under its route's sheet (no sheet: unknown, counted 0 and marked an estimate)."""
    if sheet is None:
        return UpstreamCost(0, estimated=call.images > 0)
    figure = sheet.image_micros(call.quality, call.size) * PICOS_PER_MICRO
    total = UpstreamCost(figure * call.unreported, estimated=call.unreported > 0)
    for usage, images in call.reports:
        if usage.has_tokens and sheet.prices_tokens:
            total += UpstreamCost(sheet.token_picos(usage))
        elif usage.billed_images is not None and sheet.per_image:
            total += UpstreamCost(figure * usage.billed_images)
        else:
            total += UpstreamCost(figure * images, estimated=True)
    return total


def calls_cost(sheets: Mapping[str, CostSheet | None], calls: tuple[SpentCall, ...]) -> UpstreamCost:
    """Every call's cost, each under its route's sheet (`sheets`: route name -> sheet)."""
    total = NOTHING
    for call in calls:
        total += call_cost(sheets.get(call.route), call)
    return total


def apply_overrides(sheet: CostSheet | None, items: Mapping[str, int]) -> CostSheet | None:
    """`sheet` with the operator's live items laid over it (`tokens.KIND`, `per_image.QUALITY.SIZE`)."""
    if not items:
        return sheet
    base = sheet or CostSheet()
    tokens: dict[str, int | None] = {kind: getattr(base, kind) for kind in TOKEN_KINDS}
    rows = {quality: dict(row) for quality, row in base.per_image.items()}
    for item, micros in items.items():
        kind, _, rest = item.partition(".")
        if kind == "tokens":
            tokens[rest] = micros
        else:
            quality, _, size = rest.partition(".")
            rows.setdefault(quality, {})[size] = micros
    return CostSheet(
        input_text=tokens["input_text"] or 0,
        input_image=tokens["input_image"] or 0,
        output_image=tokens["output_image"] or 0,
        output_text=tokens["output_text"],
        per_image=MappingProxyType({q: MappingProxyType(row) for q, row in rows.items()}),
    )


def sheet_as_json(sheet: CostSheet | None) -> dict[str, Any] | None:
    """A sheet as the admin API shows it: micro-USD per million tokens, micro-USD per image."""
    if sheet is None:
        return None
    return {
        "tokens_micros_per_million": {kind: getattr(sheet, kind) for kind in TOKEN_KINDS},
        "per_image_micros": {quality: dict(row) for quality, row in sheet.per_image.items()},
    }


def parse_cost_sheet(where: str, raw: Any) -> CostSheet | None:
    """A route's `upstream_cost` table, checked; None when the route has none."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not set(raw) <= SHEET_KEYS:
        raise CostSheetError(f"{where}: upstream_cost takes only {sorted(SHEET_KEYS)}")
    tokens = raw.get("tokens", {})
    if not isinstance(tokens, Mapping) or not set(tokens) <= set(TOKEN_KINDS):
        raise CostSheetError(f"{where}: upstream_cost.tokens takes only {list(TOKEN_KINDS)}")
    prices = {kind: _bounded(where, f"tokens.{kind}", value, MAX_TOKEN_PRICE) for kind, value in tokens.items()}
    per_image = raw.get("per_image", {})
    if not isinstance(per_image, Mapping) or not all(isinstance(row, Mapping) for row in per_image.values()):
        raise CostSheetError(f"{where}: upstream_cost.per_image must be quality -> size -> micros")
    rows = {
        str(quality): MappingProxyType(
            {str(size): _bounded(where, f"per_image.{quality}.{size}", v, MAX_PRICE_MICROS) for size, v in row.items()}
        )
        for quality, row in per_image.items()
    }
    return CostSheet(
        input_text=prices.get("input_text", 0),
        input_image=prices.get("input_image", 0),
        output_image=prices.get("output_image", 0),
        output_text=prices.get("output_text"),
        per_image=MappingProxyType(rows),
    )


def _bounded(where: str, name: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise CostSheetError(f"{where}: upstream_cost.{name} must be an integer 0..{maximum} (micro-USD)")
    return value


__all__ = [
    "ANY_SIZE",
    "MAX_TOKEN_PRICE",
    "NOTHING",
    "TOKEN_KINDS",
    "CostSheet",
    "CostSheetError",
    "SpentCall",
    "UpstreamCost",
    "apply_overrides",
    "call_cost",
    "calls_cost",
    "parse_cost_sheet",
    "sheet_as_json",
]
