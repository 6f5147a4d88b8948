"""The admin API under /admin/v1/: the admin token, accounts, credit, keys, live prices, usage, the ledger,
and that it and the CLI are one code path (the same actions, the same JSON).

The session `gateway` runs without IMAGEGATE_ADMIN_TOKEN (admin API off); this module starts its own
gateway with a token, on the same database backend (SQLite, then PostgreSQL).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, serve_in_process
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

ADMIN_TOKEN = "adm-secret"
HIGH_1024 = 211_000  # gpt-image-2, high, 1024x1024 (catalog)
LOW_1024 = 6_000  # gpt-image-2, low, 1024x1024 (catalog)


@pytest.fixture(scope="module")
def admin_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, database_url: str | None
) -> Iterator[Gateway]:
    yield from serve_in_process(
        tmp_path_factory, "admin-api", fake_openai, database_url, {"IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN}
    )


# -- helpers


def call(
    gw: Gateway, method: str, path: str, *, token: str | None = ADMIN_TOKEN, json_body: Any = None, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    headers.update(kwargs.pop("headers", {}))
    with gw.http() as http:
        return http.request(method, f"/admin/v1{path}", headers=headers, json=json_body, **kwargs)


def ok(response: httpx.Response) -> Any:
    assert response.is_success, (response.status_code, response.text)
    assert response.headers["x-request-id"].startswith("req_")
    return response.json()


TIME_FIELDS = ("created_at", "revoked_at")


def instant(value: str | None) -> datetime | None:
    """An ISO 8601 time as an instant (a time without an offset read as UTC), for comparing records."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same record: equal fields, with times compared as instants (their spelling has its own test)."""
    if set(a) != set(b):
        return False
    return all((instant(a[k]) == instant(b[k])) if k in TIME_FIELDS else a[k] == b[k] for k in a)


def one(records: list[dict[str, Any]], record_id: str) -> dict[str, Any]:
    (found,) = [r for r in records if r["id"] == record_id]
    return found


def usd(micros: int) -> str:
    """Micros as an exact USD string, e.g. -9789001 -> '-9.789001'."""
    return str(Decimal(micros).scaleb(-6))


def cli_json(gw: Gateway, *args: str) -> dict[str, Any]:
    value = json.loads(gw.cli(*args, "--json"))
    assert isinstance(value, dict), value
    return value


def new_funded_account(
    gw: Gateway, name: str, amount_usd: str = "10", **key_options: Any
) -> tuple[str, dict[str, Any]]:
    """An account made through the admin API, with credit and a live key; (account id, key object)."""
    account = ok(call(gw, "POST", "/accounts", json_body={"name": name}))
    if amount_usd != "0":
        ok(
            call(
                gw,
                "POST",
                f"/accounts/{account['id']}/credit",
                json_body={"amount_usd": amount_usd, "reason": "funding"},
            )
        )
    key = ok(call(gw, "POST", f"/accounts/{account['id']}/keys", json_body=key_options))
    return account["id"], key


def generate(gw: Gateway, key: str, **fields: Any) -> httpx.Response:
    return gw.post_images(key, {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", **fields})


# -- the token


ADMIN_ENDPOINTS = [
    ("GET", "/accounts", None),
    ("POST", "/accounts", {"name": "intruder"}),
    ("GET", "/accounts/acct_whatever", None),
    ("POST", "/accounts/acct_whatever/disable", None),
    ("POST", "/accounts/acct_whatever/credit", {"amount_usd": "100", "reason": "free money"}),
    ("POST", "/accounts/acct_whatever/adjustments", {"amount_usd": "100", "reason": "free money"}),
    ("POST", "/accounts/acct_whatever/keys", {}),
    ("GET", "/accounts/acct_whatever/keys", None),
    ("POST", "/keys/key_whatever/revoke", None),
    ("GET", "/prices", None),
    ("PUT", "/prices", {"model": "gpt-image-2", "quality": "high", "size": "1024x1024", "amount_usd": "0"}),
    ("GET", "/usage", None),
    ("GET", "/ledger/verify", None),
]


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer adm-wrong", id="wrong-token"),
        pytest.param("Bearer adm-secre", id="token-prefix"),
        pytest.param("Bearer adm-secret-and-more", id="token-extended"),
        pytest.param("Basic adm-secret", id="wrong-scheme"),
        pytest.param("Bearer", id="empty-token"),
    ],
)
def test_admin_api_without_the_token_is_401(admin_gateway: Gateway, auth: str | None) -> None:
    before = ok(call(admin_gateway, "GET", "/accounts"))
    headers = {"Authorization": auth} if auth is not None else {}
    for method, path, body in ADMIN_ENDPOINTS:
        response = call(admin_gateway, method, path, token=None, json_body=body, headers=headers)
        assert_error(response, 401, "authentication_error")
    assert ok(call(admin_gateway, "GET", "/accounts")) == before  # nothing was created


