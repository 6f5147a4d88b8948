"""Tenancy: a key sees and spends only its own account. Every account-scoped endpoint is tried with
another account's key and ids; per-key model allowlists and disabled accounts are refused before
anything is held or sent upstream; the admin API does not take client keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account, Gateway, serve_in_process
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

FUNDED = 10_000_000  # new_account("10")
LOW_1024 = 6_000  # gpt-image-2, low, 1024x1024
BODY = {"model": "gpt-image-2", "prompt": "a red kite over a green hill", "quality": "low"}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def get(gateway: Gateway, path: str, key: str, **params: Any) -> httpx.Response:
    with gateway.http() as http:
        return http.get(path, headers=auth(key), params=params)


@pytest.fixture
def a(gateway: Gateway) -> Account:
    return gateway.new_account("10")


@pytest.fixture
def b(gateway: Gateway) -> Account:
    return gateway.new_account("10")


def test_account_endpoint_shows_only_the_keys_own_account(
    gateway: Gateway, upstream: FakeOpenAI, a: Account, b: Account
) -> None:
    assert gateway.post_images(a.key, BODY).status_code == 200  # A's balance now differs from B's

    for params in ({}, {"account_id": a.id}, {"account": a.id}, {"key_id": a.key_id}):
        body = get(gateway, "/v1/account", b.key, **params).json()
        assert body["account_id"] == b.id, params
        assert (body["balance_micros"], body["held_micros"]) == (FUNDED, 0), params
        assert body["key"]["id"] == b.key_id, params
        assert a.id not in str(body) and a.key_id not in str(body)

    assert get(gateway, "/v1/account", a.key).json()["balance_micros"] == FUNDED - LOW_1024


def test_usage_shows_only_the_keys_own_records(gateway: Gateway, upstream: FakeOpenAI, a: Account, b: Account) -> None:
    a_requests = {gateway.post_images(a.key, BODY).headers["x-request-id"] for _ in range(2)}
    a_requests.add(gateway.post_images(a.key, {**BODY, "n": 9}).headers["x-request-id"])  # a refusal has a record too
    b_request = gateway.post_images(b.key, BODY).headers["x-request-id"]

    for params in ({}, {"account_id": a.id}, {"account": a.id}):
        usage = get(gateway, "/v1/usage", b.key, **params)
        assert usage.status_code == 200, usage.text
        body = usage.json()
        assert body.get("account_id", b.id) == b.id
        assert [r["id"] for r in body["data"]] == [b_request], params
        assert all(r.get("account_id", b.id) == b.id for r in body["data"])
        assert body["totals"] == {"requests": 1, "images": 1, "cost_micros": LOW_1024}, params
        assert not any(request_id in usage.text for request_id in a_requests)
        assert a.id not in usage.text and a.key_id not in usage.text

    mine = get(gateway, "/v1/usage", a.key).json()
    assert {r["id"] for r in mine["data"]} == a_requests
    assert b_request not in str(mine)


def test_idempotency_keys_belong_to_one_account(gateway: Gateway, upstream: FakeOpenAI, a: Account, b: Account) -> None:
    body = {**BODY, "n": 2}
    headers = {"Idempotency-Key": "same-key"}

    first = gateway.post_images(a.key, body, headers=headers)
    assert first.status_code == 200, first.text
    a_urls = [item["url"] for item in first.json()["data"]]

    other = gateway.post_images(b.key, body, headers=headers)
    assert other.status_code == 200, other.text
    assert "idempotent-replayed" not in other.headers
    b_urls = [item["url"] for item in other.json()["data"]]
    assert len(b_urls) == 2
    assert not set(b_urls) & set(a_urls)  # B's own images, not A's
    assert other.json()["billing"]["amount_micros"] == 2 * LOW_1024
    assert other.headers["x-imagegate-cost-micros"] == str(2 * LOW_1024)
    assert len(upstream.requests) == 2  # a new generation, not a replay

    assert gateway.balance(a.id) == (FUNDED - 2 * LOW_1024, 0)
    assert gateway.balance(b.id) == (FUNDED - 2 * LOW_1024, 0)

    # each account's key still replays its own first answer, billed once
    replay_a = gateway.post_images(a.key, body, headers=headers)
    replay_b = gateway.post_images(b.key, body, headers=headers)
    assert [item["url"] for item in replay_a.json()["data"]] == a_urls
    assert [item["url"] for item in replay_b.json()["data"]] == b_urls
    assert len(upstream.requests) == 2
    assert gateway.balance(a.id) == (FUNDED - 2 * LOW_1024, 0)
    assert gateway.balance(b.id) == (FUNDED - 2 * LOW_1024, 0)

    # B's usage shows its own generation, routed upstream, not a replay of A's
    b_usage = get(gateway, "/v1/usage", b.key).json()
    first_b = next(r for r in b_usage["data"] if r["id"] == other.headers["x-request-id"])
    assert (first_b["route"], first_b["delivered"], first_b["cost_micros"]) == ("openai", 2, 2 * LOW_1024)
    assert first.headers["x-request-id"] not in str(b_usage)


def test_a_different_body_under_anothers_idempotency_key_is_not_a_conflict(
    gateway: Gateway, upstream: FakeOpenAI, a: Account, b: Account
) -> None:
    headers = {"Idempotency-Key": "shared-key-2"}
    assert gateway.post_images(a.key, BODY, headers=headers).status_code == 200
    response = gateway.post_images(b.key, {**BODY, "prompt": "something else"}, headers=headers)
    assert response.status_code == 200, response.text  # not 400 idempotency_key_reused: the key is A's, not B's
    assert gateway.balance(b.id) == (FUNDED - LOW_1024, 0)


def test_model_allowlist_refuses_other_models_and_holds_nothing(gateway: Gateway, upstream: FakeOpenAI) -> None:
    restricted = gateway.new_account("10", models=["preview"])
    response = gateway.post_images(restricted.key, {**BODY, "quality": "high"})
    error = assert_error(response, 403, "permission_error", "model_not_allowed")
    assert error["param"] == "model"
    assert upstream.requests == []
    assert gateway.balance(restricted.id) == (FUNDED, 0)

    # an alias of a model outside the list is refused too; a listed model is served
    alias = gateway.post_images(restricted.key, {**BODY, "model": "gpt-image-2-2026-04-21"})
    assert_error(alias, 403, "permission_error", "model_not_allowed")
    assert (
        gateway.post_images(restricted.key, {"model": "preview", "prompt": "x", "size": "256x256"}).status_code == 200
    )
    assert upstream.requests == []
    assert gateway.balance(restricted.id) == (FUNDED, 0)


def test_disabled_account_is_refused_everywhere(gateway: Gateway, upstream: FakeOpenAI, a: Account, b: Account) -> None:
    gateway.admin(lambda admin: admin.accounts.set_disabled(a.id, True))
    try:
        response = gateway.post_images(a.key, BODY)
        assert_error(response, 403, "permission_error", "account_disabled")
        with gateway.http() as http:
            quote = http.post("/v1/images/quote", json=BODY, headers=auth(a.key))
        assert_error(quote, 403, "permission_error", "account_disabled")
        assert_error(get(gateway, "/v1/account", a.key), 403, "permission_error", "account_disabled")
        assert_error(get(gateway, "/v1/usage", a.key), 403, "permission_error", "account_disabled")
        assert upstream.requests == []
        assert gateway.balance(a.id) == (FUNDED, 0)

        # another account is untouched
        assert gateway.post_images(b.key, BODY).status_code == 200
    finally:
        gateway.admin(lambda admin: admin.accounts.set_disabled(a.id, False))
    assert gateway.post_images(a.key, BODY).status_code == 200


@pytest.fixture(scope="module")
def admin_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, database_url: str | None
) -> Iterator[Gateway]:
    yield from serve_in_process(
        tmp_path_factory, "tenancy-admin", fake_openai, database_url, {"IMAGEGATE_ADMIN_TOKEN": "adm-secret"}
    )


def test_client_keys_cannot_use_the_admin_api(admin_gateway: Gateway, upstream: FakeOpenAI) -> None:
    gw = admin_gateway
    a = gw.new_account("10")
    b = gw.new_account("10")
    attempts = [
        ("GET", "/admin/v1/accounts", None),
        ("GET", f"/admin/v1/accounts/{a.id}", None),
        ("GET", f"/admin/v1/accounts/{a.id}/keys", None),
        ("POST", f"/admin/v1/accounts/{a.id}/disable", None),
        ("POST", f"/admin/v1/accounts/{b.id}/credit", {"amount_usd": "100", "reason": "free money"}),
        ("POST", f"/admin/v1/accounts/{a.id}/adjustments", {"amount_usd": "-10", "reason": "sabotage"}),
        ("POST", f"/admin/v1/accounts/{a.id}/keys", {}),
        ("POST", f"/admin/v1/keys/{a.key_id}/revoke", None),
        ("GET", "/admin/v1/usage", None),
        ("GET", "/admin/v1/usage?account_id=" + a.id, None),
        ("PUT", "/admin/v1/prices", {"model": "gpt-image-2", "quality": "low", "size": "1024x1024", "amount_usd": "0"}),
        ("GET", "/admin/v1/ledger/verify", None),
    ]
    with gw.http() as http:
        for key in (b.key, a.key):
            for method, path, body in attempts:
                response = http.request(method, path, headers=auth(key), json=body)
                assert response.status_code == 401, (method, path, response.text)
                assert response.json()["error"]["type"] == "authentication_error"

    # nothing happened to either account: A's key still works, balances are as funded
    assert gw.balance(a.id) == (FUNDED, 0)
    assert gw.balance(b.id) == (FUNDED, 0)
    response = gw.post_images(a.key, BODY)
    assert response.status_code == 200, response.text
    assert response.headers["x-imagegate-cost-micros"] == str(LOW_1024)
