"""`stream: true` through the real gateway: OpenAI's server-sent events as the `openai` SDK iterates them,
partial images passed through from a streaming upstream, completed events only from the others, the same
billing as unstreamed, errors before and after the first event, and a client that leaves mid-stream."""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import Account, Gateway
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

FUNDED = (10_000_000, 0)
PROMPT = "a heron in the reeds at dawn"


def events(gateway: Gateway, key: str, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[str, dict[str, Any]]]]:
    """The raw SSE answer: (response, [(event, data)])."""
    with gateway.http() as http:
        response = http.post("/v1/images/generations", json=body, headers={"Authorization": f"Bearer {key}"})
    found = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            found.append((lines.get("event", ""), json.loads(lines["data"])))
    return response, found


def test_sdk_iterates_partial_and_completed_events(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    stream = gateway.client(account.key).images.generate(
        model="gpt-image-2", prompt=PROMPT, stream=True, partial_images=2, quality="medium"
    )
    received = list(stream)
    assert [e.type for e in received] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in received[:2]] == [0, 1]  # type: ignore[union-attr]
    final = received[-1]
    image = Image.open(io.BytesIO(base64.b64decode(final.b64_json)))
    assert (image.format, image.size, final.size, final.output_format) == ("PNG", (1024, 1024), "1024x1024", "png")
    sent = upstream.requests[0].json
    assert (sent["stream"], sent["partial_images"]) == (True, 2)
    assert gateway.balance(account.id) == (FUNDED[0] - 53_000, 0)  # as unstreamed


def test_partial_images_0_is_not_streamed_upstream(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    response, found = events(gateway, account.key, {"model": "gpt-image-2", "prompt": PROMPT, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"].startswith("req_")
    assert [event for event, _ in found] == ["image_generation.completed"]
    assert found[0][1]["type"] == "image_generation.completed" and "usage" in found[0][1]
    assert "stream" not in upstream.requests[0].json
    assert gateway.balance(account.id) == (FUNDED[0] - 53_000, 0)


def test_non_streaming_upstream_sends_completed_events_only(gateway: Gateway, test_account: Account) -> None:
    stream = gateway.client(test_account.key).images.generate(
        model="preview", prompt=PROMPT, stream=True, partial_images=3, n=3, size="256x256"
    )
    received = list(stream)
    assert [e.type for e in received] == ["image_generation.completed"] * 3
    assert {Image.open(io.BytesIO(base64.b64decode(e.b64_json))).size for e in received} == {(256, 256)}


def test_stream_with_more_images_than_the_upstream_streams(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    response = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": PROMPT, "stream": True, "n": 2})
    error = assert_error(response, 400, "invalid_request_error", "invalid_value", "n")
    assert "streams at most 1" in error["message"]
    assert upstream.requests == [] and gateway.balance(account.id) == FUNDED


def test_stream_with_an_idempotency_key_is_refused(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    response = gateway.post_images(
        account.key, {"model": "gpt-image-2", "prompt": PROMPT, "stream": True}, headers={"Idempotency-Key": "s-1"}
    )
    assert_error(response, 400, "invalid_request_error", "invalid_value", "Idempotency-Key")
    assert upstream.requests == [] and gateway.balance(account.id) == FUNDED


def test_failure_before_any_event_is_an_ordinary_error(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "server_error", "times": 3})
    response = gateway.post_images(
        account.key, {"model": "gpt-image-2", "prompt": PROMPT, "stream": True, "partial_images": 1}
    )
    assert_error(response, 502, "upstream_error", "upstream_failed")
    assert gateway.balance(account.id) == FUNDED


def test_failure_after_a_partial_image_is_an_error_event(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "malformed_json", "times": 3})  # each stream's completed event is cut in half
    with pytest.raises(openai.APIError) as caught:
        list(
            gateway.client(account.key).images.generate(
                model="gpt-image-2", prompt=PROMPT, stream=True, partial_images=1
            )
        )
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "upstream_failed"
    assert len(upstream.requests) == 3
    assert gateway.balance(account.id) == FUNDED


def test_client_that_leaves_before_any_image_is_not_billed(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "delay", "seconds": 3})
    body = json.dumps({"model": "gpt-image-2", "prompt": PROMPT, "stream": True}).encode()
    head = (
        f"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {account.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
        client.sendall(head + body)
        upstream.wait_for_requests(1)
        assert gateway.balance(account.id)[1] == 53_000  # held while the upstream works
    deadline = time.monotonic() + 15
    while gateway.balance(account.id)[1] and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the database for the gateway's release, bounded
    assert gateway.balance(account.id) == FUNDED


def test_client_that_leaves_after_a_partial_image_pays_nothing(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    """Partial images are never billed: a client that reads one and leaves before its completed event
    gets its hold back, and the usage log says it left (499 client_disconnected)."""
    upstream.script({"kind": "pause_before_completed", "seconds": 5})
    stream = gateway.client(account.key).images.generate(
        model="gpt-image-2", prompt=PROMPT, stream=True, partial_images=1, quality="medium"
    )
    first = next(iter(stream))
    assert first.type == "image_generation.partial_image"
    assert gateway.balance(account.id)[1] == 53_000  # held while the final image is drawn
    request_id = stream.response.headers["x-request-id"]
    stream.close()  # the client leaves
    deadline = time.monotonic() + 4  # well before the upstream's completed event (5 s)
    while gateway.balance(account.id)[1] and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the database for the gateway's release, bounded
    assert gateway.balance(account.id) == FUNDED
    row = gateway.usage_row(request_id)
    assert row is not None and (row["status"], row["error_code"], row["cost_micros"]) == (
        499,
        "client_disconnected",
        0,
    )
