"""POST /v1/chat/completions through a real gateway process, for what needs real HTTP: LiteLLM's SDK
and the official `openai` npm package as they are, SSE keep-alive comments while the upstream works,
and a streaming client that leaves before its image (not billed). The upstream is the fake OpenAI on
loopback."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import Account, Gateway, serve_gateway
from tests.support.js import js_clients, run_script
from tests.support.rawhttp import dechunk
from tests.upstreams.fake_openai import FakeOpenAI

MEDIUM_1024 = 53_000
"""gpt-image-2's live price of one medium-quality 1024x1024 image (its defaults), in micro-USD."""
FUNDED = (10_000_000, 0)
KEEPALIVE = "0.3"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic")  # LiteLLM's own types, at import


@pytest.fixture(scope="module")
def chat_gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    yield from serve_gateway(
        tmp_path_factory, "chat", fake_openai, extra_env={"IMAGEGATE_STREAM_KEEPALIVE_SECONDS": KEEPALIVE}
    )


@pytest.fixture
def account(chat_gateway: Gateway) -> Account:
    return chat_gateway.new_account()


def test_litellm_completion_with_modalities_gets_the_image(
    chat_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its price list read locally: no network
    import litellm

    response = litellm.completion(
        model="openai/gpt-image-2",
        api_base=f"{chat_gateway.base_url}/v1",
        api_key=account.key,
        messages=[{"role": "user", "content": "a fox in the snow"}],
        modalities=["image", "text"],
        num_retries=0,
    )
    message = response.choices[0].message
    (image,) = message.images
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,")
    assert upstream.requests[0].json["prompt"] == "a fox in the snow"
    assert chat_gateway.balance(account.id) == (FUNDED[0] - MEDIUM_1024, 0)


def test_the_openai_npm_package_gets_an_image_from_chat_completions(
    chat_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    env = {
        "IMAGEGATE_BASE_URL": f"{chat_gateway.base_url}/v1",
        "IMAGEGATE_KEY": account.key,
        "IMAGEGATE_MODEL": "gpt-image-2",
    }
    got = run_script(js_clients(), "chat.mjs", env)
    assert (got["object"], got["finish_reason"]) == ("chat.completion", "stop")
    (image,) = got["images"]  # type: ignore[misc]
    assert image["type"] == "image_url" and image["url"].startswith("data:image/png;base64,iVBORw0K")
    assert image["bytes"] > 0
    assert got["billing"]["amount_micros"] == MEDIUM_1024  # type: ignore[index]
    assert upstream.requests[0].json["prompt"] == "a paper boat on a pond, watercolor"


def raw_chat(gateway: Gateway, key: str, body: dict[str, object]) -> socket.socket:
    """A streaming chat request on a plain socket, so the test decides when the client leaves."""
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    client = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    client.sendall(head + payload)
    return client


def read_until(client: socket.socket, marker: bytes, seconds: float = 10) -> bytes:
    got = b""
    deadline = time.monotonic() + seconds
    while marker not in got and time.monotonic() < deadline:
        chunk = client.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


STREAMED = {
    "model": "gpt-image-2",
    "messages": [{"role": "user", "content": "a heron in the reeds"}],
    "stream": True,
    "modalities": ["image"],
}


def test_keep_alive_comments_flow_while_the_image_is_made_then_the_chunks(
    chat_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "delay", "seconds": 1.5})
    with raw_chat(chat_gateway, account.key, STREAMED) as client:
        answer = read_until(client, b"\r\n0\r\n\r\n")  # the chunked body's last chunk: the stream ended
    head, _, chunked = answer.partition(b"\r\n\r\n")
    body = dechunk(chunked)
    assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
    before_image = body.split(b"data: ", 1)[0]
    assert before_image.count(b": keep-alive\n\n") >= 2  # every 0.3 s while the upstream took 1.5 s
    assert b'"finish_reason":"stop"' in body and body.rstrip().endswith(b"data: [DONE]")
    assert chat_gateway.balance(account.id) == (FUNDED[0] - MEDIUM_1024, 0)


def test_a_streaming_client_that_leaves_before_its_image_is_not_billed(
    chat_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "delay", "seconds": 3})
    with raw_chat(chat_gateway, account.key, STREAMED) as client:
        assert b": keep-alive" in read_until(client, b": keep-alive")  # the answer has started
        assert chat_gateway.balance(account.id)[1] == MEDIUM_1024  # held while the upstream works
    deadline = time.monotonic() + 15
    while chat_gateway.balance(account.id)[1] and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the database for the gateway's release, bounded
    assert chat_gateway.balance(account.id) == FUNDED


def test_an_upstream_failure_is_502_in_the_openai_error_shape_unbilled(
    chat_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "status", "status": 500, "times": 3})
    with pytest.raises(openai.APIStatusError) as caught:
        chat_gateway.client(account.key).chat.completions.create(
            model="gpt-image-2", messages=[{"role": "user", "content": "a kite"}]
        )
    assert caught.value.status_code == 502
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "upstream_failed"
    assert chat_gateway.balance(account.id) == FUNDED


def test_a_failure_after_the_stream_started_is_an_error_chunk_the_sdk_raises(
    chat_gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    """Keep-alive comments start the answer (200), so an upstream that then fails every attempt
    is told as one `data: {"error": …}` chunk, with no `[DONE]` after it; nothing is billed."""
    upstream.script({"kind": "hang", "seconds": 3, "times": 3})  # past the 1.5 s attempt timeout, thrice
    stream = chat_gateway.client(account.key).chat.completions.create(
        model="gpt-image-2", messages=[{"role": "user", "content": "a kite"}], stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert "upstream" in caught.value.message.lower()
    assert chat_gateway.balance(account.id) == FUNDED