def test_admin_api_is_off_without_a_configured_token(gateway: Gateway) -> None:
    """The session gateway has no IMAGEGATE_ADMIN_TOKEN: the admin API does not exist there."""
    for token in (ADMIN_TOKEN, None, "adm-wrong"):
        for method, path, body in ADMIN_ENDPOINTS:
            response = call(gateway, method, path, token=token, json_body=body)
            assert_error(response, 404, response.json()["error"]["type"])


# -- accounts


def test_accounts_create_get_list_disable_enable(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    created = ok(call(admin_gateway, "POST", "/accounts", json_body={"name": "acme"}))
    assert created["id"].startswith("acct_")
    assert created["name"] == "acme"
    assert (created["balance_micros"], created["held_micros"], created["disabled"]) == (0, 0, False)
    assert created["currency"] == "USD"

    assert same(ok(call(admin_gateway, "GET", f"/accounts/{created['id']}")), created)
    listed = ok(call(admin_gateway, "GET", "/accounts"))
    assert listed["object"] == "list"
    assert same(one(listed["data"], created["id"]), created)

    key = ok(call(admin_gateway, "POST", f"/accounts/{created['id']}/keys", json_body={"test": True}))
    preview = {"model": "preview", "prompt": "x", "size": "256x256"}
    assert admin_gateway.post_images(key["key"], preview).status_code == 200

    disabled = ok(call(admin_gateway, "POST", f"/accounts/{created['id']}/disable"))
    assert disabled["id"] == created["id"]
    assert disabled["disabled"] is True
    assert ok(call(admin_gateway, "GET", f"/accounts/{created['id']}"))["disabled"] is True
    assert_error(admin_gateway.post_images(key["key"], preview), 403, "permission_error", "account_disabled")

    enabled = ok(call(admin_gateway, "POST", f"/accounts/{created['id']}/enable"))
    assert enabled["disabled"] is False
    assert admin_gateway.post_images(key["key"], preview).status_code == 200


def test_unknown_account_is_404(admin_gateway: Gateway) -> None:
    assert_error(call(admin_gateway, "GET", "/accounts/acct_nope"), 404, "not_found_error")
    assert_error(call(admin_gateway, "POST", "/accounts/acct_nope/disable"), 404, "not_found_error")
    response = call(admin_gateway, "POST", "/accounts/acct_nope/credit", json_body={"amount_usd": "1", "reason": "r"})
    assert_error(response, 404, "not_found_error")
    assert_error(call(admin_gateway, "POST", "/accounts/acct_nope/keys", json_body={}), 404, "not_found_error")


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": " \t"}], ids=["missing", "empty", "blank"])
def test_create_account_needs_a_name(admin_gateway: Gateway, body: dict[str, Any]) -> None:
    before = len(ok(call(admin_gateway, "GET", "/accounts"))["data"])
    error = assert_error(call(admin_gateway, "POST", "/accounts", json_body=body), 400, "invalid_request_error")
    assert error["param"] == "name"
    assert len(ok(call(admin_gateway, "GET", "/accounts"))["data"]) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/accounts", {"name": "typo", "nmae": "typo"}),
        ("POST", "/accounts/{account}/credit", {"amount_usd": "1", "reason": "r", "note": "x"}),
        ("POST", "/accounts/{account}/keys", {"tset": True}),
        ("PUT", "/prices", {"model": "gpt-image-2", "quality": "low", "size": "1024x1024", "amount_usd": "1", "x": 1}),
    ],
)
def test_a_field_the_admin_api_does_not_take_is_refused_by_name(
    admin_gateway: Gateway, method: str, path: str, body: dict[str, Any]
) -> None:
    """As on the public API: a misspelt option is a 400 naming it, never silently ignored."""
    account_id = ok(call(admin_gateway, "POST", "/accounts", json_body={"name": "strict"}))["id"]
    response = call(admin_gateway, method, path.format(account=account_id), json_body=body)
    extra = next(name for name in body if name not in ("name", "amount_usd", "reason", "model", "quality", "size"))
    assert_error(response, 400, "invalid_request_error", "unknown_parameter", extra)
    assert ok(call(admin_gateway, "GET", f"/accounts/{account_id}"))["balance_micros"] == 0
    assert ok(call(admin_gateway, "GET", f"/accounts/{account_id}/keys"))["data"] == []


