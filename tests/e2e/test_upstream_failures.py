"""What a client hears when the upstream misbehaves, how often the gateway tried, and that nothing is charged.

The fake OpenAI upstream is scripted per test; the gateway runs with IMAGEGATE_RETRY_ATTEMPTS=3, a 1.5 s
upstream timeout and near-zero backoff (tests/conftest.py), so every count below is exact.
"""

from __future__ import annotations

import base64
import io
import itertools
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import Account, Gateway
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

FUNDED = (10_000_000, 0)  # the `account` fixture's (balance_micros, held_micros)
ATTEMPTS = 3  # IMAGEGATE_RETRY_ATTEMPTS in the fixture
UPSTREAM_TIMEOUT = 1.5  # IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS in the fixture
MEDIUM_1024 = 53_000  # gpt-image-2, medium, 1024x1024: the price of VALID
VALID = {"model": "gpt-image-2", "prompt": "a lighthouse at dusk, waves breaking on the rocks"}


def assert_attempts(upstream: FakeOpenAI, count: int) -> None:
    """The upstream saw exactly `count` generation requests, all the same request (a retry changes nothing)."""
    seen = upstream.requests
    assert len(seen) == count, [r.path for r in seen]
    assert all(r.method == "POST" and r.path == "/v1/images/generations" for r in seen)
    assert all(r.json == seen[0].json for r in seen)


def assert_billed_once(gateway: Gateway, account: Account, response: httpx.Response, images: int = 1) -> None:
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == images
    assert response.json()["billing"]["amount_micros"] == images * MEDIUM_1024
    assert response.headers["x-imagegate-cost-micros"] == str(images * MEDIUM_1024)
    assert gateway.balance(account.id) == (FUNDED[0] - images * MEDIUM_1024, 0)


def image_of(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


# -- failures the gateway retries: persistent ones end in 502 / 504, a single one is absorbed

RETRIED = [
    pytest.param({"kind": "server_error"}, 502, "upstream_failed", id="500"),
    pytest.param({"kind": "status", "status": 503}, 502, "upstream_failed", id="503"),
    pytest.param({"kind": "rate_limit"}, 502, "upstream_failed", id="429"),
    pytest.param({"kind": "drop"}, 502, "upstream_failed", id="drop"),
    pytest.param({"kind": "drop", "rst": True}, 502, "upstream_failed", id="drop-rst"),
    pytest.param({"kind": "drop", "partial_bytes": 40}, 502, "upstream_failed", id="drop-mid-response"),
    pytest.param({"kind": "malformed_json"}, 502, "upstream_failed", id="malformed_json"),
    pytest.param({"kind": "bad_b64"}, 502, "upstream_failed", id="bad_b64"),
    pytest.param({"kind": "truncated_image"}, 502, "upstream_failed", id="truncated_image"),
    pytest.param({"kind": "wrong_size"}, 502, "upstream_failed", id="wrong_size"),
]
HANG = pytest.param({"kind": "hang"}, 504, "upstream_timeout", id="hang")  # persistent: its own test below


@pytest.mark.parametrize(("behaviour", "status", "code"), RETRIED)
def test_persistent_failure_is_retried_then_refused_and_not_charged(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, behaviour: dict[str, Any], status: int, code: str
) -> None:
    upstream.script({**behaviour, "times": ATTEMPTS})

    response = gateway.post_images(account.key, VALID)

    error = assert_error(response, status, "upstream_error", code)
    assert "sk-" not in error["message"]
    assert_attempts(upstream, ATTEMPTS)
    assert gateway.balance(account.id) == FUNDED


@pytest.mark.parametrize(("behaviour", "status", "code"), [*RETRIED, HANG])
def test_one_failure_is_retried_and_billed_once(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, behaviour: dict[str, Any], status: int, code: str
) -> None:
    upstream.script(behaviour)

    response = gateway.post_images(account.key, {**VALID, "response_format": "b64_json"})

    assert_billed_once(gateway, account, response)
    assert_attempts(upstream, 2)
    image = image_of(response.json()["data"][0]["b64_json"])
    assert (image.format, image.size) == ("PNG", (1024, 1024))  # the good second answer, not the bad first


def test_persistent_hang_is_cut_at_each_timeout_then_504(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "hang", "times": ATTEMPTS})

    response = gateway.post_images(account.key, VALID)

    assert_error(response, 504, "upstream_error", "upstream_timeout")
    assert_attempts(upstream, ATTEMPTS)
    times = [r.time for r in upstream.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(UPSTREAM_TIMEOUT - 0.1 <= gap < UPSTREAM_TIMEOUT + 2 for gap in gaps), gaps
    assert gateway.balance(account.id) == FUNDED


def test_retry_after_is_honoured(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    upstream.script({"kind": "rate_limit", "retry_after": 1})

    response = gateway.post_images(account.key, VALID)

    assert_billed_once(gateway, account, response)
    first, second = upstream.requests
    assert second.time - first.time >= 0.9


def test_retry_after_on_every_attempt_still_ends_in_502(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "rate_limit", "retry_after": 1, "times": ATTEMPTS})

    response = gateway.post_images(account.key, VALID)

    assert_error(response, 502, "upstream_error", "upstream_failed")
    times = [r.time for r in upstream.requests]
    assert len(times) == ATTEMPTS
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(times))
    assert gateway.balance(account.id) == FUNDED


