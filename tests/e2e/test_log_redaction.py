"""Credentials never reach the gateway's log (issue 12, defect 9): an upstream that echoes the
gateway's key in its error text, or a client that sends its key where it does not belong, leaves
only `[REDACTED]` behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import UPSTREAM_KEY, Account, Gateway, serve_gateway
from tests.upstreams.fake_openai import FakeOpenAI

BODY = {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "quality": "low"}
GOOGLE_LIKE = "AIzaSyD-0123456789abcdefghijklmnopqrs"


@pytest.fixture(scope="module")
def logged_gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    yield from serve_gateway(tmp_path_factory, "redaction", fake_openai, extra_env={"IMAGEGATE_LOG_LEVEL": "info"})


def echoing_error(status: int) -> dict[str, object]:
    message = (
        f"Incorrect API key provided: {UPSTREAM_KEY}. Sent as 'Authorization: Bearer {UPSTREAM_KEY}' "
        f"to https://upstream.example/v1/images?key={GOOGLE_LIKE}&alt=json"
    )
    return {
        "kind": "status",
        "status": status,
        "body": {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "bad"}},
    }


@pytest.mark.parametrize("status", [400, 500])
def test_an_upstream_echoing_the_key_leaves_no_key_in_the_log(
    logged_gateway: Gateway, upstream: FakeOpenAI, status: int
) -> None:
    account: Account = logged_gateway.new_account("10")
    upstream.script(*[echoing_error(status)] * 5)
    response = logged_gateway.post_images(account.key, BODY)
    assert response.status_code == 502, response.text
    assert UPSTREAM_KEY not in response.text

    log = logged_gateway.process.log_once("Incorrect API key provided: ")
    assert "Incorrect API key provided: [REDACTED]" in log  # the line is there, the key is not
    assert UPSTREAM_KEY not in log
    assert GOOGLE_LIKE not in log
    assert "key=[REDACTED]" in log
    assert account.key not in log
