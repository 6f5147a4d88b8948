"""The read-side services of the pages and of the JSON routes that share their computation.

Built once per app from the running gateway's components and kept on `app.state.views`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ..db.safety import SafetyEventsRepo
from ..db.usage_stats import UsageStatsRepo
from ..service.account_view import AccountView
from ..service.catalog_view import CatalogView
from .components import Components, components


@dataclass(frozen=True)
class Views:
    catalog: CatalogView
    account: AccountView
    stats: UsageStatsRepo


def build_views(gateway: Components) -> Views:
    stats = UsageStatsRepo(gateway.engine)
    return Views(
        catalog=CatalogView(gateway.catalog, gateway.prices, stats),
        account=AccountView(
            gateway.accounts, gateway.usage, stats, SafetyEventsRepo(gateway.engine),
            gateway.store.url_for, gateway.settings.url_ttl_seconds,
        ),
        stats=stats,
    )


def views(request: Request) -> Views:
    state = request.app.state
    built: Views | None = getattr(state, "views", None)
    if built is None:
        built = state.views = build_views(components(request))
    return built


__all__ = ["Views", "build_views", "views"]