# -- credit


def test_top_ups_and_adjustments_change_the_balance_exactly(admin_gateway: Gateway) -> None:
    account_id = ok(call(admin_gateway, "POST", "/accounts", json_body={"name": "credit"}))["id"]

    topped = ok(
        call(
            admin_gateway,
            "POST",
            f"/accounts/{account_id}/credit",
            json_body={"amount_usd": "12.5", "reason": "invoice 1"},
        )
    )
    assert topped["account_id"] == account_id
    assert topped["balance_micros"] == 12_500_000
    assert topped["reason"] == "invoice 1"
    assert admin_gateway.balance(account_id) == (12_500_000, 0)

    topped = ok(
        call(
            admin_gateway,
            "POST",
            f"/accounts/{account_id}/credit",
            json_body={"amount_usd": 2.25, "reason": "invoice 2"},
        )
    )
    assert topped["balance_micros"] == 14_750_000
    assert admin_gateway.balance(account_id) == (14_750_000, 0)

    topped = ok(
        call(
            admin_gateway, "POST", f"/accounts/{account_id}/credit", json_body={"amount_usd": 3, "reason": "invoice 3"}
        )
    )
    assert topped["balance_micros"] == 17_750_000

    adjusted = ok(
        call(
            admin_gateway,
            "POST",
            f"/accounts/{account_id}/adjustments",
            json_body={"amount_usd": "-0.750001", "reason": "refund"},
        )
    )
    assert adjusted["balance_micros"] == 16_999_999
    assert adjusted["reason"] == "refund"
    assert admin_gateway.balance(account_id) == (16_999_999, 0)

    adjusted = ok(
        call(
            admin_gateway,
            "POST",
            f"/accounts/{account_id}/adjustments",
            json_body={"amount_usd": "0.000001", "reason": "rounding"},
        )
    )
    assert adjusted["balance_micros"] == 17_000_000
    assert ok(call(admin_gateway, "GET", f"/accounts/{account_id}"))["balance_micros"] == 17_000_000


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        pytest.param("credit", {"amount_usd": "1"}, "reason", id="topup-without-reason"),
        pytest.param("credit", {"amount_usd": "1", "reason": "  "}, "reason", id="topup-blank-reason"),
        pytest.param("credit", {"reason": "r"}, "amount_usd", id="topup-without-amount"),
        pytest.param("credit", {"amount_usd": "-1", "reason": "r"}, None, id="topup-negative"),
        pytest.param("credit", {"amount_usd": "0", "reason": "r"}, None, id="topup-zero"),
        pytest.param("credit", {"amount_usd": "1.0000001", "reason": "r"}, None, id="topup-seven-decimals"),
        pytest.param("credit", {"amount_usd": "lots", "reason": "r"}, None, id="topup-not-a-number"),
        pytest.param("credit", {"amount_usd": True, "reason": "r"}, "amount_usd", id="topup-boolean"),
        pytest.param("adjustments", {"amount_usd": "-1"}, "reason", id="adjust-without-reason"),
        pytest.param("adjustments", {"amount_usd": "0", "reason": "r"}, None, id="adjust-zero"),
        pytest.param("credit", {"amount_usd": "1e3", "reason": "r"}, "amount_usd", id="topup-exponent"),
        pytest.param("credit", {"amount_usd": 2.5e-7, "reason": "r"}, "amount_usd", id="topup-number-seven-decimals"),
    ],
)
def test_refused_credit_changes_nothing(
    admin_gateway: Gateway, path: str, body: dict[str, Any], param: str | None
) -> None:
    account_id = ok(call(admin_gateway, "POST", "/accounts", json_body={"name": "refused"}))["id"]
    ok(
        call(
            admin_gateway, "POST", f"/accounts/{account_id}/credit", json_body={"amount_usd": "5", "reason": "funding"}
        )
    )

    error = assert_error(
        call(admin_gateway, "POST", f"/accounts/{account_id}/{path}", json_body=body), 400, "invalid_request_error"
    )
    if param is not None:
        assert error["param"] == param
    assert admin_gateway.balance(account_id) == (5_000_000, 0)


