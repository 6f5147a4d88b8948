"""What a routed request cost upstream: its metered calls (`Routed.spent`) priced by the cost sheets
of the request's model's routes. Every call that made images counts, delivered or not."""

from __future__ import annotations

from ..domain.request import ImageRequest
from ..domain.upstream_cost import NOTHING, UpstreamCost, calls_cost
from ..routing.router import Routed


def spend_of(request: ImageRequest | None, routed: Routed | None) -> tuple[UpstreamCost, int]:
    """The request's upstream cost and how many images its upstream calls made."""
    if request is None or routed is None or not routed.spent:
        return NOTHING, 0
    sheets = {route.name: route.upstream_cost for route in request.model.routes}
    return calls_cost(sheets, routed.spent), sum(call.images for call in routed.spent)


__all__ = ["spend_of"]
