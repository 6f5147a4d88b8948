"""Every upstream fault kind, on every provider, ends in the contract's status and costs nothing.

Retryable faults (5xx, 429, dropped connections, hangs, malformed JSON, bad base64, truncated or
wrong-size images, a Gemini 200 without an image) are tried three times (the test gateway's
retry budget) and then answered 502 (504 for timeouts). Rejections of the gateway's own key or
parameters are not retried and are 502, with an ERROR log line naming the route. Safety refusals
are 451 at once, never retried. A single fault followed by success is invisible to the client
except in latency, and billed exactly once.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Account, Gateway

RETRIES = 3
MODEL_OF = {
    "gemini": "nano-banana-2",
    "seedream": "seedream-4.5",
    "azure": "gpt-image-2-official",
    "openai": "gpt-image-2",
}
PRICE_OF = {"gemini": 67_000, "seedream": 40_000, "azure": 53_000, "openai": 53_000}
SIZE_OF = {"seedream": "2048x2048"}

RETRIED_THEN_502 = [
    ("gemini", {"kind": "server_error"}),
    ("gemini", {"kind": "unavailable"}),
    ("gemini", {"kind": "rate_limit", "retry_delay": "0s"}),
    ("gemini", {"kind": "drop"}),
    ("gemini", {"kind": "malformed_json"}),
    ("gemini", {"kind": "bad_b64"}),
    ("gemini", {"kind": "truncated_image"}),
    ("gemini", {"kind": "wrong_size"}),
    ("gemini", {"kind": "text_only"}),
    ("gemini", {"kind": "no_image"}),
    ("gemini", {"kind": "status", "status": 502, "body": "<html>bad gateway</html>"}),
    ("seedream", {"kind": "server_error"}),
    ("seedream", {"kind": "rate_limit", "retry_after": 0}),
    ("seedream", {"kind": "drop", "rst": True}),
    ("seedream", {"kind": "malformed_json"}),
    ("seedream", {"kind": "bad_b64"}),
    ("seedream", {"kind": "truncated_image"}),
    ("seedream", {"kind": "wrong_size"}),
    ("seedream", {"kind": "item_errors", "items": ["InternalServiceError"]}),
    ("azure", {"kind": "server_error"}),
    ("azure", {"kind": "rate_limit", "retry_after": 0}),
    ("azure", {"kind": "drop"}),
    ("azure", {"kind": "malformed_json"}),
    ("azure", {"kind": "bad_b64"}),
    ("azure", {"kind": "truncated_image"}),
    ("azure", {"kind": "wrong_size"}),
    ("openai", {"kind": "server_error"}),
    ("openai", {"kind": "rate_limit", "retry_after": 0}),
    ("openai", {"kind": "drop"}),
    ("openai", {"kind": "malformed_json"}),
    ("openai", {"kind": "bad_b64"}),
    ("openai", {"kind": "truncated_image"}),
    ("openai", {"kind": "wrong_size"}),
]

NOT_RETRIED = [  # (provider, behaviour, status, code)
    ("gemini", {"kind": "invalid_key"}, 502, "upstream_failed"),
    ("gemini", {"kind": "bad_param"}, 502, "upstream_failed"),
    ("gemini", {"kind": "rate_limit"}, 502, "upstream_failed"),  # RetryInfo 26 s: longer than the gateway waits
    ("gemini", {"kind": "prompt_blocked"}, 451, "prompt_blocked"),
    ("gemini", {"kind": "prompt_blocked", "reason": "SAFETY"}, 451, "prompt_blocked"),
    ("gemini", {"kind": "output_blocked"}, 451, "output_blocked"),
    ("gemini", {"kind": "output_blocked", "reason": "IMAGE_PROHIBITED_CONTENT"}, 451, "output_blocked"),
    ("seedream", {"kind": "invalid_key"}, 502, "upstream_failed"),
    ("seedream", {"kind": "overdue"}, 502, "upstream_failed"),
    ("seedream", {"kind": "bad_param"}, 502, "upstream_failed"),
    ("seedream", {"kind": "input_text_blocked"}, 451, "prompt_blocked"),
    ("seedream", {"kind": "input_image_blocked"}, 451, "prompt_blocked"),
    ("seedream", {"kind": "sensitive"}, 451, "prompt_blocked"),
    ("seedream", {"kind": "output_blocked"}, 451, "output_blocked"),
    ("seedream", {"kind": "item_errors"}, 451, "output_blocked"),
    ("azure", {"kind": "invalid_key"}, 502, "upstream_failed"),
    ("azure", {"kind": "bad_param"}, 502, "upstream_failed"),
    ("azure", {"kind": "rate_limit"}, 502, "upstream_failed"),  # Retry-After 20 s: longer than the gateway waits
    ("azure", {"kind": "content_policy"}, 451, "prompt_blocked"),
    ("azure", {"kind": "moderation_blocked"}, 451, "prompt_blocked"),
    ("azure", {"kind": "moderation_blocked", "stage": "output"}, 451, "output_blocked"),
    ("azure", {"kind": "content_filter"}, 451, "prompt_blocked"),
    ("openai", {"kind": "invalid_key"}, 502, "upstream_failed"),
    ("openai", {"kind": "bad_param"}, 502, "upstream_failed"),
    ("openai", {"kind": "insufficient_quota"}, 502, "upstream_failed"),
    ("openai", {"kind": "moderation_blocked"}, 451, "prompt_blocked"),
    ("openai", {"kind": "content_policy"}, 451, "prompt_blocked"),
]

RECOVERED = [  # one fault, then the upstream works
    ("gemini", {"kind": "server_error"}),
    ("gemini", {"kind": "text_only"}),
    ("gemini", {"kind": "bad_b64"}),
    ("gemini", {"kind": "wrong_size"}),
    ("seedream", {"kind": "hang"}),
    ("seedream", {"kind": "malformed_json"}),
    ("seedream", {"kind": "drop"}),
    ("azure", {"kind": "hang"}),
    ("azure", {"kind": "truncated_image"}),
    ("azure", {"kind": "rate_limit", "retry_after": 0}),
]


def _fake(request: pytest.FixtureRequest, provider: str) -> Any:
    return request.getfixturevalue(
        {"gemini": "fake_gemini", "seedream": "fake_seedream", "azure": "fake_azure", "openai": "fake_openai"}[provider]
    )


def _generate(gateway: Gateway, account: Account, provider: str) -> Any:
    body = {"model": MODEL_OF[provider], "prompt": "a lighthouse at dusk", "size": SIZE_OF.get(provider, "1024x1024")}
    return gateway.post_images(account.key, body)


def _assert_refused(response: Any, status: int, code: str, gateway: Gateway, account: Account) -> None:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == {502: "upstream_error", 504: "upstream_error", 451: "content_policy_error"}[status]
    assert "fake-key" not in response.text and "fake-upstream" not in response.text  # no upstream key leaks
    assert gateway.balance(account.id) == (10_000_000, 0)  # nothing charged, nothing held


@pytest.mark.parametrize(("provider", "fault"), RETRIED_THEN_502, ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_retryable_fault_is_retried_then_502_and_free(
    request: pytest.FixtureRequest, live_gateway: Gateway, account_10: Account, provider: str, fault: dict[str, Any]
) -> None:
    fake = _fake(request, provider)
    fake.script({**fault, "times": RETRIES})
    log_before = len(live_gateway.process.log_text())
    response = _generate(live_gateway, account_10, provider)
    _assert_refused(response, 502, "upstream_failed", live_gateway, account_10)
    assert len(fake.requests) == RETRIES
    _assert_error_logged(live_gateway, log_before, provider)


@pytest.mark.parametrize(
    ("provider", "fault", "status", "code"),
    NOT_RETRIED,
    ids=lambda v: v if isinstance(v, str) else (v["kind"] if isinstance(v, dict) else str(v)),
)
def test_refusal_is_answered_at_once_and_free(
    request: pytest.FixtureRequest,
    live_gateway: Gateway,
    account_10: Account,
    provider: str,
    fault: dict[str, Any],
    status: int,
    code: str,
) -> None:
    fake = _fake(request, provider)
    fake.script(fault)
    log_before = len(live_gateway.process.log_text())
    response = _generate(live_gateway, account_10, provider)
    _assert_refused(response, status, code, live_gateway, account_10)
    assert len(fake.requests) == 1  # never retried, never failed over
    if status == 502:
        _assert_error_logged(live_gateway, log_before, provider)


def _assert_error_logged(gateway: Gateway, log_before: int, provider: str) -> None:
    """The operator sees an ERROR line naming the route (and never the upstream key)."""
    route = {"gemini": "gemini", "seedream": "ark", "azure": "azure", "openai": "openai"}[provider]
    new_lines = gateway.process.log_once(" ERROR imagegate.routing: ", since=log_before).splitlines()
    assert any(" ERROR imagegate.routing: " in line and f"route {route}" in line for line in new_lines), new_lines
    assert not any("fake-key" in line or "sk-fake-upstream" in line for line in new_lines)


def test_hang_on_every_attempt_is_504_and_free(live_gateway: Gateway, account_10: Account, fake_gemini: Any) -> None:
    fake_gemini.script({"kind": "hang", "times": RETRIES})
    response = _generate(live_gateway, account_10, "gemini")
    _assert_refused(response, 504, "upstream_timeout", live_gateway, account_10)
    assert len(fake_gemini.requests) == RETRIES
    fake_gemini.wait_for_requests(RETRIES)
    assert fake_gemini.client_disconnects >= RETRIES - 1  # the gateway gave up on each hung call


@pytest.mark.parametrize(("provider", "fault"), RECOVERED, ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_single_fault_is_retried_invisibly_and_billed_once(
    request: pytest.FixtureRequest, live_gateway: Gateway, account_10: Account, provider: str, fault: dict[str, Any]
) -> None:
    fake = _fake(request, provider)
    fake.script(fault)
    response = _generate(live_gateway, account_10, provider)
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 1
    assert len(fake.requests) == 2
    assert live_gateway.balance(account_10.id) == (10_000_000 - PRICE_OF[provider], 0)


def test_retry_after_is_honoured(live_gateway: Gateway, account_10: Account, fake_gemini: Any) -> None:
    fake_gemini.script({"kind": "rate_limit", "retry_delay": "1s"})
    response = _generate(live_gateway, account_10, "gemini")
    assert response.status_code == 200
    first, second = fake_gemini.requests
    assert second.time - first.time >= 1.0


@pytest.fixture
def account_10(live_gateway: Gateway) -> Account:
    return live_gateway.new_account("10")


def test_wrong_format_at_the_right_size_is_re_encoded_not_retried(
    live_gateway: Gateway, account_10: Account, fake_openai: Any
) -> None:
    """The image is good, only its encoding differs: the gateway re-encodes it (as for any route that
    cannot make the format) rather than paying the upstream again."""
    fake_openai.script({"kind": "wrong_format"})
    body = {"model": "gpt-image-2", "prompt": "x", "output_format": "webp", "response_format": "b64_json"}
    response = live_gateway.post_images(account_10.key, body)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(base64.b64decode(response.json()["data"][0]["b64_json"])))
    assert (image.format, image.size) == ("WEBP", (1024, 1024))
    assert len(fake_openai.requests) == 1
    assert live_gateway.balance(account_10.id) == (10_000_000 - PRICE_OF["openai"], 0)