@pytest.mark.parametrize(
    ("path", "amount"),
    [("adjustments", "-5.000001"), ("credit", "999999999.999999"), ("adjustments", "999999999.999999")],
    ids=["adjust-below-zero", "topup-past-the-maximum", "adjust-past-the-maximum"],
)
def test_an_amount_the_balance_cannot_take_is_a_409_and_changes_nothing(
    admin_gateway: Gateway, path: str, amount: str
) -> None:
    """The amount is well formed (within its own bounds); the account's balance is what is in the way:
    409 `balance_out_of_range`, not the 400 of a bad amount."""
    account_id, _ = new_funded_account(admin_gateway, "bounded", "5")
    response = call(
        admin_gateway, "POST", f"/accounts/{account_id}/{path}", json_body={"amount_usd": amount, "reason": "r"}
    )
    assert_error(response, 409, "conflict_error", "balance_out_of_range", "amount_usd")
    assert admin_gateway.balance(account_id) == (5_000_000, 0)


def test_adjustment_cannot_take_the_balance_below_what_is_held(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account_id, key = new_funded_account(admin_gateway, "held", "10")
    upstream.script({"kind": "delay", "seconds": 1.5})
    done: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: done.setdefault("r", generate(admin_gateway, key["key"], quality="high")))
    thread.start()
    try:
        upstream.wait_for_requests(1)
        assert admin_gateway.balance(account_id) == (10_000_000, HIGH_1024)

        one_too_many = -(10_000_000 - HIGH_1024 + 1)
        response = call(
            admin_gateway,
            "POST",
            f"/accounts/{account_id}/adjustments",
            json_body={"amount_usd": usd(one_too_many), "reason": "r"},
        )
        assert_error(response, 409, "conflict_error", "balance_out_of_range")
        assert admin_gateway.balance(account_id) == (10_000_000, HIGH_1024)

        exactly = -(10_000_000 - HIGH_1024)
        adjusted = ok(
            call(
                admin_gateway,
                "POST",
                f"/accounts/{account_id}/adjustments",
                json_body={"amount_usd": usd(exactly), "reason": "r"},
            )
        )
        assert adjusted["balance_micros"] == HIGH_1024
        assert admin_gateway.balance(account_id) == (HIGH_1024, HIGH_1024)
    finally:
        thread.join(30)
    assert done["r"].status_code == 200, done["r"].text
    assert done["r"].headers["x-imagegate-cost-micros"] == str(HIGH_1024)
    assert admin_gateway.balance(account_id) == (0, 0)


# -- keys


