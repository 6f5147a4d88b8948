"""Routes as catalog data, the Gemini size table, route order, and the circuit breaker's rules."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from imagegate.config import load_catalog
from imagegate.domain.catalog import Catalog, CatalogError, Route
from imagegate.domain.circuits import BreakerPolicy, CircuitState
from imagegate.providers.gemini import SizeNotSupported, image_config, size_table
from imagegate.routing.router import order_routes
from tests.upstreams.fake_gemini import MODELS, pixels

CATALOG = load_catalog()


def model_data(**route: Any) -> dict[str, Any]:
    entry = {"name": "r", "provider": "openai", "upstream_model": "m", **route}
    return {
        "models": {
            "m": {
                "vendor": "V",
                "display_name": "M",
                "sizes": ["1024x1024", "2048x2048"],
                "max_n": 1,
                "max_prompt_chars": 10,
                "prices": {"standard": {"1024x1024": 1, "2048x2048": 2}},
                "routes": [entry],
            }
        }
    }


@pytest.mark.parametrize("model", ["nano-banana-2", "nano-banana-pro"])
def test_gemini_size_table_is_the_references(model: str) -> None:
    """Each catalog size maps to one (aspectRatio, imageSize) pair whose reference pixel size it is."""
    sizes = CATALOG.models[model].capabilities.sizes
    table = size_table(sizes)
    assert len(set(table.values())) == len(sizes)
    ratios, image_sizes = MODELS[CATALOG.models[model].routes[0].upstream_model]
    for size, (aspect, image_size) in table.items():
        assert aspect in ratios and image_size in image_sizes
        assert "{}x{}".format(*pixels(aspect, image_size)) == size


def test_gemini_size_table_refuses_sizes_it_cannot_name() -> None:
    with pytest.raises(SizeNotSupported):
        image_config(1000, 700)  # 10:7 is no Gemini aspect ratio
    with pytest.raises(SizeNotSupported):
        size_table(("1024x1024", "1040x1040"))  # both would be 1:1 1K


def test_provider_defaults_are_data() -> None:
    azure = CATALOG.models["gpt-image-2-official"].routes[0]
    assert azure.native_formats == ("png", "jpeg")
    seedream = CATALOG.models["seedream-4.5"].routes[0]
    assert (seedream.native_formats, seedream.native_compression, dict(seedream.options)) == (
        ("jpeg",),
        False,
        {"watermark": False},
    )
    assert CATALOG.models["gpt-image-2"].routes[0].native_formats == ("png", "webp", "jpeg")


def test_route_keys_priority_and_upscaling() -> None:
    data = model_data(priority=3, weight=2, timeout_seconds=7, upscaled_from={"2048x2048": "1024x1024"})
    (route,) = Catalog.from_dict(data).models["m"].routes
    assert (route.priority, route.weight, route.timeout_seconds) == (3, 2, 7.0)
    assert route.native_size("2048x2048") == "1024x1024" and route.native_size("1024x1024") == "1024x1024"
    assert Catalog.from_dict(data).models["m"].capabilities.upscaled_from == {"2048x2048": "1024x1024"}


@pytest.mark.parametrize(
    "route",
    [
        {"timeout": 3},  # a typo of timeout_seconds
        {"native_formats": ["gif"]},
        {"weight": 0},
        {"upscaled_from": {"2048x2048": "1024x768"}},  # another aspect ratio
        {"timeout_seconds": 0},
    ],
)
def test_bad_route_entries_are_refused(route: dict[str, Any]) -> None:
    with pytest.raises(CatalogError):
        Catalog.from_dict(model_data(**route))


def test_routes_are_ordered_by_priority_then_weight() -> None:
    a, b, c = (
        Route(name, "openai", "openai", "m", priority=p, weight=w)
        for name, p, w in (("a", 1, 9), ("b", 1, 1), ("c", 0, 1))
    )
    rng = random.Random(7)
    firsts = Counter(order_routes([a, b, c], rng)[1].name for _ in range(2000))
    assert all(order_routes([a, b, c], rng)[0].name == "c" for _ in range(50))
    assert 0.85 < firsts["a"] / 2000 < 0.95  # weight 9 : 1


def test_breaker_rules() -> None:
    policy = BreakerPolicy(failures=2, cooldown_seconds=10)
    state = CircuitState()
    assert state.admit(0, policy, 5) == "closed"
    state.record(1, policy, ok=False, latency_ms=10, probe=False)
    assert state.admit(1, policy, 5) == "closed"
    state.record(2, policy, ok=False, latency_ms=10, probe=False)
    assert state.admit(3, policy, 5) == "open"
    assert state.health(3, policy).circuit == "open"
    assert state.health(12, policy).circuit == "half_open"
    assert state.admit(12, policy, 5) == "probe"
    assert state.admit(13, policy, 5) == "open"  # one probe at a time
    state.record(14, policy, ok=False, latency_ms=10, probe=True)
    assert state.admit(15, policy, 5) == "open"  # a failed probe re-opens for a full cool-down
    assert state.admit(24, policy, 5) == "probe"
    state.record(25, policy, ok=True, latency_ms=30, probe=True)
    assert state.admit(25, policy, 5) == "closed"
    health = state.health(25, policy)
    assert (health.circuit, health.consecutive_failures, health.calls, health.errors) == ("closed", 0, 4, 3)
    assert health.latency_ms_p50 == 30


def test_probe_slot_is_released_after_its_lease() -> None:
    policy = BreakerPolicy(failures=1, cooldown_seconds=10)
    state = CircuitState()
    state.record(0, policy, ok=False, latency_ms=1, probe=False)
    assert state.admit(10, policy, 5) == "probe"
    assert state.admit(14, policy, 5) == "open"
    assert state.admit(16, policy, 5) == "probe"  # the first probe never reported back
