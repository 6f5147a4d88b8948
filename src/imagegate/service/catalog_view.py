"""The catalog as clients and readers see it: the JSON of /v1/models and the model pages' content.

Both come from the catalog, the live price cards and the contract; nothing here is typed per model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..db.prices import PricesRepo
from ..db.usage_stats import LatencySample, UsageStatsRepo
from ..domain.catalog import STANDARD_QUALITY, Catalog, Model, parse_size
from ..domain.error_table import ERROR_ROWS, ErrorRow
from ..domain.errors import NotFound
from ..domain.fields import Field, describe
from ..domain.latency import LatencySummary, summarize
from ..domain.pricing import PriceOverrides, live_card
from ..domain.request import generation_fields

MEASURED_WINDOW = timedelta(hours=24)
REFERENCE_SIZE = "1024x1024"
REFERENCE_QUALITY = "high"


def architecture(model: Model) -> dict[str, Any]:
    """OpenRouter's `architecture`: what a chat client reads to find the models that answer with
    images (`output_modalities`) and those that take an image to edit (`input_modalities`)."""
    inputs = ["text", "image"] if model.capabilities.img2img else ["text"]
    return {"modality": "+".join(inputs) + "->image", "input_modalities": inputs, "output_modalities": ["image"]}


def model_json(model: Model, overrides: PriceOverrides) -> dict[str, Any]:
    """One entry of GET /v1/models."""
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


@dataclass(frozen=True, slots=True)
class ModelPage:
    card: ModelCard
    params: tuple[ParamRow, ...]
    errors: tuple[ErrorRow, ...]
    measured_overall: LatencySummary
    measured_reference: LatencySummary | None
    reference_label: str
    see_also: tuple[Model, ...]
    example_body: dict[str, Any]


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


def make_card(model: Model, overrides: PriceOverrides) -> ModelCard:
    card = live_card(model, overrides)
    priced = [price for quality, row in card.items() if quality != "auto" for price in row.values()]
    return ModelCard(model, capability_line(model), min(priced), max_size(model), card)


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
        "prompt": "A lighthouse on a cliff at dawn, watercolor",
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


class CatalogView:
    def __init__(self, catalog: Catalog, prices: PricesRepo, stats: UsageStatsRepo) -> None:
        self._catalog = catalog
        self._prices = prices
        self._stats = stats

    def find(self, model_id: str) -> Model:
        model = self._catalog.find(model_id)
        if model is None:
            raise NotFound(f"The model '{model_id}' does not exist.", code="model_not_found", param="model")
        return model

    async def list_json(self) -> dict[str, Any]:
        overrides = await self._prices.overrides()
        return {"object": "list", "data": [model_json(m, overrides) for m in self._catalog]}

    async def get_json(self, model_id: str) -> dict[str, Any]:
        model = self.find(model_id)
        return model_json(model, await self._prices.overrides(model.id))

    async def cards(self) -> list[ModelCard]:
        overrides = await self._prices.overrides()
        return [make_card(m, overrides) for m in self._catalog]

    async def page(self, model_id: str, now: datetime | None = None) -> ModelPage:
        model = self.find(model_id)
        card = make_card(model, await self._prices.overrides(model.id))
        since = (now or datetime.now(UTC)) - MEASURED_WINDOW
        overall, reference, label = measured(await self._stats.latencies(model.id, since), model)
        return ModelPage(
            card=card,
            params=param_rows(model),
            errors=ERROR_ROWS,
            measured_overall=overall,
            measured_reference=reference,
            reference_label=label,
            see_also=tuple(self.find(name) for name in model.see_also),
            example_body=example_body(model),
        )


__all__ = [
    "CatalogView",
    "ModelCard",
    "ModelPage",
    "ParamRow",
    "architecture",
    "capability_line",
    "model_json",
    "param_rows",
]
