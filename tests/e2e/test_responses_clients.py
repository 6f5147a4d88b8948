"""POST /v1/responses through a real gateway process, for what needs real HTTP: the official `openai`
npm package as it is, and SSE keep-alive comments while the upstream works before the first Responses
event. The upstream is the fake OpenAI on loopback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Account, Gateway, serve_gateway
from tests.support.js import js_clients, run_script
from tests.upstreams.fake_openai import FakeOpenAI

LOW_1024 = 6_000
"""gpt-image-2's live price of one low-quality 1024x1024 image, in micro-USD."""
FUNDED = (10_000_000, 0)
KEEPALIVE = "0.3"


@pytest.fixture(scope="module")
def responses_gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    yield from serve_gateway(
        tmp_path_factory, "responses", fake_openai, extra_env={"IMAGEGATE_STREAM_KEEPALIVE_SECONDS": KEEPALIVE}
    )


@pytest.fixture
def account(responses_gateway: Gateway) -> Account:
    return responses_gateway.new_account()


def test_the_openai_npm_package_gets_an_image_from_the_responses_api(
    responses_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    env = {
        "IMAGEGATE_BASE_URL": f"{responses_gateway.base_url}/v1",
        "IMAGEGATE_KEY": account.key,
        "IMAGEGATE_MODEL": "gpt-image-2",
    }
    got = run_script(js_clients(), "responses.mjs", env)
    assert (got["object"], got["status"]) == ("response", "completed")
    assert str(got["id"]).startswith("resp_") and got["kept_same_image"] is True
    assert got["item"] == {
        "type": "image_generation_call",
        "id": got["item"]["id"],  # type: ignore[index]
        "status": "completed",
        "size": "1024x1024",
        "quality": "low",
    }
    assert int(got["bytes"]) > 0  # type: ignore[call-overload]
    assert got["billing"]["amount_micros"] == LOW_1024  # type: ignore[index]
    assert upstream.requests[0].json["prompt"] == "a paper lantern festival at night"
    assert responses_gateway.balance(account.id) == (FUNDED[0] - LOW_1024, 0)


def test_keep_alive_comments_flow_while_the_image_is_made_then_the_events(
    responses_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "delay", "seconds": 1.5})
    body = {
        "model": "gpt-image-2",
        "input": "a heron in the reeds",
        "stream": True,
        "tools": [{"type": "image_generation", "quality": "low"}],
    }
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {account.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", responses_gateway.port), timeout=10) as client:
        client.sendall(head + payload)
        deadline = time.monotonic() + 15
        while b"event: response.completed" not in answer and time.monotonic() < deadline:
            chunk = client.recv(65536)
            if not chunk:
                break
            answer += chunk
    head_part, _, stream = answer.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head_part
    before_events = stream.split(b"event: ", 1)[0]
    assert before_events.count(b": keep-alive\n\n") >= 2  # every 0.3 s while the upstream took 1.5 s
    assert stream.index(b"event: response.created") < stream.index(b"event: response.completed")
    assert responses_gateway.balance(account.id) == (FUNDED[0] - LOW_1024, 0)