def test_keys_create_list_revoke(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account_id, key = new_funded_account(admin_gateway, "keys", "1", models=["gpt-image-2"], rpm=30)
    assert key["key"].startswith("ig_live_")
    assert key["prefix"] == key["key"][:12]
    assert key["id"] != key["key"]
    assert (key["mode"], key["account_id"]) == ("live", account_id)
    assert key["allowed_models"] == ["gpt-image-2"]
    assert key["rpm"] == 30
    assert key["revoked_at"] is None

    with admin_gateway.http() as http:
        seen = http.get("/v1/account", headers={"Authorization": f"Bearer {key['key']}"}).json()
    assert seen["key"] == {
        "id": key["id"],
        "mode": "live",
        "allowed_models": ["gpt-image-2"],
        "rate_limit": {"rpm": 30, "ipm": None, "max_in_flight": None},
        "budget": None,
    }

    assert generate(admin_gateway, key["key"], quality="low").status_code == 200
    refused = admin_gateway.post_images(key["key"], {"model": "nano-banana-2", "prompt": "x"})
    assert_error(refused, 403, "permission_error", "model_not_allowed")

    test_key = ok(call(admin_gateway, "POST", f"/accounts/{account_id}/keys", json_body={"test": True}))
    assert test_key["key"].startswith("ig_test_")
    assert test_key["mode"] == "test"
    assert (test_key["allowed_models"], test_key["rpm"]) == (None, None)

    listed_response = call(admin_gateway, "GET", f"/accounts/{account_id}/keys")
    listed = ok(listed_response)
    assert listed["object"] == "list"
    assert {k["id"] for k in listed["data"]} == {key["id"], test_key["id"]}
    for item in listed["data"]:
        assert "key" not in item
        assert item["prefix"] in (key["prefix"], test_key["prefix"])
    for secret in (key["key"], test_key["key"]):
        assert secret not in listed_response.text
        assert secret[12:] not in listed_response.text
    by_id = {k["id"]: k for k in listed["data"]}
    assert same({k: v for k, v in key.items() if k != "key"}, by_id[key["id"]])

    revoked = ok(call(admin_gateway, "POST", f"/keys/{key['id']}/revoke"))
    assert revoked["id"] == key["id"]
    assert revoked["revoked_at"]

    response = generate(admin_gateway, key["key"], quality="low")
    assert_error(response, 403, "permission_error", "key_revoked")
    after = {k["id"]: k for k in ok(call(admin_gateway, "GET", f"/accounts/{account_id}/keys"))["data"]}
    assert after[key["id"]]["revoked_at"] is not None
    assert after[test_key["id"]]["revoked_at"] is None
    assert len(upstream.requests) == 1  # only the request before the revocation reached the upstream
    assert admin_gateway.balance(account_id) == (1_000_000 - LOW_1024, 0)


def test_key_with_an_unknown_model_or_bad_rpm_is_refused(admin_gateway: Gateway) -> None:
    account_id = ok(call(admin_gateway, "POST", "/accounts", json_body={"name": "bad-keys"}))["id"]
    error = assert_error(
        call(admin_gateway, "POST", f"/accounts/{account_id}/keys", json_body={"models": ["dall-e-9"]}),
        400,
        "invalid_request_error",
    )
    assert error["param"] == "models"
    error = assert_error(
        call(admin_gateway, "POST", f"/accounts/{account_id}/keys", json_body={"rpm": 0}), 400, "invalid_request_error"
    )
    assert error["param"] == "rpm"
    assert ok(call(admin_gateway, "GET", f"/accounts/{account_id}/keys"))["data"] == []


def test_revoking_an_unknown_key_is_404(admin_gateway: Gateway) -> None:
    assert_error(call(admin_gateway, "POST", "/keys/key_nope/revoke"), 404, "not_found_error")


# -- prices


def test_price_set_live_applies_to_the_next_generation(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account_id, key = new_funded_account(admin_gateway, "prices", "10")
    before = ok(call(admin_gateway, "GET", "/prices"))
    assert before["currency"] == "USD"
    assert before["models"]["gpt-image-2"]["high"]["1024x1024"] == HIGH_1024
    assert "preview" not in before["models"]

    first = generate(admin_gateway, key["key"], quality="high")
    assert first.headers["x-imagegate-cost-micros"] == str(HIGH_1024)
    try:
        result = ok(
            call(
                admin_gateway,
                "PUT",
                "/prices",
                json_body={"model": "gpt-image-2", "quality": "high", "size": "1024x1024", "amount_usd": "0.25"},
            )
        )
        assert result == {"model": "gpt-image-2", "quality": "high", "size": "1024x1024", "micros": 250_000}
        listed = ok(call(admin_gateway, "GET", "/prices"))
        assert listed["models"]["gpt-image-2"]["high"]["1024x1024"] == 250_000
        assert (
            listed["models"]["gpt-image-2"]["high"]["1024x1536"] == before["models"]["gpt-image-2"]["high"]["1024x1536"]
        )
        assert listed["models"]["gpt-image-2-official"] == before["models"]["gpt-image-2-official"]

        second = generate(admin_gateway, key["key"], quality="high")
        assert second.status_code == 200, second.text
        assert second.headers["x-imagegate-cost-micros"] == "250000"
        assert second.json()["billing"]["unit_price_micros"] == 250_000
        assert admin_gateway.balance(account_id) == (10_000_000 - HIGH_1024 - 250_000, 0)
    finally:
        ok(
            call(
                admin_gateway,
                "PUT",
                "/prices",
                json_body={
                    "model": "gpt-image-2",
                    "quality": "high",
                    "size": "1024x1024",
                    "amount_usd": usd(HIGH_1024),
                },
            )
        )
    assert ok(call(admin_gateway, "GET", "/prices")) == before
    third = generate(admin_gateway, key["key"], quality="high")
    assert third.headers["x-imagegate-cost-micros"] == str(HIGH_1024)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param(
            {"model": "dall-e-9", "quality": "high", "size": "1024x1024", "amount_usd": "1"},
            "model",
            id="unknown-model",
        ),
        pytest.param({"model": "preview", "size": "256x256", "amount_usd": "1"}, "model", id="free-model"),
        pytest.param(
            {"model": "gpt-image-2", "quality": "ultra", "size": "1024x1024", "amount_usd": "1"},
            "quality",
            id="bad-quality",
        ),
        pytest.param(
            {"model": "gpt-image-2", "quality": "high", "size": "999x999", "amount_usd": "1"}, "size", id="bad-size"
        ),
        pytest.param({"model": "gpt-image-2", "quality": "high", "size": "1024x1024"}, "amount_usd", id="no-amount"),
        pytest.param(
            {"model": "nano-banana-pro", "quality": "", "size": "1024x1024", "amount_usd": "1"},
            "quality",
            id="empty-quality-is-not-standard",  # it used to set the `standard` row
        ),
    ],
)
def test_bad_price_is_refused_and_changes_nothing(admin_gateway: Gateway, body: dict[str, Any], param: str) -> None:
    before = ok(call(admin_gateway, "GET", "/prices"))
    error = assert_error(call(admin_gateway, "PUT", "/prices", json_body=body), 400, "invalid_request_error")
    assert error["param"] == param
    assert ok(call(admin_gateway, "GET", "/prices")) == before


