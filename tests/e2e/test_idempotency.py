"""Idempotency-Key exactly as the contract says, on one node and across two."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account, Gateway, start_gateway
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

BODY = {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "quality": "low"}


def post(gateway: Gateway, account: Account, body: object, key: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return gateway.post_images(account.key, body, headers=headers)


def test_replay_returns_the_same_images_and_bills_once(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    first = post(gateway, account, BODY, "order-1")
    again = post(gateway, account, dict(reversed(list(BODY.items()))), "order-1")  # same body, other key order

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(upstream.requests) == 1
    assert gateway.balance(account.id) == (10_000_000 - 6_000, 0)
    assert httpx.get(again.json()["data"][0]["url"]).status_code == 200


def test_a_client_that_leaves_mid_upstream_pays_once_and_gets_the_answer_by_replay(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    """The rule (docs/reliability.md): a non-stream request whose client hangs up runs to its end, billed
    and stored as if it had stayed (the upstream was paid; the images exist). Its Idempotency-Key hands
    the same answer back, never a second charge; its URL images are also in the account's activity."""
    upstream.script({"kind": "delay", "seconds": 1.0})  # under the fixture's 1.5 s upstream timeout
    body = json.dumps(BODY).encode()
    head = (
        f"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {account.key}\r\n"
        f"Idempotency-Key: left-1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
        client.sendall(head + body)
        upstream.wait_for_requests(1)  # the client leaves while the upstream works
    deadline = time.monotonic() + 15
    while gateway.balance(account.id)[1] and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the database until the request has settled, bounded
    assert gateway.balance(account.id) == (10_000_000 - 6_000, 0)  # billed once, as if it had stayed

    again = post(gateway, account, BODY, "left-1")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    url = again.json()["data"][0]["url"]
    assert httpx.get(url).status_code == 200
    assert len(upstream.requests) == 1 and gateway.balance(account.id) == (10_000_000 - 6_000, 0)
    with gateway.http() as http:
        activity = http.get("/v1/account/activity", headers={"Authorization": f"Bearer {account.key}"}).json()
    assert [image["url"].split("?")[0] for image in activity["images"]] == [url.split("?")[0]]


def test_sdk_sends_the_key_as_a_header(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    client = gateway.client(account.key)
    first = client.images.generate(**BODY, extra_headers={"Idempotency-Key": "sdk-1"})
    second = client.images.generate(**BODY, extra_headers={"Idempotency-Key": "sdk-1"})
    assert first.data[0].url == second.data[0].url
    assert len(upstream.requests) == 1


def test_same_key_with_another_body_is_refused(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    assert post(gateway, account, BODY, "order-2").status_code == 200
    reused = post(gateway, account, {**BODY, "prompt": "something else"}, "order-2")
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert reused.json()["error"]["param"] == "Idempotency-Key"
    assert len(upstream.requests) == 1
    assert gateway.balance(account.id) == (10_000_000 - 6_000, 0)


def test_concurrent_duplicate_gets_409(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    upstream.script({"kind": "delay", "seconds": 1.0})  # under the fixture's 1.5 s upstream timeout
    results: dict[str, httpx.Response] = {}
    first = threading.Thread(target=lambda: results.setdefault("first", post(gateway, account, BODY, "order-3")))
    first.start()
    upstream.wait_for_requests(1)
    duplicate = post(gateway, account, BODY, "order-3")
    first.join(30)

    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == {
        "message": duplicate.json()["error"]["message"],
        "type": "conflict_error",
        "param": None,
        "code": "idempotency_in_progress",
    }
    assert results["first"].status_code == 200
    assert len(upstream.requests) == 1
    assert gateway.balance(account.id) == (10_000_000 - 6_000, 0)


def test_a_failed_request_can_be_retried_with_the_same_key(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "server_error", "times": 3})
    assert post(gateway, account, BODY, "order-4").status_code == 502
    retry = post(gateway, account, BODY, "order-4")
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers
    assert gateway.balance(account.id) == (10_000_000 - 6_000, 0)


def test_bad_idempotency_keys_are_refused(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    for bad in ["x" * 256, "caf\u00e9"]:
        response = gateway.post_images(account.key, BODY, headers={"Idempotency-Key": bad.encode("utf-8")})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "Idempotency-Key"
    assert upstream.requests == []


def test_replay_works_across_nodes(tmp_path: Path, upstream: FakeOpenAI, postgres_url: str) -> None:
    shared = {"IMAGEGATE_DATABASE_URL": postgres_url}
    node_a = start_gateway(tmp_path / "data", upstream, shared)
    node_b = start_gateway(tmp_path / "data", upstream, shared)
    try:
        account = node_a.new_account("1")
        first = post(node_a, account, BODY, "cross-node")
        second = post(node_b, account, BODY, "cross-node")
        assert second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true"
        assert len(upstream.requests) == 1
        assert node_a.balance(account.id) == (1_000_000 - 6_000, 0)
    finally:
        node_a.process.stop()
        node_b.process.stop()
