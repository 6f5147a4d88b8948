"""Settlement (the billing step after the upstream): a delivered request pays exactly for the images
it got and the rest of its hold is released; a failed one pays nothing; either way one usage record
says what happened, and the idempotency key is finished or given back. Real Billing and
repositories on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest

from imagegate.config import Settings
from imagegate.domain.errors import ContentBlocked, InsufficientBalance, UpstreamFailed
from imagegate.domain.ids import new_id
from imagegate.domain.principal import Principal
from imagegate.domain.request import parse_image_request
from imagegate.domain.upstream import GeneratedImage
from imagegate.routing.router import Routed
from imagegate.service.images.admission import Admission, Admitted, Replay, Ticket
from imagegate.service.images.settlement import REPLAY_ROUTE, Charge, Settlement

from .harness import HIGH_64, LOW_64, LOW_128, MODEL, Core, Money, run_core
from .scripted import image

FUNDS = 1_000_000  # "$1"
DATA = [{"url": "http://127.0.0.1/v1/files/img_x.png"}]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "a red square", **fields}


def ticket(principal: Principal, key: str | None = None) -> Ticket:
    return Ticket(principal, new_id("req"), time.monotonic(), key, surface="images")


async def admit(
    core: Core, admission: Admission, principal: Principal, fields: dict[str, Any], key: str | None = None
) -> Admitted | Replay:
    return await admission.admit(ticket(principal, key), parse_image_request(fields, core.settings.catalog), fields)


async def admitted(
    core: Core, admission: Admission, principal: Principal, fields: dict[str, Any], key: str | None = None
) -> Admitted:
    result = await admit(core, admission, principal, fields, key)
    assert isinstance(result, Admitted)
    return result


async def deliver(
    settlement: Settlement, admitted: Admitted, images: list[GeneratedImage], route: str = "primary", attempts: int = 1
) -> Any:
    charge = settlement.charge(admitted, images)
    return await settlement.complete(
        admitted, Routed(images, route, attempts), charge, DATA * len(images), int(time.time())
    )


def test_a_delivered_request_pays_for_its_images_and_the_rest_of_the_hold_is_released(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("1")
        request = await admitted(core, admission, principal, body(n=3))
        assert await core.money(principal) == Money(FUNDS, 3 * LOW_64)
        result = await deliver(settlement, request, [image(), image()], route="secondary", attempts=4)  # 2 of 3
        assert (result.cost_micros, result.images_missing, result.replayed) == (2 * LOW_64, 1, False)
        assert result.body["billing"] == {
            "images": 2,
            "images_requested": 3,
            "amount_micros": 2 * LOW_64,
            "currency": "USD",
            "unit_price_micros": LOW_64,
        }
        assert await core.money(principal) == Money(FUNDS - 2 * LOW_64, 0)
        [row] = await core.usage(principal)
        assert row.id == request.ticket.request_id and row.key_id == principal.key_id
        assert (row.status, row.error_code, row.route, row.attempts) == (200, None, "secondary", 4)
        assert (row.model, row.n, row.delivered, row.size, row.quality) == (MODEL, 3, 2, "64x64", "low")
        assert (row.cost_micros, row.unit_price_micros) == (2 * LOW_64, LOW_64)
        await core.assert_ledger_consistent()

    run_core(settings, scenario)


AUTO_CHARGES = [("low", LOW_64), ("high", HIGH_64), (None, HIGH_64)]
"""(the quality the upstream reports, the unit charged): none reported is the catalog's auto_quality_price."""


