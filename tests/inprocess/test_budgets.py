"""Budgets and alerts, in process on SQLite and PostgreSQL: a key's budget lets exactly its worth of
concurrent requests through (holds count against it), resets with the UTC period, applies on every
surface and gives back what a failed request held; an end user's budget by `user`,
`safety_identifier` or the operator's header; `account.balance_low` and `key.budget_reached`
delivered signed through the webhook outbox; the admin API, the CLI and the pages show it all."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest
import standardwebhooks

from imagegate.db import clock
from imagegate.domain.budgets import period_end, period_start
from tests.conftest import Account, Gateway, serve_in_process
from tests.e2e.test_money import LOW_1024, ledger_verify
from tests.e2e.test_webhooks import ADMIN_TOKEN, FAST
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_webhooks import FakeWebhookReceiver

pytestmark = pytest.mark.tier("in_process")

HEADER = "X-OpenWebUI-User-Id"
ENV = {**FAST, "IMAGEGATE_END_USER_HEADER": HEADER, "IMAGEGATE_JOB_POLL_SECONDS": "0.1"}


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, module_database_url: str | None
) -> Iterator[Gateway]:
    yield from serve_in_process(tmp_path_factory, "budgets", fake_openai, module_database_url, ENV)


@pytest.fixture(scope="module")
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver() as fake:
        yield fake


def admin(gw: Gateway, method: str, path: str, body: Any = None) -> Any:
    with gw.http() as http:
        response = http.request(
            method, f"/admin/v1{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    assert response.status_code == 200, response.text
    return response.json()


def budgeted(gw: Gateway, images: int, period: str = "day", usd: str = "10") -> Account:
    """An account with `usd` of credit whose key may spend `images` low 1024² gpt-image-2 images per period."""
    account = gw.new_account(usd)
    budget = f"{images * LOW_1024 / 1_000_000:.6f}"
    key = admin(gw, "PUT", f"/keys/{account.key_id}/budget", {"budget_usd": budget, "budget_period": period})
    assert key["budget"]["budget_micros"] == images * LOW_1024
    return account


def generate(gw: Gateway, key: str, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-image-2", "prompt": "a kite", "quality": "low", **extra.pop("body", {})}
    with gw.http() as http:
        return http.post("/v1/images/generations", json=body, headers={"Authorization": f"Bearer {key}", **extra})


def error_of(response: httpx.Response) -> dict[str, Any]:
    return response.json()["error"]  # type: ignore[no-any-return]


def key_budget(gw: Gateway, key_id: str) -> dict[str, Any]:
    return admin(gw, "GET", f"/keys/{key_id}")["budget"]  # type: ignore[no-any-return]


async def _fire(base_url: str, key: str, count: int, at_once: int) -> list[tuple[int, str | None, str]]:
    """`count` generations, `at_once` in flight at a time, over the gateway's socket: (status, code, message)."""
    client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=60)
    gate = asyncio.Semaphore(at_once)

    async def one(i: int) -> tuple[int, str | None, str]:
        async with gate:
            try:
                await client.images.generate(model="gpt-image-2", prompt=f"race {i}", quality="low")
                return 200, None, ""
            except openai.APIStatusError as exc:
                error = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else {}
                return exc.status_code, error.get("code"), str(error.get("message"))

    try:
        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        await client.close()


def test_concurrent_requests_spend_exactly_the_key_budget_and_never_more(gw: Gateway, upstream: FakeOpenAI) -> None:
    covered, fired = 7, 48
    account = budgeted(gw, covered)
    results = asyncio.run(_fire(gw.base_url, account.key, fired, at_once=24))

    assert [r[0] for r in results].count(200) == covered
    refused = [r for r in results if r[0] != 200]
    assert {(status, code) for status, code, _ in refused} == {(402, "key_budget_exceeded")}, refused[:3]
    assert len(upstream.requests) == covered  # a refused request never reaches the upstream
    tomorrow = period_end("day", period_start("day", datetime.now(UTC)))
    for _, _, message in refused:
        assert "budget of $0.042 per day" in message, message
        found = re.search(r"\$([0-9.]+) is spent this day", message)
        assert found is not None and 0 <= float(found.group(1)) <= 0.042, message
        assert f"resets at {tomorrow.isoformat().replace('+00:00', 'Z')}" in message
    budget = key_budget(gw, account.key_id)
    assert (budget["spent_micros"], budget["held_micros"], budget["remaining_micros"]) == (covered * LOW_1024, 0, 0)
    assert gw.balance(account.id) == (10_000_000 - covered * LOW_1024, 0)
    assert ledger_verify(gw)["ok"]


