"""Usage: one record per request that passed authentication, success or refusal, with the contract's
fields, the route and attempts used and the rate charged; GET /v1/usage with totals and a time range.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.conftest import Account, Gateway
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

ATTEMPTS = 3  # IMAGEGATE_RETRY_ATTEMPTS in the fixture
LOW_1024 = 6_000
HIGH_1024 = 211_000
PROMPT = "a lighthouse at dusk, waves breaking on the rocks"
RECORD_FIELDS = {
    "id",
    "created",
    "time",
    "model",
    "route",
    "attempts",
    "n",
    "delivered",
    "size",
    "quality",
    "status",
    "error_code",
    "cost_micros",
    "unit_price_micros",
    "latency_ms",
    "user",
    "surface",
}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-image-2", "prompt": PROMPT, "quality": "low", **fields}


def usage(gateway: Gateway, key: str, **params: Any) -> httpx.Response:
    with gateway.http() as http:
        return http.get("/v1/usage", headers={"Authorization": f"Bearer {key}"}, params=params)


def usage_of(gateway: Gateway, key: str, **params: Any) -> dict[str, Any]:
    response = usage(gateway, key, **params)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"].startswith("req_")
    return response.json()


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in records}


def assert_totals_add_up(result: dict[str, Any]) -> None:
    data = result["data"]
    assert result["totals"] == {
        "requests": len(data),
        "images": sum(r["delivered"] for r in data),
        "cost_micros": sum(r["cost_micros"] for r in data),
    }


def test_one_record_per_authenticated_request_with_the_contracts_fields(gateway: Gateway, upstream: FakeOpenAI) -> None:
    account = gateway.new_account("0.02")  # 20_000 micros: the first request leaves 8_000
    restricted_key = gateway.admin(
        lambda admin: admin.keys.create(account.id, test=False, models=["preview"], rpm=None)
    )
    started = time.time()

    ok = gateway.post_images(account.key, body(n=2, user="end-user-7"))
    assert ok.status_code == 200, ok.text
    invalid = gateway.post_images(account.key, body(n=9, user="end-user-8"))
    assert invalid.status_code == 400
    broke = gateway.post_images(account.key, body(quality="high"))
    assert broke.status_code == 402, broke.text
    upstream.script({"kind": "server_error", "times": ATTEMPTS})
    failed = gateway.post_images(account.key, body())
    assert failed.status_code == 502, failed.text
    upstream.script({"kind": "moderation_blocked"})
    blocked = gateway.post_images(account.key, body(user="end-user-9"))
    assert blocked.status_code == 451, blocked.text
    not_allowed = gateway.post_images(restricted_key["key"], body())
    assert not_allowed.status_code == 403, not_allowed.text
    finished = time.time()

    result = usage_of(gateway, account.key)
    records = by_id(result["data"])
    responses = {
        "ok": ok,
        "invalid": invalid,
        "broke": broke,
        "failed": failed,
        "blocked": blocked,
        "not_allowed": not_allowed,
    }
    ids = {name: r.headers["x-request-id"] for name, r in responses.items()}
    assert set(records) == set(ids.values())
    assert len(result["data"]) == len(responses)  # one each, no duplicates

    for name, response in responses.items():
        record = records[ids[name]]
        assert set(record) >= RECORD_FIELDS, (name, sorted(RECORD_FIELDS - set(record)))
        assert started - 1 <= record["created"] <= finished + 1, name
        moment = datetime.fromisoformat(record["time"])
        assert moment.utcoffset() is not None, record["time"]
        assert int(moment.timestamp()) == record["created"], name
        assert isinstance(record["latency_ms"], int) and record["latency_ms"] >= 0, name
        assert record["status"] == response.status_code, name
        assert record["surface"] == "images", name  # every one came through the Images API
        if response.status_code != 200:
            assert record["error_code"] == response.json()["error"]["code"], name
            assert (record["delivered"], record["cost_micros"]) == (0, 0), name

    success = records[ids["ok"]]
    assert {k: success[k] for k in RECORD_FIELDS - {"id", "created", "time", "latency_ms"}} == {
        "model": "gpt-image-2",
        "route": "openai",
        "attempts": 1,
        "n": 2,
        "delivered": 2,
        "size": "1024x1024",
        "quality": "low",
        "status": 200,
        "error_code": None,
        "cost_micros": 2 * LOW_1024,
        "unit_price_micros": LOW_1024,
        "user": "end-user-7",
        "surface": "images",
    }
    assert success["cost_micros"] == int(ok.headers["x-imagegate-cost-micros"])
    assert success.get("key_id", account.key_id) == account.key_id

    refusal = records[ids["invalid"]]
    assert (refusal["error_code"], refusal["attempts"], refusal["route"]) == ("invalid_value", 0, None)

    no_credit = records[ids["broke"]]
    assert (no_credit["model"], no_credit["n"], no_credit["size"], no_credit["quality"]) == (
        "gpt-image-2",
        1,
        "1024x1024",
        "high",
    )
    assert (no_credit["error_code"], no_credit["attempts"], no_credit["route"]) == ("insufficient_balance", 0, None)

    upstream_failed = records[ids["failed"]]
    assert (upstream_failed["error_code"], upstream_failed["attempts"], upstream_failed["route"]) == (
        "upstream_failed",
        ATTEMPTS,
        "openai",
    )
    assert (upstream_failed["model"], upstream_failed["n"], upstream_failed["quality"]) == ("gpt-image-2", 1, "low")

    refused_upstream = records[ids["blocked"]]
    assert (refused_upstream["error_code"], refused_upstream["attempts"], refused_upstream["route"]) == (
        "prompt_blocked",
        1,
        "openai",
    )
    assert refused_upstream["user"] == "end-user-9"

    wrong_model = records[ids["not_allowed"]]
    assert (wrong_model["error_code"], wrong_model["attempts"], wrong_model["route"]) == ("model_not_allowed", 0, None)
    assert wrong_model.get("key_id", restricted_key["id"]) == restricted_key["id"]

    assert result["totals"] == {"requests": 6, "images": 2, "cost_micros": 2 * LOW_1024}
    assert_totals_add_up(result)
    assert gateway.balance(account.id) == (20_000 - 2 * LOW_1024, 0)

    # a request refused for its model records which model it asked for (it was valid, only not allowed)
    assert (wrong_model["model"], wrong_model["n"], wrong_model["quality"]) == ("gpt-image-2", 1, "low")


def test_an_unauthenticated_request_leaves_no_record(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    refused = [
        gateway.post_images(None, body()),
        gateway.post_images("ig_live_not-a-real-key", body()),
        gateway.post_images("ig_live_not-a-real-key", body(n=9)),
    ]
    with gateway.http() as http:
        refused.append(http.get("/v1/usage"))
    for response in refused:
        assert response.status_code == 401, response.text
    request_ids = {r.headers["x-request-id"] for r in refused}

    everything = gateway.admin(lambda admin: admin.reports.usage(since, datetime.now(UTC) + timedelta(seconds=5)))
    assert not request_ids & {r["id"] for r in everything["data"]}
    assert usage_of(gateway, account.key)["totals"] == {"requests": 0, "images": 0, "cost_micros": 0}
    assert upstream.requests == []


def test_totals_add_up_over_many_requests(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    expected_cost = 0
    for n, quality, price in ((1, "low", LOW_1024), (3, "low", LOW_1024), (2, "high", HIGH_1024)):
        response = gateway.post_images(account.key, body(n=n, quality=quality))
        assert response.status_code == 200, response.text
        expected_cost += n * price
    upstream.script({"kind": "fewer_images"})  # 2 asked, 1 delivered: only the delivered one counts
    partial = gateway.post_images(account.key, body(n=2))
    assert partial.status_code == 200, partial.text
    assert len(partial.json()["data"]) == 1
    expected_cost += LOW_1024
    assert gateway.post_images(account.key, body(size="999x999")).status_code == 400

    result = usage_of(gateway, account.key)
    assert result["totals"] == {"requests": 5, "images": 1 + 3 + 2 + 1, "cost_micros": expected_cost}
    assert_totals_add_up(result)
    short = by_id(result["data"])[partial.headers["x-request-id"]]
    assert (short["n"], short["delivered"], short["cost_micros"]) == (2, 1, LOW_1024)
    assert gateway.balance(account.id) == (10_000_000 - expected_cost, 0)


def test_the_record_keeps_the_rate_that_was_charged(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    before = gateway.post_images(account.key, body(quality="high"))
    try:
        gateway.cli("prices", "set", "gpt-image-2", "--quality", "high", "--size", "1024x1024", "--usd", "0.3")
        after = gateway.post_images(account.key, body(quality="high"))
    finally:
        gateway.cli("prices", "set", "gpt-image-2", "--quality", "high", "--size", "1024x1024", "--usd", "0.211")
    upstream.auto_quality = "low"
    auto = gateway.post_images(account.key, body(quality="auto"))

    records = by_id(usage_of(gateway, account.key)["data"])
    first = records[before.headers["x-request-id"]]
    second = records[after.headers["x-request-id"]]
    resolved = records[auto.headers["x-request-id"]]
    assert (first["unit_price_micros"], first["cost_micros"]) == (HIGH_1024, HIGH_1024)
    assert (second["unit_price_micros"], second["cost_micros"]) == (300_000, 300_000)
    assert (resolved["unit_price_micros"], resolved["cost_micros"]) == (LOW_1024, LOW_1024)
    assert resolved["quality"] == "auto"
    assert gateway.balance(account.id) == (10_000_000 - HIGH_1024 - 300_000 - LOW_1024, 0)


# -- the time range


def iso(unix: int, offset: timedelta = timedelta(0)) -> str:
    return datetime.fromtimestamp(unix, timezone(offset)).isoformat()


def test_start_and_end_filter_the_records(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    response = gateway.post_images(account.key, body())
    assert response.status_code == 200
    (record,) = usage_of(gateway, account.key)["data"]
    created = record["created"]
    kolkata = timedelta(hours=5, minutes=30)
    new_york = timedelta(hours=-5)

    inside = [
        {"start": str(created), "end": str(created + 1)},
        {"start": str(created - 3600)},
        {"end": str(created + 1)},
        {"start": iso(created), "end": iso(created + 1)},
        {"start": iso(created).replace("+00:00", "Z"), "end": iso(created + 1).replace("+00:00", "Z")},
        {"start": iso(created, kolkata), "end": iso(created + 1, kolkata)},
        {"start": iso(created, new_york), "end": iso(created + 1, new_york)},
        {"start": iso(created).replace("+00:00", ""), "end": iso(created + 1).replace("+00:00", "")},  # no zone: UTC
    ]
    for params in inside:
        result = usage_of(gateway, account.key, **params)
        assert [r["id"] for r in result["data"]] == [record["id"]], params
        assert result["totals"] == {"requests": 1, "images": 1, "cost_micros": record["cost_micros"]}, params

    outside = [
        {"start": str(created + 1), "end": str(created + 2)},
        {"start": str(created - 100), "end": str(created - 50)},
        {"end": str(created)},
        {"start": iso(created + 1, kolkata), "end": iso(created + 2, kolkata)},
        {"start": iso(created - 100, new_york), "end": iso(created, new_york)},
    ]
    for params in outside:
        result = usage_of(gateway, account.key, **params)
        assert result["data"] == [], params
        assert result["totals"] == {"requests": 0, "images": 0, "cost_micros": 0}, params


@pytest.mark.parametrize(
    ("params", "param"),
    [
        pytest.param({"start": "1700000000", "end": "1700000000"}, "start", id="start-equals-end"),
        pytest.param({"start": "1700000100", "end": "1700000000"}, "start", id="start-after-end"),
        pytest.param(
            {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "start", id="iso-start-after-end"
        ),
        pytest.param({"start": "2030-01-01T00:00:00Z"}, "start", id="start-in-the-future"),
        pytest.param({"start": "yesterday"}, "start", id="start-words"),
        pytest.param({"start": "2026-13-45"}, "start", id="start-bad-date"),
        pytest.param({"end": "not-a-time"}, "end", id="end-words"),
        pytest.param({"end": "2026-01-01T25:00:00"}, "end", id="end-bad-hour"),
        pytest.param({"start": "1e9"}, "start", id="start-exponent"),
        pytest.param({"start": "99999999999999999999"}, "start", id="start-out-of-range"),
    ],
)
def test_bad_time_range_is_400(gateway: Gateway, account: Account, params: dict[str, str], param: str) -> None:
    response = usage(gateway, account.key, **params)
    assert response.status_code == 400, response.text
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "invalid_value", param)


def test_usage_needs_a_key(gateway: Gateway) -> None:
    with gateway.http() as http:
        missing = http.get("/v1/usage")
        wrong = http.get("/v1/usage", headers={"Authorization": "Bearer ig_live_nope"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_api_key")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_api_key")