# -- usage across accounts, and the ledger


def test_usage_across_accounts(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    a_id, a_key = new_funded_account(admin_gateway, "usage-a", "1")
    b_id, b_key = new_funded_account(admin_gateway, "usage-b", "1")
    a_response = generate(admin_gateway, a_key["key"], quality="low")
    b_response = generate(admin_gateway, b_key["key"], quality="low", n=2)
    assert (a_response.status_code, b_response.status_code) == (200, 200)
    a_request = a_response.headers["x-request-id"]
    b_request = b_response.headers["x-request-id"]

    everything = ok(call(admin_gateway, "GET", "/usage"))
    by_id = {r["id"]: r for r in everything["data"]}
    assert by_id[a_request]["account_id"] == a_id
    assert by_id[b_request]["account_id"] == b_id
    assert (by_id[a_request]["delivered"], by_id[a_request]["cost_micros"]) == (1, LOW_1024)
    assert (by_id[b_request]["delivered"], by_id[b_request]["cost_micros"]) == (2, 2 * LOW_1024)
    assert everything["totals"] == {
        "requests": len(everything["data"]),
        "images": sum(r["delivered"] for r in everything["data"]),
        "cost_micros": sum(r["cost_micros"] for r in everything["data"]),
    }

    only_a = ok(call(admin_gateway, "GET", "/usage", params={"account_id": a_id}))
    assert [r["id"] for r in only_a["data"]] == [a_request]
    assert only_a["totals"] == {"requests": 1, "images": 1, "cost_micros": LOW_1024}
    only_b = ok(call(admin_gateway, "GET", "/usage", params={"account_id": b_id}))
    assert [r["id"] for r in only_b["data"]] == [b_request]
    assert only_b["totals"] == {"requests": 1, "images": 2, "cost_micros": 2 * LOW_1024}

    created = by_id[a_request]["created"]
    window = ok(
        call(admin_gateway, "GET", "/usage", params={"account_id": a_id, "start": created - 100, "end": created - 50})
    )
    assert window["data"] == []
    assert window["totals"] == {"requests": 0, "images": 0, "cost_micros": 0}
    error = assert_error(
        call(admin_gateway, "GET", "/usage", params={"start": created, "end": created}), 400, "invalid_request_error"
    )
    assert error["param"] == "start"


def test_ledger_verify(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account_id, key = new_funded_account(admin_gateway, "ledger", "2")
    assert generate(admin_gateway, key["key"], quality="low").status_code == 200
    ok(
        call(
            admin_gateway,
            "POST",
            f"/accounts/{account_id}/adjustments",
            json_body={"amount_usd": "-0.5", "reason": "r"},
        )
    )

    result = ok(call(admin_gateway, "GET", "/ledger/verify"))
    assert result["ok"] is True
    assert result["problems"] == []
    accounts = ok(call(admin_gateway, "GET", "/accounts"))["data"]
    assert result["accounts_checked"] >= len(accounts) >= 1
    assert admin_gateway.balance(account_id) == (2_000_000 - LOW_1024 - 500_000, 0)


# -- the CLI and the API are one code path


def test_an_account_created_by_the_cli_is_seen_by_the_api(admin_gateway: Gateway) -> None:
    from_cli = cli_json(admin_gateway, "accounts", "create", "x")
    listed = ok(call(admin_gateway, "GET", "/accounts"))["data"]
    assert same(one(listed, from_cli["id"]), from_cli)
    assert same(ok(call(admin_gateway, "GET", f"/accounts/{from_cli['id']}")), from_cli)


def test_an_account_created_by_the_api_is_seen_by_the_cli(admin_gateway: Gateway) -> None:
    from_api = ok(call(admin_gateway, "POST", "/accounts", json_body={"name": "y"}))
    assert same(cli_json(admin_gateway, "accounts", "show", from_api["id"]), from_api)
    listed = cli_json(admin_gateway, "accounts", "list")["data"]
    assert same(one(listed, from_api["id"]), from_api)


def test_times_are_spelled_the_same_everywhere(admin_gateway: Gateway) -> None:
    """An account's or key's times are UTC ISO 8601 with their offset, spelled alike by every action that shows them."""
    gw = admin_gateway
    account = ok(call(gw, "POST", "/accounts", json_body={"name": "times"}))
    key = ok(call(gw, "POST", f"/accounts/{account['id']}/keys", json_body={"test": True}))
    revoked = ok(call(gw, "POST", f"/keys/{key['id']}/revoke"))

    account_times = {
        "create": account["created_at"],
        "get": ok(call(gw, "GET", f"/accounts/{account['id']}"))["created_at"],
        "list": one(ok(call(gw, "GET", "/accounts"))["data"], account["id"])["created_at"],
        "disable": ok(call(gw, "POST", f"/accounts/{account['id']}/disable"))["created_at"],
        "cli show": cli_json(gw, "accounts", "show", account["id"])["created_at"],
    }
    listed_key = one(ok(call(gw, "GET", f"/accounts/{account['id']}/keys"))["data"], key["id"])
    key_times = {"create": key["created_at"], "list": listed_key["created_at"]}
    revoked_times = {"revoke": revoked["revoked_at"], "list": listed_key["revoked_at"]}
    for times in (account_times, key_times, revoked_times):
        for value in times.values():
            assert datetime.fromisoformat(value).utcoffset() is not None, times
        assert len(set(times.values())) == 1, times


def shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (lists by their first item): what must match, not the data."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def test_cli_and_api_answer_the_same_action_with_the_same_shape(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    gw = admin_gateway
    cli_account = cli_json(gw, "accounts", "create", "shape-cli")
    api_account = ok(call(gw, "POST", "/accounts", json_body={"name": "shape-api"}))
    pairs: list[tuple[str, Any, Any]] = [("accounts create", cli_account, api_account)]
    c, a = cli_account["id"], api_account["id"]

    pairs.append(
        (
            "credit add",
            cli_json(gw, "credit", "add", c, "2", "--reason", "r"),
            ok(call(gw, "POST", f"/accounts/{a}/credit", json_body={"amount_usd": "2", "reason": "r"})),
        )
    )
    pairs.append(
        (
            "credit adjust",
            json.loads(gw.cli("credit", "adjust", "--reason", "r", "--json", c, "--", "-0.5")),
            ok(call(gw, "POST", f"/accounts/{a}/adjustments", json_body={"amount_usd": "-0.5", "reason": "r"})),
        )
    )
    cli_key = cli_json(gw, "keys", "create", c, "--models", "gpt-image-2", "--rpm", "10")
    api_key = ok(call(gw, "POST", f"/accounts/{a}/keys", json_body={"models": ["gpt-image-2"], "rpm": 10}))
    pairs.append(("keys create", cli_key, api_key))
    pairs.append(("keys list", cli_json(gw, "keys", "list", c), ok(call(gw, "GET", f"/accounts/{a}/keys"))))
    pairs.append(("accounts show", cli_json(gw, "accounts", "show", c), ok(call(gw, "GET", f"/accounts/{a}"))))
    pairs.append(("accounts list", cli_json(gw, "accounts", "list"), ok(call(gw, "GET", "/accounts"))))

    assert generate(gw, cli_key["key"], quality="low").status_code == 200
    assert generate(gw, api_key["key"], quality="low").status_code == 200
    pairs.append(
        ("usage", cli_json(gw, "usage", "--account", c), ok(call(gw, "GET", "/usage", params={"account_id": a})))
    )
    pairs.append(("prices list", cli_json(gw, "prices", "list"), ok(call(gw, "GET", "/prices"))))
    low = usd(LOW_1024)
    pairs.append(
        (
            "prices set",
            cli_json(gw, "prices", "set", "gpt-image-2", "--quality", "low", "--size", "1024x1024", "--usd", low),
            ok(
                call(
                    gw,
                    "PUT",
                    "/prices",
                    json_body={"model": "gpt-image-2", "quality": "low", "size": "1024x1024", "amount_usd": low},
                )
            ),
        )
    )
    pairs.append(("ledger verify", cli_json(gw, "ledger", "verify"), ok(call(gw, "GET", "/ledger/verify"))))
    pairs.append(
        (
            "keys revoke",
            cli_json(gw, "keys", "revoke", cli_key["id"]),
            ok(call(gw, "POST", f"/keys/{api_key['id']}/revoke")),
        )
    )
    pairs.append(
        ("accounts disable", cli_json(gw, "accounts", "disable", c), ok(call(gw, "POST", f"/accounts/{a}/disable")))
    )
    pairs.append(
        ("accounts enable", cli_json(gw, "accounts", "enable", c), ok(call(gw, "POST", f"/accounts/{a}/enable")))
    )

    for action, from_cli, from_api in pairs:
        assert shape(from_cli) == shape(from_api), action

    # the same values, too, where the action is the same
    assert cli_key["allowed_models"] == api_key["allowed_models"] == ["gpt-image-2"]
    assert cli_key["rpm"] == api_key["rpm"] == 10
    assert pairs[1][1]["balance_micros"] == pairs[1][2]["balance_micros"] == 2_000_000
    assert pairs[2][1]["balance_micros"] == pairs[2][2]["balance_micros"] == 1_500_000
    usage_cli, usage_api = next((c_, a_) for name, c_, a_ in pairs if name == "usage")
    assert usage_cli["totals"] == usage_api["totals"] == {"requests": 1, "images": 1, "cost_micros": LOW_1024}


def test_cli_negative_adjustment_as_the_readme_writes_it(admin_gateway: Gateway) -> None:
    """README: `imagegate credit adjust ACCOUNT_ID AMOUNT_USD --reason TEXT` — "a correction, may be negative"."""
    account_id = ok(call(admin_gateway, "POST", "/accounts", json_body={"name": "cli-negative"}))["id"]
    ok(
        call(
            admin_gateway, "POST", f"/accounts/{account_id}/credit", json_body={"amount_usd": "2", "reason": "funding"}
        )
    )

    from_cli = cli_json(admin_gateway, "credit", "adjust", account_id, "-0.5", "--reason", "goodwill reversed")
    from_api = ok(
        call(
            admin_gateway,
            "POST",
            f"/accounts/{account_id}/adjustments",
            json_body={"amount_usd": "-0.5", "reason": "again"},
        )
    )
    assert from_cli["balance_micros"] == 1_500_000
    assert from_api["balance_micros"] == 1_000_000
    assert shape(from_cli) == shape(from_api)
    assert admin_gateway.balance(account_id) == (1_000_000, 0)
