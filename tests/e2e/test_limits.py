"""Per-key rate limits, the per-account in-flight cap and the request-size limit, in process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Account, Gateway
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

CAT = {"model": "gpt-image-2", "prompt": "a cat"}


def key_for(
    gateway: Gateway, account_id: str, *, test: bool = True, rpm: int | None = None, ipm: int | None = None
) -> str:
    key = gateway.admin(lambda admin: admin.keys.create(account_id, test=test, models=None, rpm=rpm, ipm=ipm))
    return key["key"]  # type: ignore[no-any-return]


def test_requests_per_minute_then_429_with_headers_and_a_usage_record(gateway: Gateway, test_account: Account) -> None:
    key = key_for(gateway, test_account.id, rpm=3)
    served = [gateway.post_images(key, CAT) for _ in range(3)]
    refused = gateway.post_images(key, CAT)

    assert [r.status_code for r in served] == [200, 200, 200]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in served] == ["2", "1", "0"]
    assert all(r.headers["x-ratelimit-limit-requests"] == "3" for r in served)
    assert served[0].headers["x-ratelimit-reset-requests"] == "20s"
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    usage = gateway.usage_row(refused.headers["x-request-id"])
    assert usage is not None and (usage["status"], usage["error_code"]) == (429, "rate_limit_exceeded")


def test_images_per_minute_count_n(gateway: Gateway, test_account: Account) -> None:
    key = key_for(gateway, test_account.id, ipm=4)
    three = gateway.post_images(key, {**CAT, "n": 3})
    two = gateway.post_images(key, {**CAT, "n": 2})
    one = gateway.post_images(key, {**CAT, "n": 1})
    more = gateway.post_images(key, {**CAT, "n": 1})
    never = gateway.post_images(key, {**CAT, "n": 5})

    assert three.status_code == 200 and three.headers["x-ratelimit-remaining-images"] == "1"
    assert "x-ratelimit-limit-requests" not in three.headers  # no request limit on this key
    assert two.status_code == 429 and "images per minute" in two.json()["error"]["message"]
    assert one.status_code == 200 and one.headers["x-ratelimit-remaining-images"] == "0"
    assert more.status_code == 429 and more.headers["x-ratelimit-limit-images"] == "4"
    assert never.status_code == 400 and never.json()["error"]["param"] == "n"  # could never be served


def test_a_refusal_by_one_bucket_takes_nothing_from_the_other(gateway: Gateway, test_account: Account) -> None:
    key = key_for(gateway, test_account.id, rpm=10, ipm=2)
    assert gateway.post_images(key, {**CAT, "n": 2}).headers["x-ratelimit-remaining-requests"] == "9"
    refused = gateway.post_images(key, CAT)
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-remaining-requests"] == "9"


def test_account_defaults_apply_to_keys_without_their_own(gateway: Gateway) -> None:
    account = gateway.new_account("0", test=True)
    gateway.admin(lambda admin: admin.accounts.set_limits(account.id, rpm=2, ipm=None, max_in_flight=None))
    own = key_for(gateway, account.id, rpm=5)
    default_codes = [gateway.post_images(account.key, CAT).status_code for _ in range(3)]
    own_codes = [gateway.post_images(own, CAT).status_code for _ in range(5)]
    other = gateway.new_account("0", test=True)  # another account: no limits at all

    assert default_codes == [200, 200, 429]
    assert own_codes == [200] * 5
    assert "x-ratelimit-limit-requests" not in gateway.post_images(other.key, CAT).headers
    with gateway.http() as http:
        body = http.get("/v1/account", headers={"Authorization": f"Bearer {account.key}"}).json()
    assert body["key"]["rate_limit"] == {"rpm": 2, "ipm": None, "max_in_flight": None}


def test_requests_in_flight_per_account(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    gateway.admin(lambda admin: admin.accounts.set_limits(account.id, rpm=None, ipm=None, max_in_flight=1))
    upstream.script({"kind": "delay", "seconds": 1.0})  # under the 1.5 s attempt timeout
    first: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: first.setdefault("r", gateway.post_images(account.key, CAT)))
    thread.start()
    try:
        upstream.wait_for_requests(1)
        crowded = gateway.post_images(account.key, CAT)
    finally:
        thread.join(30)
    after = gateway.post_images(account.key, CAT)

    assert crowded.status_code == 429
    assert crowded.json()["error"]["code"] == "rate_limit_exceeded"
    assert "in flight" in crowded.json()["error"]["message"]
    assert crowded.headers["retry-after"] == "1"
    assert first["r"].status_code == 200
    assert after.status_code == 200
    assert len(upstream.requests) == 2
    assert gateway.balance(account.id) == (10_000_000 - 2 * 53_000, 0)


def test_in_flight_slot_is_freed_by_failures_too(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    gateway.admin(lambda admin: admin.accounts.set_limits(account.id, rpm=None, ipm=None, max_in_flight=1))
    upstream.script({"kind": "moderation_blocked"})
    assert gateway.post_images(account.key, CAT).status_code == 451
    assert gateway.post_images(account.key, CAT).status_code == 200


def test_cli_sets_key_and_account_limits(gateway: Gateway) -> None:
    account = gateway.new_account("0", test=True)
    key = json.loads(gateway.cli("keys", "create", account.id, "--test", "--rpm", "7", "--ipm", "9", "--json"))
    assert (key["rpm"], key["ipm"]) == (7, 9)
    limits = json.loads(gateway.cli("accounts", "limits", account.id, "--rpm", "1", "--max-in-flight", "2", "--json"))
    assert (limits["rpm"], limits["ipm"], limits["max_in_flight"]) == (1, None, 2)
    served = gateway.post_images(key["key"], CAT)
    assert served.headers["x-ratelimit-limit-requests"] == "7"  # the key's own limit wins
    assert served.headers["x-ratelimit-limit-images"] == "9"


def test_body_over_the_limit_is_413(gateway: Gateway, account: Account) -> None:
    body = json.dumps({**CAT, "prompt": "a" * 1_100_000})
    response = gateway.post_images(account.key, body)
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_too_large")
    assert response.headers["x-request-id"].startswith("req_")
    assert gateway.balance(account.id) == (10_000_000, 0)


def test_chunked_body_over_the_limit_is_413(gateway: Gateway, account: Account) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "gpt-image-2", "prompt": "'
        for _ in range(20):  # 1.25 MiB, no content-length
            yield b"a" * 65_536
        yield b'"}'

    with gateway.http() as http:
        response = http.post(
            "/v1/images/generations", content=chunks(), headers={"Authorization": f"Bearer {account.key}"}
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_prompt_over_the_models_limit_is_400(gateway: Gateway, account: Account) -> None:
    response = gateway.post_images(account.key, {**CAT, "prompt": "a" * 32_001})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt"
