"""ImageService: a request runs admission -> upstream -> delivery -> settlement, and the client
gets its images and pays exactly for them, or gets the contract's error and pays nothing.
Assembled by `wiring.image_pipeline` on a real SQLite database and blob store; only the upstreams
are scripted. (Admission and settlement run on PostgreSQL too in their own tests.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pybase64
import pytest

from imagegate.config import Settings
from imagegate.domain.errors import (
    ContentBlocked,
    InsufficientBalance,
    InvalidRequest,
    NoRouteAvailable,
    UpstreamFailed,
)
from imagegate.domain.ids import new_id
from imagegate.domain.upstream import RetryableUpstreamError, UpstreamRejected
from imagegate.imaging.images import inspect
from imagegate.service.images.admission import Ticket
from imagegate.service.images.generation import GenerationResult, ImageService
from imagegate.service.images.operations import Generate

from .harness import HIGH_64, LOW_64, LOW_128, MODEL, Core, Money, core_settings, run_core
from .scripted import HeldAnswer, ScriptedUpstream, all_calls, image

FUNDS = 1_000_000  # "$1"


@pytest.fixture
def sqlite_settings(tmp_path: Path, core_config: Path) -> Iterator[Settings]:
    yield core_settings(tmp_path / "data", core_config)


def raw(**fields: Any) -> bytes:
    return orjson.dumps({"model": MODEL, "prompt": "a red square", **fields})


def service(core: Core, **upstreams: ScriptedUpstream) -> ImageService:
    return core.image_service(core.router(upstreams))


async def generate(
    images: ImageService, core: Core, principal: Any, body: bytes, key: str | None = None
) -> GenerationResult:
    ticket = Ticket(principal, new_id("req"), time.monotonic(), key, surface="images")
    result = await images.run(lambda: Generate.from_json(body), ticket)
    assert isinstance(result, GenerationResult)
    return result


def stored_file(settings: Settings, url: str) -> Path:
    """The file behind a download URL the client was given (checked to be ours and signed)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == settings.node.base_url()
    name = parts.path.removeprefix("/v1/files/")
    assert set(parse_qs(parts.query)) == {"expires", "signature"}
    return settings.node.data_dir / "images" / name[4:6] / name


def test_a_generation_is_stored_behind_signed_urls_and_paid_for(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream([image(), image()])
        images = service(core, primary=primary)
        principal = await core.principal("1")
        before = int(time.time())
        result = await generate(images, core, principal, raw(n=2))
        assert (result.cost_micros, result.images_missing, result.replayed) == (2 * LOW_64, 0, False)
        assert result.body["billing"]["amount_micros"] == 2 * LOW_64
        assert result.body["created"] >= before and len(result.body["data"]) == 2
        for item in result.body["data"]:
            path = stored_file(core.settings, item["url"])
            info = inspect(path.read_bytes())
            assert (info.format, info.size) == ("png", (64, 64))
            assert item["revised_prompt"] == "revised"
        assert await core.money(principal) == Money(FUNDS - 2 * LOW_64, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.route, row.attempts, row.delivered, row.cost_micros) == (
            200,
            "primary",
            1,
            2,
            2 * LOW_64,
        )
        assert primary.requests[0].prompt == "a red square"
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)


def test_b64_json_answers_carry_the_image_and_store_nothing(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        images = service(core, primary=ScriptedUpstream([image((64, 64), "jpeg")]))
        principal = await core.principal("1")
        result = await generate(images, core, principal, raw(response_format="b64_json", output_format="webp"))
        [item] = result.body["data"]
        info = inspect(pybase64.b64decode(item["b64_json"]))
        assert (info.format, info.size) == ("webp", (64, 64))  # re-encoded to the format asked for
        assert not list((core.settings.node.data_dir / "images").rglob("img_*"))
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)

    run_core(sqlite_settings, scenario)


