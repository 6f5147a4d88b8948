"""The routes' live upstream cost sheets: the catalog's, with the operator's items laid over them
(`PUT /admin/v1/upstream-costs`, `imagegate costs set`), as `imagegate prices set` does for selling
prices; and what a routed request cost under them (settlement writes it on the usage record)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...db.upstream_costs import UpstreamCostsRepo
from ...domain.catalog import STANDARD_QUALITY, Catalog, Model
from ...domain.errors import InvalidRequest
from ...domain.fields import Field
from ...domain.money import MAX_PRICE_MICROS, usd_to_micros
from ...domain.request import ImageRequest
from ...domain.text import check_text
from ...domain.upstream_cost import (
    ANY_SIZE,
    NOTHING,
    TOKEN_KINDS,
    CostSheet,
    UpstreamCost,
    apply_overrides,
    calls_cost,
    sheet_as_json,
)
from ...routing.router import Routed
from ..operator.fields import model_names

ITEM_DOC = (
    "`tokens.input_text`, `tokens.input_image`, `tokens.output_image` or `tokens.output_text` (US dollars per "
    "million tokens), or `per_image.QUALITY.SIZE` (US dollars per image; QUALITY a key of the model's price "
    f"card, `{STANDARD_QUALITY}` for a model without qualities; SIZE one of its sizes, or `{ANY_SIZE}` for any other)"
)


COST_AMOUNT = Field(
    "amount_usd",
    "amount",
    "US dollars per million tokens (a `tokens.` item) or per image",
    required=True,
    sign="non_negative",
    maximum=MAX_PRICE_MICROS,
)


def cost_item_fields(catalog: Catalog | None = None) -> tuple[Field, ...]:
    """The body of `PUT /admin/v1/upstream-costs`: one item of one route's sheet."""
    return (
        Field(
            "model", "string", "a priced model's id or alias", required=True, choices=model_names(catalog, priced=True)
        ),
        Field("route", "string", "the name of one of its routes", required=True, max_chars=100),
        Field("item", "string", ITEM_DOC, required=True, max_chars=120),
        COST_AMOUNT,
    )


def cost_items(model: Model) -> tuple[str, ...]:
    """Every item of `model`'s route sheets an operator may set."""
    sizes = (*model.capabilities.sizes, ANY_SIZE)
    per_image = tuple(f"per_image.{quality}.{size}" for quality in model.prices for size in sizes)
    return (*(f"tokens.{kind}" for kind in TOKEN_KINDS), *per_image)


def cost_item_for(model: Model) -> tuple[Field, ...]:
    """`cost_item_fields()` as `model` takes it: its names, its routes, its sheet's items."""
    return (
        Field("model", "string", required=True, choices=(model.id, *model.aliases)),
        Field("route", "string", required=True, choices=tuple(route.name for route in model.routes)),
        Field("item", "string", required=True, choices=cost_items(model)),
        COST_AMOUNT,
    )


class CostSheets:
    def __init__(self, catalog: Catalog, repo: UpstreamCostsRepo) -> None:
        self._catalog = catalog
        self._repo = repo

    async def cost_of(self, request: ImageRequest | None, routed: Routed | None) -> tuple[UpstreamCost, int]:
        """What a routed request's upstream calls cost under the live sheets, and how many images they made."""
        if request is None or routed is None or not routed.spent:
            return NOTHING, 0
        overrides = await self._repo.overrides()
        return spend_of(
            request, routed, {route: items for (model, route), items in overrides.items() if model == request.model.id}
        )

    async def listing(self) -> dict[str, Any]:
        """Every route of every priced model: its live sheet and the operator's items in it."""
        overrides = await self._repo.overrides(fresh=True)
        data = []
        for model in self._catalog:
            if model.free:
                continue
            for route in model.routes:
                items = overrides.get((model.id, route.name), {})
                data.append(
                    {
                        "model": model.id,
                        "route": route.name,
                        "provider": route.provider,
                        "sheet": sheet_as_json(apply_overrides(route.upstream_cost, items)),
                        "overrides": dict(sorted(items.items())),
                    }
                )
        return {"object": "list", "data": data}

    async def set(self, model_name: str, route_name: str, item: str, amount_usd: str) -> dict[str, Any]:
        """Set one item of a route's sheet; records written from then on (within seconds, on every
        node) are costed with it."""
        check_text(route_name, "route", 100)
        check_text(item, "item", 120)
        model = self._catalog.find(model_name)
        if model is None or model.free:
            raise InvalidRequest(f"No priced model '{model_name}'.", code="model_not_found", param="model")
        if route_name not in {route.name for route in model.routes}:
            names = ", ".join(route.name for route in model.routes)
            raise InvalidRequest(f"'{model.id}' has no route '{route_name}' (its routes: {names}).", param="route")
        _check_item(model, item)
        micros = usd_to_micros(amount_usd, maximum=MAX_PRICE_MICROS)
        if micros < 0:
            raise InvalidRequest("An upstream cost cannot be negative.", param="amount_usd")
        await self._repo.set(model.id, route_name, item, micros)
        return {"model": model.id, "route": route_name, "item": item, "micros": micros}


def spend_of(
    request: ImageRequest | None, routed: Routed | None, overrides: Mapping[str, Mapping[str, int]] | None = None
) -> tuple[UpstreamCost, int]:
    """A routed request's upstream cost under its model's route sheets (with the operator's items per
    route name laid over them), and how many images its upstream calls made."""
    if request is None or routed is None or not routed.spent:
        return NOTHING, 0
    items = overrides or {}
    sheets: dict[str, CostSheet | None] = {
        route.name: apply_overrides(route.upstream_cost, items.get(route.name, {})) for route in request.model.routes
    }
    return calls_cost(sheets, routed.spent), sum(call.images for call in routed.spent)


def _check_item(model: Model, item: str) -> None:
    """Nothing, or the refusal naming what an item may be."""
    if item in cost_items(model):
        return
    raise InvalidRequest(f"'{item}' is not an item of {model.id}'s cost sheet: {ITEM_DOC}.", param="item")


__all__ = ["CostSheets", "cost_item_fields", "cost_item_for", "cost_items", "spend_of"]
