"""The catalog as clients and readers see it: the JSON of /v1/models and the model pages' content.

Both come from the catalog, the live price cards and the contract; nothing here is typed per model.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ...db.prices import PricesRepo
from ...db.usage_stats import LatencySample, UsageStatsRepo
from ...domain.catalog import STANDARD_QUALITY, Catalog, Model, parse_size
from ...domain.error_table import ERROR_ROWS, ErrorRow
from ...domain.errors import NotFound
from ...domain.fields import Field, describe
from ...domain.latency import LatencySummary, summarize
from ...domain.price_summary import PriceGroup, summarize_prices
from ...domain.pricing import PriceOverrides, live_card
from ...domain.request import generation_fields
from ..operator.route_health import Availability

AvailabilitySource = Callable[[], Awaitable[Mapping[str, Availability]]]
"""Each model's availability now (`RouteHealth.availability`)."""
ALWAYS_AVAILABLE = Availability("available", 0, 0, 0)
"""What a model shows when nothing reports on its routes (a catalog read without a serving node)."""
DEFAULT_EXAMPLE_PROMPT = "A lighthouse on a cliff at dawn, watercolor"
LONG_CARD = 8
"""A price card of more sizes than this is shown as its summary, the full table folded away."""
SHORT_SUMMARY = 3

MEASURED_WINDOW = timedelta(hours=24)
REFERENCE_SIZE = "1024x1024"
REFERENCE_QUALITY = "high"


def architecture(model: Model) -> dict[str, Any]:
    """OpenRouter's `architecture`: what a chat client reads to find the models that answer with
    images (`output_modalities`) and those that take an image to edit (`input_modalities`)."""
    inputs = ["text", "image"] if model.capabilities.img2img else ["text"]
    return {"modality": "+".join(inputs) + "->image", "input_modalities": inputs, "output_modalities": ["image"]}


def model_json(model: Model, overrides: PriceOverrides, availability: Availability | None = None) -> dict[str, Any]:
    """One entry of GET /v1/models; `availability`: whether this gateway serves it to a live key now."""
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
        "architecture": architecture(model),
        "imagegate": {
            "vendor": model.vendor,
            "display_name": model.display_name,
            "aliases": list(model.aliases),
            "capabilities": model.capabilities.as_public(),
            "pricing": {"currency": "USD", "per_image_micros": live_card(model, overrides)},
            "latency": {"typical_seconds": list(model.latency_seconds)},
            "when_to_use": list(model.when_to_use),
            **({"availability": availability.as_json()} if availability is not None else {}),
        },
    }


@dataclass(frozen=True, slots=True)
class ParamRow:
    name: str
    type: str
    required: bool
    default: str | None
    notes: str
    supported: bool = True


@dataclass(frozen=True, slots=True)
class ModelCard:
    model: Model
    capability_line: str
    from_micros: int
    max_size: str
    card: dict[str, dict[str, int]]
    availability: Availability = ALWAYS_AVAILABLE
    tags: tuple[str, ...] = ()

    @property
    def summarised(self) -> bool:
        """Whether the one-line summary says more than the table: a long card, or few distinct prices."""
        groups = self.price_summary.values()
        return len(self.model.capabilities.sizes) > LONG_CARD or all(len(g) <= SHORT_SUMMARY for g in groups)

    @property
    def price_summary(self) -> dict[str, tuple[PriceGroup, ...]]:
        """Each quality's prices in one line ("1K–2K $0.134 · 4K $0.24"), `auto` left out (it is
        held at the dearest quality and charged as the quality used)."""
        sizes = self.model.capabilities.sizes
        return {q: summarize_prices(row, sizes) for q, row in self.card.items() if q != "auto"}


@dataclass(frozen=True, slots=True)
class Sibling:
    """Another model, as this model's page names it: when to pick it instead."""

    model: Model
    pick_when: str
    availability: Availability = ALWAYS_AVAILABLE


@dataclass(frozen=True, slots=True)
class ModelPage:
    card: ModelCard
    params: tuple[ParamRow, ...]
    errors: tuple[ErrorRow, ...]
    measured_overall: LatencySummary
    measured_reference: LatencySummary | None
    reference_label: str
    see_also: tuple[Sibling, ...]
    example_body: dict[str, Any]
    sync_line: str


def capability_line(model: Model) -> str:
    """The catalog's own line, else one derived from the capabilities."""
    if model.capability_line:
        return model.capability_line
    caps = model.capabilities
    return f"Text to image, up to {max_size(model)}, n up to {caps.max_n}"


def max_size(model: Model) -> str:
    def pixels(size: str) -> int:
        width, height = parse_size(size)
        return width * height

    return max(model.capabilities.sizes, key=pixels)


def capability_tags(model: Model) -> tuple[str, ...]:
    """Short tags of what the model does, from its capabilities (the reference page's tags)."""
    caps = model.capabilities
    tags = ["Text to image"]
    if caps.img2img:
        tags.append("Image editing")
    tags.append(f"Up to {max_size(model)}")
    if len(caps.sizes) > 5:
        tags.append(f"{len(caps.sizes)} sizes")
    tags.append(f"Up to {caps.max_n} per request")
    if caps.qualities:
        tags.append("Quality levels")
    if caps.styles:
        tags.append("Styles")
    if "transparent" in caps.extra.backgrounds:
        tags.append("Transparent background")
    if caps.upscaled_from:
        tags.append("Upscaled sizes")
    tags.append("Free" if model.free else "Pay per image")
    tags.append("Sync or async")
    return tuple(tags)


