"""Admission (the billing step before the upstream): what a request is held at, and that a refused
request holds nothing and gives back its idempotency key and in-flight slot. Real Billing and
repositories on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from imagegate.config import Settings
from imagegate.domain.errors import Conflict, InsufficientBalance, InvalidRequest, PermissionDenied, RateLimited
from imagegate.domain.ids import new_id
from imagegate.domain.principal import Principal
from imagegate.domain.request import parse_image_request
from imagegate.service.images.admission import Admission, Admitted, Replay, Ticket

from .harness import HIGH_64, LOW_64, LOW_128, MODEL, Core, Money, run_core

FUNDS = 1_000_000  # "$1"


def body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "a red square", **fields}


async def admit(
    core: Core, admission: Admission, principal: Principal, fields: dict[str, Any], key: str | None = None
) -> Admitted | Replay:
    ticket = Ticket(principal, new_id("req"), time.monotonic(), key, surface="images")
    return await admission.admit(ticket, parse_image_request(fields, core.settings.catalog), fields)


async def admitted(
    core: Core, admission: Admission, principal: Principal, fields: dict[str, Any], key: str | None = None
) -> Admitted:
    result = await admit(core, admission, principal, fields, key)
    assert isinstance(result, Admitted)
    return result


HOLDS = [  # (body, what it is held at)
    (body(), LOW_64),
    (body(n=3), 3 * LOW_64),
    (body(size="128x128", n=2), 2 * LOW_128),
    (body(quality="auto", n=2), 2 * HIGH_64),  # auto is held at the dearest quality
]


def test_admitting_holds_the_price_of_every_image_asked_for(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        for fields, held in HOLDS:
            principal = await core.principal("1")
            result = await admitted(core, admission, principal, fields)
            assert result.hold_id is not None and result.priced.held_unit * result.request.n == held, fields
            assert await core.money(principal) == Money(FUNDS, held), fields
        await core.assert_ledger_consistent()

    run_core(settings, scenario)


def test_a_request_the_account_cannot_afford_is_refused_holding_nothing(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("0.05")
        with pytest.raises(InsufficientBalance) as refused:
            await admit(core, admission, principal, body(quality="high", n=2))
        assert refused.value.status == 402
        assert "$0.08" in refused.value.message and "$0.05" in refused.value.message
        assert await core.money(principal) == Money(50_000, 0)
        # exactly what is available can still be held
        await admitted(core, admission, principal, body())
        assert await core.money(principal) == Money(50_000, LOW_64)

    run_core(settings, scenario)


def test_a_test_key_holds_nothing(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("0", test=True)
        result = await admitted(core, admission, principal, body(quality="high", n=4))
        assert (result.hold_id, result.priced.billable, result.priced.held_unit) == (None, False, 0)
        assert await core.money(principal) == Money(0, 0)

    run_core(settings, scenario)


def test_a_key_limited_to_other_models_is_refused_holding_nothing(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("1", models=["preview"])
        with pytest.raises(PermissionDenied) as refused:
            await admit(core, admission, principal, body())
        assert (refused.value.status, refused.value.code) == (403, "model_not_allowed")
        assert await core.money(principal) == Money(FUNDS, 0)

    run_core(settings, scenario)


def test_an_idempotency_key_in_use_refuses_a_second_request_holding_nothing_more(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("1")
        first = await admitted(core, admission, principal, body(n=2), key="order-1")
        assert first.idempotency_claimed
        with pytest.raises(Conflict) as running:
            await admit(core, admission, principal, body(n=2), key="order-1")
        assert running.value.status == 409
        with pytest.raises(InvalidRequest) as reused:
            await admit(core, admission, principal, body(n=3), key="order-1")
        assert reused.value.code == "idempotency_key_reused"
        assert await core.money(principal) == Money(FUNDS, 2 * LOW_64)  # only the first request's hold
        other = await core.principal("1")  # keys are per account
        assert (await admitted(core, admission, other, body(n=2), key="order-1")).idempotency_claimed

    run_core(settings, scenario)


def test_a_refused_request_gives_its_idempotency_key_back(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("0.01")
        with pytest.raises(InsufficientBalance):
            await admit(core, admission, principal, body(quality="high"), key="order-2")
        await core.admin.ledger.add_credit(principal.account_id, "1", "top-up")
        retried = await admitted(core, admission, principal, body(quality="high"), key="order-2")
        assert retried.idempotency_claimed  # not 409: the refusal did not keep the key
        assert await core.money(principal) == Money(1_010_000, HIGH_64)

    run_core(settings, scenario)


def test_a_malformed_idempotency_key_is_refused(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("1")
        with pytest.raises(InvalidRequest) as refused:
            await admit(core, admission, principal, body(), key="bad\nkey")
        assert refused.value.param == "Idempotency-Key"
        assert await core.money(principal) == Money(FUNDS, 0)

    run_core(settings, scenario)


def test_the_in_flight_cap_refuses_until_a_request_leaves(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("1", max_in_flight=1)
        first = await admitted(core, admission, principal, body())
        assert first.in_flight
        with pytest.raises(RateLimited) as refused:
            await admit(core, admission, principal, body(), key="order-3")
        assert refused.value.status == 429
        assert await core.money(principal) == Money(FUNDS, LOW_64)  # the refused one held nothing
        await admission.leave(first)
        second = await admitted(core, admission, principal, body(), key="order-3")  # its key was given back too
        assert second.in_flight and second.idempotency_claimed

    run_core(settings, scenario)


def test_requests_racing_for_the_last_credit_never_hold_more_than_the_balance(settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        admission, _ = core.billing_steps()
        principal = await core.principal("0.1")  # room for two high-quality images, not five
        outcomes = await asyncio.gather(
            *(admit(core, admission, principal, body(quality="high")) for _ in range(5)), return_exceptions=True
        )
        assert sum(isinstance(o, Admitted) for o in outcomes) == 2
        assert sum(isinstance(o, InsufficientBalance) for o in outcomes) == 3
        assert await core.money(principal) == Money(100_000, 2 * HIGH_64)
        await core.assert_ledger_consistent()

    run_core(settings, scenario)
