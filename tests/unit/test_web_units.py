"""Pure pieces of the pages: dollars from micros, latency percentiles, days of activity, the admin
session's signatures, the parameters table, the catalog's see-also links and siblings, price cards
summarised, and a model's availability from its routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from imagegate.config import load_catalog
from imagegate.domain.activity import daily_totals
from imagegate.domain.catalog import Catalog, CatalogError
from imagegate.domain.error_table import ERROR_ROWS
from imagegate.domain.latency import summarize
from imagegate.domain.price_summary import PriceGroup, summarize_prices, tier
from imagegate.domain.request import FIELDS
from imagegate.service.operator.route_health import availability_of
from imagegate.service.views.catalog import param_rows, siblings, sync_line
from imagegate.web.format import usd
from imagegate.web.render import content_security_policy
from imagegate.web.session import AdminSessions


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "$0.00"),
        (6000, "$0.006"),
        (53000, "$0.053"),
        (167000, "$0.167"),
        (1670000, "$1.67"),
        (500000, "$0.50"),
        (1, "$0.000001"),
        (1234567890, "$1,234.56789"),
        (-12000, "-$0.012"),
    ],
)
def test_usd_is_exact(micros: int, text: str) -> None:
    assert usd(micros) == text


def test_latency_needs_three_samples_and_uses_nearest_rank() -> None:
    assert not summarize([100, 200]).enough
    summary = summarize([500, 100, 300, 200, 400, 600, 700, 800, 900, 1000])
    assert (summary.samples, summary.median_ms, summary.p90_ms) == (10, 500, 900)
    assert summarize([10, 20, 30]).p90_ms == 30


@dataclass
class Row:
    created_at: datetime
    delivered: int
    cost_micros: int


def test_days_are_filled_and_bounded() -> None:
    rows = [
        Row(datetime(2026, 11, 28, 23, 59, tzinfo=UTC), 2, 100),
        Row(datetime(2026, 11, 28, 0, 0, tzinfo=UTC), 1, 50),
        Row(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), 0, 0),
        Row(datetime(2026, 10, 1, 12, 0, tzinfo=UTC), 9, 999),  # before the window
    ]
    days = daily_totals(rows, date(2026, 11, 28), 3)
    assert [(d.date.day, d.cost_micros, d.images, d.requests) for d in days] == [
        (26, 0, 0, 1),
        (27, 0, 0, 0),
        (28, 150, 3, 2),
    ]


def test_admin_session_cookies_are_signed_expiring_and_bound_to_the_token() -> None:
    sessions = AdminSessions(b"secret", "token")
    cookie = sessions.issue(now=1000)
    assert sessions.valid(cookie, now=1001)
    assert not sessions.valid(cookie, now=1000 + 8 * 3600 + 1)
    expires, nonce, signature = cookie.split(".")
    assert not sessions.valid(f"{int(expires) + 1}.{nonce}.{signature}", now=1001)
    assert not AdminSessions(b"secret", "new token").valid(cookie, now=1001)
    assert not sessions.valid("garbage", now=1001) and not sessions.valid(None)
    assert sessions.csrf_matches(cookie, sessions.csrf(cookie))
    assert not sessions.csrf_matches(cookie, sessions.csrf(sessions.issue(now=1000)))
    sealed = sessions.seal({"key": "ig_live_x"})
    assert sessions.unseal(sealed) == {"key": "ig_live_x"}
    assert sessions.unseal(sealed[:-1] + ("0" if sealed[-1] != "0" else "1")) is None


def test_every_request_field_has_a_row_and_unsupported_ones_say_so() -> None:
    catalog = load_catalog()
    for model in catalog:
        rows = {row.name: row for row in param_rows(model)}
        assert tuple(rows) == FIELDS
        assert rows["style"].supported == bool(model.capabilities.styles)
        assert rows["quality"].supported == bool(model.capabilities.qualities)
        assert rows["size"].default == model.capabilities.default_size
        for size in model.capabilities.sizes:
            assert size in rows["size"].notes


def test_the_errors_table_is_never_billed_and_covers_the_contract_statuses() -> None:
    assert {row.status for row in ERROR_ROWS} == {400, 401, 402, 403, 409, 413, 429, 451, 502, 503, 504}
    assert not any(row.billed for row in ERROR_ROWS)


def test_see_also_must_name_catalog_models() -> None:
    catalog = load_catalog()
    for model in catalog:
        assert model.description and model.capability_line
        assert all(catalog.find(name) is not None for name in model.see_also)
    raw = {
        "models": {
            "a": {
                "vendor": "V",
                "display_name": "A",
                "sizes": ["1x1"],
                "default_size": "1x1",
                "max_n": 1,
                "max_prompt_chars": 10,
                "free": True,
                "see_also": ["nope"],
            }
        }
    }
    with pytest.raises(CatalogError, match="see_also"):
        Catalog.from_dict(raw)


def test_the_policy_allows_images_from_the_public_url_and_no_inline_script() -> None:
    policy = content_security_policy("https://images.example.com/base")
    assert "img-src 'self' data: blob: https://images.example.com;" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy


def test_price_cards_are_summarised_by_tier_when_each_tier_has_one_price() -> None:
    catalog = load_catalog()
    pro = catalog.find("nano-banana-pro")
    assert pro is not None
    groups = summarize_prices(pro.prices["standard"], pro.capabilities.sizes)
    assert [(g.label, usd(g.micros)) for g in groups] == [("1K–2K", "$0.134"), ("4K", "$0.24")]
    two = catalog.find("nano-banana-2")
    assert two is not None
    assert [g.label for g in summarize_prices(two.prices["standard"], two.capabilities.sizes)] == ["1K", "2K", "4K"]
    seedream = catalog.find("seedream-4.5")
    assert seedream is not None
    assert summarize_prices(seedream.prices["standard"], seedream.capabilities.sizes) == (
        PriceGroup("every size", 40_000),
    )
    gpt = catalog.find("gpt-image-2")
    assert gpt is not None  # two prices inside the 1K tier: grouped by price, sizes named
    assert [(g.label, g.micros) for g in summarize_prices(gpt.prices["high"], gpt.capabilities.sizes)] == [
        ("1024x1024", 211_000),
        ("1024x1536, 1536x1024", 317_000),
        ("2048x2048", 844_000),
        ("4096x4096", 1_670_000),
    ]
    assert tier("256x256") == "256x256" and tier("848x1264") == "1K" and tier("6336x2688") == "4K"
    assert summarize_prices({"1024x1024": 5, "2048x2048": 5, "4096x4096": 7}, ["4096x4096", "1024x1024"]) == (
        PriceGroup("1K", 5),
        PriceGroup("4K", 7),
    )  # only the sizes asked about, smallest first


def test_availability_comes_from_credentials_then_circuits() -> None:
    def row(configured: bool, circuit: str = "closed") -> dict[str, object]:
        return {"configured": configured, "circuit": circuit}

    assert availability_of([row(False), row(False)]).state == "not_configured"
    assert availability_of([row(False), row(True)]).state == "available"
    half = availability_of([row(True, "open"), row(True)])
    assert (half.state, half.failing, half.configured) == ("degraded", 1, 2)
    assert "1 of 2 routes" in half.detail
    down = availability_of([row(True, "half_open"), row(False, "open")])
    assert (down.state, down.failing) == ("degraded", 1) and "circuit open" in down.detail
    assert availability_of([]).label == "Not configured on this gateway"


def test_every_model_names_every_sibling_with_when_to_pick_it() -> None:
    catalog = load_catalog()
    paid = {m.id for m in catalog if not m.free}
    for model in catalog:
        named = [s.model.id for s in siblings(model, catalog)]
        assert len(named) == len(set(named)) and model.id not in named
        if not model.free:
            assert set(named) == paid - {model.id}  # every sibling, free previews aside
        assert all(s.pick_when for s in siblings(model, catalog))
    gpt = catalog.find("gpt-image-2")
    assert gpt is not None
    assert "nano-banana-pro" in [s.model.id for s in siblings(gpt, catalog)]
    assert any("Briefs mixing text and constraints" in line for line in gpt.when_to_use)
    assert sync_line(gpt) == "Sync (≤18 s typical, longer at high)"