def test_auto_quality_is_charged_at_the_quality_the_upstream_reports(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        for reported, unit in AUTO_CHARGES:
            principal = await core.principal("1")
            request = await admitted(core, admission, principal, body(quality="auto", n=2))
            assert await core.money(principal) == Money(FUNDS, 2 * HIGH_64)
            charge = settlement.charge(request, [image(quality=reported)] * 2)
            assert charge == Charge(unit, 2, quality=reported), reported  # the resolved quality is answered too
            result = await deliver(settlement, request, [image(quality=reported)] * 2)
            assert result.cost_micros == 2 * unit, reported
            assert await core.money(principal) == Money(FUNDS - 2 * unit, 0), reported
            [row] = await core.usage(principal)
            assert (row.cost_micros, row.unit_price_micros, row.quality) == (2 * unit, unit, "auto"), reported

    run_core(settings, scenario)


def test_a_failed_request_releases_its_whole_hold_and_records_why(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("1")
        request = await admitted(core, admission, principal, body(size="128x128", n=2))
        assert await core.money(principal) == Money(FUNDS, 2 * LOW_128)
        failure = UpstreamFailed("The upstream failed after 6 attempt(s). Nothing was charged.")
        await settlement.abandon(request, Routed([], "secondary", 6, failure), failure)
        assert await core.money(principal) == Money(FUNDS, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.error_code, row.route, row.attempts) == (502, "upstream_failed", "secondary", 6)
        assert (row.cost_micros, row.delivered, row.n, row.size) == (0, 0, 2, "128x128")
        await core.assert_ledger_consistent()

    run_core(settings, scenario)


def test_a_failure_before_any_upstream_call_is_recorded_without_a_route(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("1")
        request = await admitted(core, admission, principal, body())
        await settlement.abandon(request, None, RuntimeError("the delivery's disk is full"))
        assert await core.money(principal) == Money(FUNDS, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.error_code, row.route, row.attempts, row.cost_micros) == (
            500,
            "internal_error",
            None,
            0,
            0,
        )

    run_core(settings, scenario)


def test_a_failed_request_gives_its_idempotency_key_back_for_a_retry(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("1")
        first = await admitted(core, admission, principal, body(), key="order-1")
        failure = UpstreamFailed("The upstream failed.")
        await settlement.abandon(first, Routed([], "primary", 3, failure), failure)
        retry = await admit(core, admission, principal, body(), key="order-1")
        assert isinstance(retry, Admitted) and retry.idempotency_claimed  # runs again, not a replay
        await deliver(settlement, retry, [image()])
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)  # paid once, for the retry

    run_core(settings, scenario)


def test_a_delivered_request_finishes_its_idempotency_key_and_a_replay_costs_nothing(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("1")
        first = await admitted(core, admission, principal, body(n=2), key="order-2")
        result = await deliver(settlement, first, [image(), image()])
        replay = await admit(core, admission, principal, body(n=2), key="order-2")
        assert isinstance(replay, Replay)
        assert (replay.body, replay.cost_micros) == (result.body, 2 * LOW_64)
        assert await core.money(principal) == Money(FUNDS - 2 * LOW_64, 0)  # nothing held for the replay
        replay_ticket = ticket(principal, "order-2")
        replayed = await settlement.replayed(
            replay_ticket, parse_image_request(body(n=2), core.settings.catalog), replay
        )
        assert (replayed.replayed, replayed.body, replayed.cost_micros, replayed.images_missing) == (
            True,
            result.body,
            2 * LOW_64,
            0,
        )
        assert await core.money(principal) == Money(FUNDS - 2 * LOW_64, 0)  # charged once
        first_row, replay_row = await core.usage(principal)
        assert (first_row.route, first_row.cost_micros) == ("primary", 2 * LOW_64)
        assert (replay_row.id, replay_row.route, replay_row.status, replay_row.cost_micros) == (
            replay_ticket.request_id,
            REPLAY_ROUTE,
            200,
            0,
        )

    run_core(settings, scenario)


def test_a_refused_request_is_recorded_and_costs_nothing(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("0.01")
        fields = body(quality="high")
        refused_ticket = ticket(principal)
        request = parse_image_request(fields, core.settings.catalog)
        with pytest.raises(InsufficientBalance) as refused:
            await admission.admit(refused_ticket, request, fields)
        await settlement.refused(refused_ticket, request, refused.value)
        assert await core.money(principal) == Money(10_000, 0)
        [row] = await core.usage(principal)
        assert (row.id, row.status, row.error_code, row.model, row.cost_micros) == (
            refused_ticket.request_id,
            402,
            "insufficient_balance",
            MODEL,
            0,
        )

    run_core(settings, scenario)


def test_an_upstream_safety_refusal_costs_nothing_and_is_in_the_audit_log(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("1")
        request = await admitted(core, admission, principal, body())
        blocked = ContentBlocked(
            "The upstream refused this prompt. Nothing was charged.", code="content_policy_violation"
        )
        await settlement.abandon(request, Routed([], "primary", 1, blocked), blocked)
        assert await core.money(principal) == Money(FUNDS, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.error_code, row.route, row.cost_micros) == (
            451,
            "content_policy_violation",
            "primary",
            0,
        )
        [event] = (await core.admin.reports.blocks(account_id=principal.account_id))["data"]
        assert event["request_id"] == request.ticket.request_id

    run_core(settings, scenario)


def test_a_test_key_request_is_recorded_at_no_cost(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, settlement = core.billing_steps()
        principal = await core.principal("0", test=True)
        request = await admitted(core, admission, principal, body(n=2))
        result = await deliver(settlement, request, [image(), image()], route="preview")
        assert (result.cost_micros, result.body["billing"]["amount_micros"]) == (0, 0)
        assert await core.money(principal) == Money(0, 0)
        [row] = await core.usage(principal)
        assert (row.status, row.route, row.delivered, row.cost_micros) == (200, "preview", 2, 0)

    run_core(settings, scenario)
