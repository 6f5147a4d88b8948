"""A capture whose commit landed but whose answer was lost (the database connection cut between the
two) is resolved, not guessed: the client gets its images and pays exactly once, or gets an error
and pays nothing, never an error for money taken. Real Billing, ledger and PostgreSQL, reached
through a forwarder that loses exactly that one answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagegate.service.images.admission import Replay
from tests.conftest import PostgresDatabase, require_service
from tests.support.lossy_proxy import LossyProxy

from .harness import LOW_64, core_settings, open_core
from .scripted import image
from .test_settlement import FUNDS, admitted, body, deliver

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresDatabase]:
    require_service("PostgreSQL", 5432)
    database = PostgresDatabase()
    database.create()
    yield database
    database.drop()


def _lose_one_answer(postgres: PostgresDatabase, tmp_path: Path, core_config: Path, key: str | None = None) -> None:
    """Admit a request, cut the connection after the statement naming `key` (else the hold) ran but
    before its answer came back, and deliver: the client is answered exactly as it was billed."""

    async def go() -> None:
        proxy = LossyProxy(5432)
        await proxy.start()
        try:
            url = postgres.url.replace(":5432/", f":{proxy.port}/")
            async with open_core(core_settings(tmp_path / "data", core_config, url)) as core:
                admission, settlement = core.billing_steps()
                principal = await core.principal()
                first = await admitted(core, admission, principal, body(), key)
                assert first.hold_id is not None
                proxy.lose_reply_to((key or first.hold_id).encode())

                result = await deliver(settlement, first, [image()])  # no error: the answer matches the money

                assert proxy.replies_lost == 1
                assert result.cost_micros == LOW_64
                money = await core.money(principal)
                assert (money.balance, money.held) == (FUNDS - LOW_64, 0)  # captured once, nothing left held
                records = await core.usage(principal)
                assert [(r.status, r.cost_micros) for r in records] == [(200, LOW_64)]
                await core.assert_ledger_consistent()
                if key is not None:  # the claim was finished despite the lost answer: a retry is a replay
                    again = await admission.admit(first.ticket, first.request, body())
                    assert isinstance(again, Replay) and again.body == result.body
                    assert (await core.money(principal)).balance == FUNDS - LOW_64
        finally:
            await proxy.aclose()

    asyncio.run(go())


def test_a_capture_whose_answer_was_lost_is_answered_200_and_billed_once(
    postgres: PostgresDatabase, tmp_path: Path, core_config: Path
) -> None:
    _lose_one_answer(postgres, tmp_path, core_config)


def test_an_idempotency_claim_whose_answer_was_lost_is_still_finished(
    postgres: PostgresDatabase, tmp_path: Path, core_config: Path
) -> None:
    _lose_one_answer(postgres, tmp_path, core_config, key="retry-me-7f3a")
