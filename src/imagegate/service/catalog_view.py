"""The catalog as clients and readers see it: the JSON of /v1/models and the model pages' content.

Both come from the catalog, the live price cards and the contract; nothing here is typed per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..db.prices import PricesRepo
from ..db.usage_stats import LatencySample, UsageStatsRepo
from ..domain.catalog import STANDARD_QUALITY, Catalog, Model, parse_size
from ..domain.error_table import ERROR_ROWS, ErrorRow
from ..domain.errors import NotFound
from ..domain.latency import LatencySummary, summarize
from ..domain.pricing import PriceOverrides, live_card
from ..domain.request import (
    COMPRESSIBLE_FORMATS,
    FIELDS,
    MAX_USER_CHARS,
    RESPONSE_FORMATS,
)

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
    """The body parameters of POST /v1/images/generations for this model, from its capabilities."""
    caps = model.capabilities
    names = ", ".join((model.id, *model.aliases))
    rows = [
        ParamRow("model", "string", True, None, f"{names}; an unknown id is a 400 model_not_found"),
        ParamRow("prompt", "string", True, None, f"non-blank, at most {caps.max_prompt_chars:,} characters"),
        ParamRow("size", "string", False, caps.default_size, "one of " + ", ".join(caps.sizes)),
        ParamRow("n", "integer", False, "1", f"1 to {caps.max_n}; a float, string or boolean is a 400"),
        _choice_row("quality", caps.qualities, caps.default_quality),
        _choice_row("style", caps.styles, caps.default_style),
        ParamRow("output_format", "string", False, "png", "one of " + ", ".join(caps.output_formats)),
        ParamRow(
            "output_compression",
            "integer",
            False,
            "100",
            "0 to 100, only with " + " or ".join(COMPRESSIBLE_FORMATS) + "; given with png it is a 400",
        ),
        ParamRow("response_format", "string", False, "url", "one of " + ", ".join(RESPONSE_FORMATS)),
        ParamRow("user", "string", False, None, f"your end-user's id, at most {MAX_USER_CHARS} characters"),
        _choice_row("background", caps.extra.backgrounds, "auto"),
        _choice_row("moderation", caps.extra.moderations, "auto"),
        ParamRow("safety_identifier", "string", False, None, "OpenAI's successor of `user`; recorded the same way"),
        _choice_row("complexity", caps.extra.complexities, None),
        ParamRow(
            "stream",
            "boolean",
            False,
            "false",
            "true: server-sent events; at most " + str(caps.extra.stream_max_n or caps.max_n) + " image(s) per stream",
        ),
        ParamRow("partial_images", "integer", False, "0", "0 to 3 partial images per streamed image"),
    ]
    assert tuple(row.name for row in rows) == FIELDS, "the parameters table must list every request field"
    return tuple(rows)


def _choice_row(name: str, choices: tuple[str, ...], default: str | None) -> ParamRow:
    if not choices:
        return ParamRow(
            name,
            "string",
            False,
            None,
            "not supported by this model: refused with 400 unsupported_parameter",
            supported=False,
        )
    return ParamRow(name, "string", False, default, "one of " + ", ".join(choices))


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