def test_an_upscaled_size_is_delivered_at_the_size_asked_and_priced_at_it(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream([image((64, 64))])
        images = service(core, primary=primary)
        principal = await core.principal("1")
        result = await generate(images, core, principal, raw(size="128x128"))
        assert inspect(stored_file(core.settings, result.body["data"][0]["url"]).read_bytes()).size == (128, 128)
        assert primary.requests[0].upstream_size == "64x64"
        assert await core.money(principal) == Money(FUNDS - LOW_128, 0)

    run_core(sqlite_settings, scenario)


def test_a_partial_result_pays_only_for_the_images_delivered(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        images = service(core, primary=ScriptedUpstream([image(quality="low"), image(quality="low")]))
        principal = await core.principal("1")
        result = await generate(images, core, principal, raw(n=3, quality="auto"))
        assert (result.cost_micros, result.images_missing, len(result.body["data"])) == (2 * LOW_64, 1, 2)
        assert await core.money(principal) == Money(FUNDS - 2 * LOW_64, 0)  # held 3 × high, paid 2 × low

    run_core(sqlite_settings, scenario)


def test_a_request_failed_over_is_served_by_the_next_route_and_paid_once(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream(UpstreamRejected("401: the gateway's key was refused"))
        secondary = ScriptedUpstream([image()])
        images = service(core, primary=primary, secondary=secondary)
        principal = await core.principal("1")
        result = await generate(images, core, principal, raw(quality="high"))
        assert result.cost_micros == HIGH_64
        assert await core.money(principal) == Money(FUNDS - HIGH_64, 0)
        [row] = await core.usage(principal)
        assert (row.route, row.attempts, row.cost_micros) == ("secondary", 2, HIGH_64)

    run_core(sqlite_settings, scenario)


def test_when_every_route_fails_the_client_gets_upstream_failed_and_pays_nothing(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream(*[RetryableUpstreamError("503")] * 3)
        images = service(core, primary=primary)
        principal = await core.principal("1")
        with pytest.raises(UpstreamFailed) as failed:
            await generate(images, core, principal, raw(n=2))
        assert failed.value.status == 502 and "Nothing was charged" in failed.value.message
        assert await core.money(principal) == Money(FUNDS, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.error_code, row.route, row.attempts, row.cost_micros) == (
            502,
            "upstream_failed",
            "primary",
            3,
            0,
        )
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)


def test_an_upstream_safety_refusal_reaches_the_client_and_costs_nothing(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream(ContentBlocked("The upstream refused this prompt.", code="content_policy_violation"))
        secondary = ScriptedUpstream()
        images = service(core, primary=primary, secondary=secondary)
        principal = await core.principal("1")
        with pytest.raises(ContentBlocked) as blocked:
            await generate(images, core, principal, raw())
        assert (blocked.value.status, blocked.value.code) == (451, "content_policy_violation")
        assert all_calls([primary, secondary]) == [1, 0]
        assert await core.money(principal) == Money(FUNDS, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.route, row.cost_micros) == (451, "primary", 0)

    run_core(sqlite_settings, scenario)


def test_a_prompt_the_gateway_blocks_never_reaches_an_upstream(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream()
        images = service(core, primary=primary)
        principal = await core.principal("1", block_terms=["zeppelin"])
        with pytest.raises(ContentBlocked) as blocked:
            await generate(images, core, principal, orjson.dumps({"model": MODEL, "prompt": "a zeppelin at dusk"}))
        assert blocked.value.status == 451
        assert primary.calls == 0
        assert await core.money(principal) == Money(FUNDS, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.attempts, row.cost_micros) == (451, 0, 0)

    run_core(sqlite_settings, scenario)


def test_a_request_the_account_cannot_afford_never_reaches_an_upstream(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream()
        images = service(core, primary=primary)
        principal = await core.principal("0.03")
        with pytest.raises(InsufficientBalance):
            await generate(images, core, principal, raw(n=4))
        assert primary.calls == 0
        assert await core.money(principal) == Money(30_000, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.error_code, row.n) == (402, "insufficient_balance", 4)

    run_core(sqlite_settings, scenario)


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "invalid_json"), (raw(size="100x100"), "invalid_value"), (raw(colour="red"), "unknown_parameter")],
)
def test_an_invalid_body_is_refused_before_anything_is_held(sqlite_settings: Settings, body: bytes, code: str) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream()
        images = service(core, primary=primary)
        principal = await core.principal("1")
        with pytest.raises(InvalidRequest) as refused:
            await generate(images, core, principal, body)
        assert (refused.value.status, refused.value.code) == (400, code)
        assert primary.calls == 0
        assert await core.money(principal) == Money(FUNDS, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.error_code, row.cost_micros) == (400, code, 0)

    run_core(sqlite_settings, scenario)


def test_no_configured_route_is_503_and_costs_nothing(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        images = service(core)
        principal = await core.principal("1")
        with pytest.raises(NoRouteAvailable) as refused:
            await generate(images, core, principal, raw())
        assert refused.value.status == 503
        assert await core.money(principal) == Money(FUNDS, 0)

    run_core(sqlite_settings, scenario)


def test_a_repeated_idempotency_key_replays_the_answer_without_calling_or_charging_again(
    sqlite_settings: Settings,
) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream([image(), image()])
        images = service(core, primary=primary)
        principal = await core.principal("1")
        first = await generate(images, core, principal, raw(n=2), key="order-1")
        again = await generate(images, core, principal, raw(n=2), key="order-1")
        assert again.replayed and again.body == first.body and again.cost_micros == 2 * LOW_64
        assert primary.calls == 1
        assert await core.money(principal) == Money(FUNDS - 2 * LOW_64, 0)
        routes = [row.route for row in await core.usage(principal)]
        assert routes == ["primary", "idempotent-replay"]

    run_core(sqlite_settings, scenario)


def test_a_failed_request_may_be_retried_with_the_same_idempotency_key(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream(UpstreamRejected("400"), [image()])
        images = service(core, primary=primary)
        principal = await core.principal("1")
        with pytest.raises(UpstreamFailed):
            await generate(images, core, principal, raw(), key="order-2")
        retried = await generate(images, core, principal, raw(), key="order-2")
        assert not retried.replayed and primary.calls == 2
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)

    run_core(sqlite_settings, scenario)


def test_a_request_cancelled_while_upstream_releases_its_hold(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        held = HeldAnswer([image()])
        images = service(core, primary=ScriptedUpstream(held))
        principal = await core.principal("1", max_in_flight=1)
        task = asyncio.create_task(generate(images, core, principal, raw(quality="high")))
        await asyncio.wait_for(held.entered.wait(), 5)
        assert await core.money(principal) == Money(FUNDS, HIGH_64)
        task.cancel()  # the client went away
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 5  # the release runs shielded from the cancellation
        while (await core.money(principal)).held:
            assert time.monotonic() < deadline, "the hold of a cancelled request was not released"
            await asyncio.sleep(0.01)
        assert await core.money(principal) == Money(FUNDS, 0)
        # and its in-flight slot was freed: the account's one slot serves the next request
        retry = ScriptedUpstream([image()])
        result = await generate(service(core, primary=retry), core, principal, raw())
        assert result.cost_micros == LOW_64

    run_core(sqlite_settings, scenario)


def test_a_test_key_is_served_by_the_preview_at_no_cost(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        primary = ScriptedUpstream()
        images = service(core, primary=primary)
        principal = await core.principal("0", test=True)
        result = await generate(images, core, principal, raw(n=2, quality="high"))
        assert (result.cost_micros, len(result.body["data"])) == (0, 2)
        assert primary.calls == 0
        [row] = await core.usage(principal)
        assert (row.route, row.cost_micros) == ("preview", 0)

    run_core(sqlite_settings, scenario)


def test_a_quote_is_the_price_that_would_be_held_and_holds_nothing(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        images = service(core)
        principal = await core.principal("1")
        quote = await images.quote(lambda: Generate.from_json(raw(n=3, quality="auto")), principal)
        assert (quote["unit_price_micros"], quote["amount_micros"], quote["currency"]) == (HIGH_64, 3 * HIGH_64, "USD")
        assert await core.money(principal) == Money(FUNDS, 0)
        assert await core.usage(principal) == []

    run_core(sqlite_settings, scenario)