def test_the_budget_resets_with_the_next_utc_period(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    for period in ("day", "month"):
        account = budgeted(gw, 1, period)
        assert generate(gw, account.key).status_code == 200
        refused = generate(gw, account.key)
        assert (refused.status_code, error_of(refused)["code"]) == (402, "key_budget_exceeded")
        following = period_end(period, period_start(period, datetime.now(UTC)))  # type: ignore[arg-type]
        monkeypatch.setattr(clock, "utcnow", lambda at=following: at + timedelta(minutes=1))
        assert generate(gw, account.key).status_code == 200, period  # a new period: its own budget
        again = generate(gw, account.key)
        after = period_end(period, following)  # type: ignore[arg-type]
        assert f"resets at {after.isoformat().replace('+00:00', 'Z')}" in error_of(again)["message"]
        monkeypatch.undo()
        assert gw.balance(account.id) == (10_000_000 - 2 * LOW_1024, 0)
    assert ledger_verify(gw)["ok"]


def test_a_failed_request_gives_its_budget_back(gw: Gateway, upstream: FakeOpenAI) -> None:
    account = budgeted(gw, 1)
    upstream.script({"kind": "server_error", "times": 10})
    failed = generate(gw, account.key)
    assert failed.status_code == 502, failed.text
    budget = key_budget(gw, account.key_id)
    assert (budget["spent_micros"], budget["held_micros"]) == (0, 0)
    upstream.reset()
    assert generate(gw, account.key).status_code == 200  # the whole budget was still there
    assert ledger_verify(gw)["ok"]


def test_the_budget_applies_to_chat_and_to_async_jobs(gw: Gateway) -> None:
    account = budgeted(gw, 2)
    headers = {"Authorization": f"Bearer {account.key}"}
    chat = {"model": "gpt-image-2", "messages": [{"role": "user", "content": "a kite"}], "quality": "low"}
    with gw.http() as http:
        assert http.post("/v1/chat/completions", json=chat, headers=headers).status_code == 200
        job = http.post(
            "/v1/images/generations",
            json={"model": "gpt-image-2", "prompt": "a kite", "quality": "low"},
            headers={**headers, "Prefer": "respond-async"},
        )
        assert job.status_code == 202, job.text  # held at submit: the budget's last image
        refused = http.post("/v1/chat/completions", json=chat, headers=headers)
        assert (refused.status_code, error_of(refused)["code"]) == (402, "key_budget_exceeded")
        late_job = http.post(
            "/v1/images/generations",
            json={"model": "gpt-image-2", "prompt": "a kite", "quality": "low"},
            headers={**headers, "Prefer": "respond-async"},
        )
        assert (late_job.status_code, error_of(late_job)["code"]) == (402, "key_budget_exceeded")
    budget = key_budget(gw, account.key_id)  # the job may be running or done: held, or spent
    assert budget["spent_micros"] + budget["held_micros"] == 2 * LOW_1024


def test_an_end_user_budget_counts_by_user_safety_identifier_or_the_operators_header(gw: Gateway) -> None:
    account = gw.new_account("10")
    admin(gw, "PUT", f"/accounts/{account.id}/user-budget", {"budget_usd": "0.006", "budget_period": "day"})
    assert generate(gw, account.key, body={"user": "alice"}).status_code == 200
    refused = generate(gw, account.key, body={"user": "alice"})
    assert (refused.status_code, error_of(refused)["code"]) == (402, "user_budget_exceeded")
    assert "This end user's budget of $0.006 per day" in error_of(refused)["message"]
    assert generate(gw, account.key, body={"safety_identifier": "bob"}).status_code == 200
    again = generate(gw, account.key, body={"user": "someone", "safety_identifier": "bob"})  # the identifier wins
    assert error_of(again)["code"] == "user_budget_exceeded"
    assert generate(gw, account.key, **{HEADER: "carol"}).status_code == 200
    header_wins = generate(gw, account.key, body={"user": "dave"}, **{HEADER: "carol"})
    assert error_of(header_wins)["code"] == "user_budget_exceeded"
    assert generate(gw, account.key, body={"user": "dave"}).status_code == 200
    assert generate(gw, account.key).status_code == 200  # no end user named: only the account's credit
    assert gw.balance(account.id) == (10_000_000 - 5 * LOW_1024, 0)


def test_hostile_end_user_ids_are_refused_with_the_param(gw: Gateway) -> None:
    account = gw.new_account("10")
    admin(gw, "PUT", f"/accounts/{account.id}/user-budget", {"budget_usd": "1"})
    too_long = generate(gw, account.key, **{HEADER: "x" * 300})
    assert (too_long.status_code, error_of(too_long)["param"]) == (400, HEADER.lower())
    control = generate(gw, account.key, **{HEADER: "eve\x01"})
    assert (control.status_code, error_of(control)["param"]) == (400, HEADER.lower())
    with gw.http() as http:
        surrogate = http.post(
            "/v1/images/generations",
            content=b'{"model": "gpt-image-2", "prompt": "x", "user": "\\ud800"}',
            headers={"Authorization": f"Bearer {account.key}", "Content-Type": "application/json"},
        )
    assert (surrogate.status_code, error_of(surrogate)["param"]) == (400, "user")
    assert gw.balance(account.id) == (10_000_000, 0)


def test_alerts_are_sent_once_signed_to_the_accounts_url(gw: Gateway, receiver: FakeWebhookReceiver) -> None:
    account = budgeted(gw, 2, usd="0.02")
    secret = admin(gw, "PUT", f"/accounts/{account.id}/webhook", {"webhook_url": receiver.url})["secret"]
    admin(gw, "PUT", f"/accounts/{account.id}/low-balance", {"threshold_usd": "0.01"})
    before = len(receiver.received)
    assert generate(gw, account.key).status_code == 200  # $0.014 left: above the threshold
    assert generate(gw, account.key).status_code == 200  # $0.008 left, and the budget is spent
    assert generate(gw, account.key).status_code == 402  # refused: the budget's alert was sent already
    arrived = receiver.wait_for(before + 2)[before:]
    verified = sorted(
        (standardwebhooks.Webhook(secret).verify(r.body, r.headers) for r in arrived), key=lambda p: p["type"]
    )
    low, reached = verified
    assert low["type"] == "account.balance_low"
    assert low["data"] == {"account_id": account.id, "balance_micros": 8_000, "threshold_micros": 10_000}
    assert reached["type"] == "key.budget_reached"
    assert reached["data"]["key_id"] == account.key_id
    assert (reached["data"]["budget_micros"], reached["data"]["spent_micros"]) == (2 * LOW_1024, 2 * LOW_1024)
    shown = admin(gw, "GET", f"/accounts/{account.id}/budgets")
    assert (shown["low_balance_micros"], shown["low_balance_alerted"]) == (10_000, True)
    gw.admin(lambda a: a.ledger.add_credit(account.id, "1", "top-up"))  # back above the threshold: re-armed
    assert admin(gw, "GET", f"/accounts/{account.id}/budgets")["low_balance_alerted"] is False
    assert len([r for r in receiver.received[before:] if r.headers.get("webhook-id")]) == 2


def test_a_low_balance_threshold_set_between_requests_alerts_on_the_next_capture(
    gw: Gateway, receiver: FakeWebhookReceiver
) -> None:
    account = gw.new_account("0.02")  # no budget: its captures check alerts only once a threshold is set
    secret = admin(gw, "PUT", f"/accounts/{account.id}/webhook", {"webhook_url": receiver.url})["secret"]
    before = len(receiver.received)
    assert generate(gw, account.key).status_code == 200  # $0.014 left, no threshold yet
    admin(gw, "PUT", f"/accounts/{account.id}/low-balance", {"threshold_usd": "0.015"})
    assert generate(gw, account.key).status_code == 200  # $0.008 left: below it
    (message,) = receiver.wait_for(before + 1)[before:]
    payload = standardwebhooks.Webhook(secret).verify(message.body, message.headers)
    assert payload["type"] == "account.balance_low"
    assert payload["data"] == {"account_id": account.id, "balance_micros": 8_000, "threshold_micros": 15_000}


def test_a_key_budget_alert_goes_to_the_keys_url_when_the_account_has_none(
    gw: Gateway, receiver: FakeWebhookReceiver
) -> None:
    account = budgeted(gw, 1)
    secret = admin(gw, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": receiver.url})["secret"]
    before = len(receiver.received)
    assert generate(gw, account.key).status_code == 200
    (message,) = receiver.wait_for(before + 1)[before:]
    payload = standardwebhooks.Webhook(secret).verify(message.body, message.headers)
    assert (payload["type"], payload["data"]["key_id"]) == ("key.budget_reached", account.key_id)


def test_the_cli_and_the_pages_show_and_set_budgets(gw: Gateway) -> None:
    account = gw.new_account("10")
    created = json.loads(
        gw.cli("keys", "create", account.id, "--budget-usd", "1.5", "--budget-period", "month", "--json")
    )
    assert (created["budget"]["budget_micros"], created["budget"]["period"]) == (1_500_000, "month")
    changed = json.loads(gw.cli("keys", "budget", created["id"], "--budget-usd", "2", "--json"))
    assert (changed["budget"]["budget_micros"], changed["budget"]["period"]) == (2_000_000, "day")
    limits = json.loads(gw.cli("accounts", "limits", account.id, "--user-budget-usd", "0.5", "--json"))
    assert limits["budgets"]["user_budget"] == {"budget_micros": 500_000, "period": "day"}
    alerts = json.loads(gw.cli("accounts", "alerts", account.id, "--low-balance-usd", "1", "--json"))
    assert alerts["low_balance_micros"] == 1_000_000
    with pytest.raises(AssertionError, match="budget_period"):
        gw.cli("keys", "budget", created["id"], "--budget-usd", "2", "--budget-period", "week", "--json")
    with pytest.raises(AssertionError, match="budget_usd"):
        gw.cli("keys", "budget", created["id"], "--budget-usd", "-1", "--json")

    with gw.http() as http:
        http.post("/admin/login", data={"token": ADMIN_TOKEN})
        page = http.get(f"/admin/accounts/{account.id}").text
    assert "budget $2.00 per day" in page, page[:2000]
    assert 'id="user-budget">$0.50 per day' in page
    assert "below $1.00" in page
    with gw.http() as http:
        mine = http.get("/v1/account", headers={"Authorization": f"Bearer {created['key']}"}).json()
    assert (mine["key"]["budget"]["budget_micros"], mine["key"]["budget"]["spent_micros"]) == (2_000_000, 0)
    cleared = json.loads(gw.cli("keys", "budget", created["id"], "--clear", "--json"))
    assert cleared["budget"] is None