def test_the_upstreams_429_is_never_the_clients_429(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    """A client seeing 429 would back off its own rate; the upstream's limit is the gateway's problem."""
    upstream.script({"kind": "rate_limit", "times": ATTEMPTS})
    response = gateway.post_images(account.key, VALID)
    assert response.status_code == 502
    assert "retry-after" not in response.headers


def test_sdk_sees_a_502_as_a_server_error(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    upstream.script({"kind": "server_error", "times": ATTEMPTS})
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client(account.key).images.generate(**VALID)
    assert (caught.value.status_code, caught.value.type, caught.value.code) == (
        502,
        "upstream_error",
        "upstream_failed",
    )
    assert gateway.balance(account.id) == FUNDED


# -- an image in the wrong format at the right size is re-encoded, not refused


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("webp", "WEBP"), ("jpeg", "JPEG")])
def test_wrong_format_at_the_right_size_is_re_encoded(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, fmt: str, pil_format: str
) -> None:
    upstream.script({"kind": "wrong_format", "times": ATTEMPTS})

    response = gateway.post_images(account.key, {**VALID, "output_format": fmt, "response_format": "b64_json"})

    assert_billed_once(gateway, account, response)
    assert_attempts(upstream, 1)
    assert upstream.requests[0].json["output_format"] == fmt
    image = image_of(response.json()["data"][0]["b64_json"])
    assert (image.format, image.size) == (pil_format, (1024, 1024))


# -- safety refusals: 451, never retried, never charged


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [
        pytest.param({"kind": "moderation_blocked"}, "prompt_blocked", id="moderation-input-default"),
        pytest.param({"kind": "moderation_blocked", "stage": "input"}, "prompt_blocked", id="moderation-input"),
        pytest.param({"kind": "moderation_blocked", "stage": "output"}, "output_blocked", id="moderation-output"),
        pytest.param({"kind": "content_policy"}, "prompt_blocked", id="content_policy"),
    ],
)
def test_upstream_safety_refusal_is_451_and_not_retried(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, behaviour: dict[str, Any], code: str
) -> None:
    upstream.script({**behaviour, "times": ATTEMPTS})

    response = gateway.post_images(account.key, VALID)

    assert_error(response, 451, "content_policy_error", code)
    assert response.headers["x-imagegate-block-stage"] == "upstream"
    assert_attempts(upstream, 1)
    assert gateway.balance(account.id) == FUNDED


def test_sdk_sees_a_451_as_a_status_error(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    upstream.script({"kind": "moderation_blocked"})
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client(account.key).images.generate(**VALID)
    assert (caught.value.status_code, caught.value.code) == (451, "prompt_blocked")
    assert caught.value.response.headers["x-imagegate-block-stage"] == "upstream"


# -- the upstream refuses the gateway itself: an operator problem, 502 at once, never passed through


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param({"kind": "invalid_key"}, id="invalid_key-401"),
        pytest.param({"kind": "insufficient_quota"}, id="insufficient_quota-429"),
        pytest.param({"kind": "bad_param"}, id="bad_param-400"),
        pytest.param({"kind": "billing_limit"}, id="billing_limit-400"),
        pytest.param({"kind": "model_not_found"}, id="model_not_found-404"),
    ],
)
def test_upstream_rejecting_the_gateway_is_502_without_retries(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, behaviour: dict[str, Any]
) -> None:
    upstream.script({**behaviour, "times": ATTEMPTS})

    response = gateway.post_images(account.key, VALID)

    error = assert_error(response, 502, "upstream_error", "upstream_failed")
    assert error["param"] is None  # the upstream's param is about the gateway's request, not the client's
    assert "sk-" not in response.text  # the upstream's key (masked or not) never reaches the client
    assert_attempts(upstream, 1)
    assert gateway.balance(account.id) == FUNDED


# -- partial delivery: only delivered images are billed


def test_fewer_images_than_asked_are_billed_as_delivered(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "fewer_images"})

    response = gateway.post_images(account.key, {**VALID, "n": 2})

    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 1
    assert response.json()["billing"] == {
        "images": 1,
        "images_requested": 2,
        "amount_micros": MEDIUM_1024,
        "currency": "USD",
        "unit_price_micros": MEDIUM_1024,
    }
    assert response.headers["x-imagegate-cost-micros"] == str(MEDIUM_1024)
    assert_attempts(upstream, 1)
    assert gateway.balance(account.id) == (FUNDED[0] - MEDIUM_1024, 0)