def sync_line(model: Model) -> str:
    """ "Sync (≤18 s typical, longer at high)": how long one synchronous request takes."""
    longer = ", longer at high" if "high" in model.capabilities.qualities else ""
    return f"Sync (≤{model.latency_seconds[1]} s typical{longer})"


def make_card(model: Model, overrides: PriceOverrides, availability: Availability = ALWAYS_AVAILABLE) -> ModelCard:
    card = live_card(model, overrides)
    priced = [price for quality, row in card.items() if quality != "auto" for price in row.values()]
    return ModelCard(
        model, capability_line(model), min(priced), max_size(model), card, availability, capability_tags(model)
    )


def param_rows(model: Model) -> tuple[ParamRow, ...]:
    """The body parameters of POST /v1/images/generations for this model: its declared fields."""
    return tuple(_param_row(field) for field in generation_fields(model))


def _param_row(field: Field) -> ParamRow:
    if not field.offered:
        notes = "not supported by this model: refused with 400 unsupported_parameter"
        return ParamRow(field.name, field.kind, False, None, notes, supported=False)
    default = None if field.default is None else json.dumps(field.default).strip('"')
    return ParamRow(field.name, field.kind, field.required, default, describe(field))


def example_body(model: Model) -> dict[str, Any]:
    caps = model.capabilities
    body: dict[str, Any] = {
        "model": model.id,
        "prompt": model.example_prompt or DEFAULT_EXAMPLE_PROMPT,
        "size": caps.default_size,
        "n": 1,
    }
    if caps.qualities:
        body["quality"] = caps.default_quality
    return body


def measured(samples: list[LatencySample], model: Model) -> tuple[LatencySummary, LatencySummary | None, str]:
    """Overall, and at 1024x1024 high (or the model's standard quality) where the model has it."""
    overall = summarize([s.latency_ms for s in samples])
    quality = REFERENCE_QUALITY if REFERENCE_QUALITY in model.capabilities.qualities else None
    if REFERENCE_SIZE not in model.capabilities.sizes or (model.capabilities.qualities and quality is None):
        return overall, None, ""
    label = f"{REFERENCE_SIZE} {quality or STANDARD_QUALITY}"
    picked = [s.latency_ms for s in samples if s.size == REFERENCE_SIZE and s.quality == quality]
    return overall, summarize(picked), label


def siblings(
    model: Model, catalog: Catalog, available: Mapping[str, Availability] | None = None
) -> tuple[Sibling, ...]:
    """Every other model worth comparing: the catalog's `see_also` first, then the rest (free models
    only beside free ones), each with when to pick it: this model's `pick_sibling` text, else what the
    sibling is best at."""
    named = [catalog.models[name] for name in model.see_also]
    named_ids = {m.id for m in named}
    rest = [m for m in catalog if m.id != model.id and m.id not in named_ids and (model.free or not m.free)]
    return tuple(
        Sibling(
            other,
            model.pick_sibling.get(other.id) or (other.when_to_use[0] if other.when_to_use else ""),
            (available or {}).get(other.id, ALWAYS_AVAILABLE),
        )
        for other in [*named, *rest]
    )


class CatalogView:
    def __init__(
        self,
        catalog: Catalog,
        prices: PricesRepo,
        stats: UsageStatsRepo,
        availability: AvailabilitySource | None = None,
    ) -> None:
        self._catalog = catalog
        self._prices = prices
        self._stats = stats
        self._availability = availability

    @property
    def models(self) -> Catalog:
        """The catalog itself, for reading a request against it."""
        return self._catalog

    async def availability(self) -> Mapping[str, Availability]:
        return await self._availability() if self._availability is not None else {}

    def find(self, model_id: str) -> Model:
        model = self._catalog.find(model_id)
        if model is None:
            raise NotFound(f"The model '{model_id}' does not exist.", code="model_not_found", param="model")
        return model

    async def list_json(self) -> dict[str, Any]:
        overrides = await self._prices.overrides()
        available = await self.availability()
        return {"object": "list", "data": [model_json(m, overrides, available.get(m.id)) for m in self._catalog]}

    async def get_json(self, model_id: str) -> dict[str, Any]:
        model = self.find(model_id)
        return model_json(model, await self._prices.overrides(model.id), (await self.availability()).get(model.id))

    async def cards(self) -> list[ModelCard]:
        overrides = await self._prices.overrides()
        available = await self.availability()
        return [make_card(m, overrides, available.get(m.id, ALWAYS_AVAILABLE)) for m in self._catalog]

    async def page(self, model_id: str, now: datetime | None = None) -> ModelPage:
        model = self.find(model_id)
        every = await self.availability()
        card = make_card(model, await self._prices.overrides(model.id), every.get(model.id, ALWAYS_AVAILABLE))
        since = (now or datetime.now(UTC)) - MEASURED_WINDOW
        overall, reference, label = measured(await self._stats.latencies(model.id, since), model)
        return ModelPage(
            card=card,
            params=param_rows(model),
            errors=ERROR_ROWS,
            measured_overall=overall,
            measured_reference=reference,
            reference_label=label,
            see_also=siblings(model, self._catalog, every),
            example_body=example_body(model),
            sync_line=sync_line(model),
        )


__all__ = [
    "CatalogView",
    "ModelCard",
    "ModelPage",
    "ParamRow",
    "Sibling",
    "architecture",
    "capability_line",
    "capability_tags",
    "model_json",
    "param_rows",
]
