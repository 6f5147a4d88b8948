"""Every refusal of the public contract, through the real gateway: status, OpenAI error body, no side effects.

One table walks every validation row of POST /v1/images/generations; the auth, permission, billing and
routing refusals follow, then the same errors as the official `openai` SDK surfaces them.
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Account, Gateway
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

FUNDED = (10_000_000, 0)  # the `account` fixture's (balance_micros, held_micros)
VALID = {"model": "gpt-image-2", "prompt": "a red kite over a green hill"}
DROP = object()  # marks a field to leave out of VALID


def body(**changes: Any) -> dict[str, Any]:
    """VALID with fields changed, added, or (with DROP) removed."""
    out = {**VALID, **changes}
    return {k: v for k, v in out.items() if v is not DROP}


@dataclass(frozen=True)
class Refusal:
    """One row of the contract's error table, as a request and what it must get back."""

    request: Any  # bytes are sent as they are; anything else is JSON-encoded
    status: int
    type: str
    code: str
    param: str | None
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        return self.request if isinstance(self.request, bytes) else json.dumps(self.request).encode()


def bad_request(request: Any, code: str, param: str | None, **headers: str) -> Refusal:
    return Refusal(request, 400, "invalid_request_error", code, param, headers)


JSON_CT = {"Content-Type": "application/json"}

VALIDATION_REFUSALS = [
    # -- the body is not a JSON object
    pytest.param(bad_request(b"not json", "invalid_json", None, **JSON_CT), id="body-not-json"),
    pytest.param(bad_request(b"", "invalid_json", None, **JSON_CT), id="body-empty"),
    pytest.param(
        bad_request(b'{"model": "gpt-image-2", "prompt": "a', "invalid_json", None, **JSON_CT), id="body-truncated-json"
    ),
    pytest.param(bad_request(b"\xff\xfe{}", "invalid_json", None, **JSON_CT), id="body-not-utf8"),
    pytest.param(
        bad_request(
            b"model=gpt-image-2&prompt=a+cat",
            "invalid_json",
            None,
            **{"Content-Type": "application/x-www-form-urlencoded"},
        ),
        id="body-form-encoded",
    ),
    pytest.param(bad_request([VALID], "invalid_json", None, **JSON_CT), id="json-array"),
    pytest.param(bad_request("a red kite", "invalid_json", None, **JSON_CT), id="json-string"),
    pytest.param(bad_request(42, "invalid_json", None, **JSON_CT), id="json-number"),
    pytest.param(bad_request(None, "invalid_json", None, **JSON_CT), id="json-null"),
    # -- required fields
    pytest.param(bad_request({}, "missing_required_parameter", "model"), id="empty-object"),
    pytest.param(bad_request(body(model=DROP), "missing_required_parameter", "model"), id="model-missing"),
    pytest.param(bad_request(body(model=None), "missing_required_parameter", "model"), id="model-null"),
    pytest.param(bad_request(body(prompt=DROP), "missing_required_parameter", "prompt"), id="prompt-missing"),
    pytest.param(bad_request(body(prompt=None), "missing_required_parameter", "prompt"), id="prompt-null"),
    # -- fields the contract does not have
    pytest.param(bad_request(body(foo=1), "unknown_parameter", "foo"), id="unknown-foo"),
    pytest.param(bad_request(body(background="sideways"), "invalid_value", "background"), id="background-invalid"),
    pytest.param(
        bad_request(body(background="transparent", output_format="jpeg"), "invalid_value", "background"),
        id="background-transparent-jpeg",
    ),
    pytest.param(bad_request(body(stream=True, n=2), "invalid_value", "n"), id="stream-n-beyond-what-is-streamed"),
    pytest.param(bad_request(body(stream="yes"), "invalid_type", "stream"), id="stream-not-boolean"),
    pytest.param(
        bad_request(body(stream=True, partial_images=4), "invalid_value", "partial_images"), id="partial-images-4"
    ),
    pytest.param(bad_request(body(Model="gpt-image-2"), "unknown_parameter", "Model"), id="unknown-case-variant"),
    pytest.param(bad_request(body(extra=None), "unknown_parameter", "extra"), id="unknown-null"),
    # -- model
    pytest.param(bad_request(body(model=5), "invalid_type", "model"), id="model-number"),
    pytest.param(bad_request(body(model=["gpt-image-2"]), "invalid_type", "model"), id="model-list"),
    pytest.param(bad_request(body(model="dall-e-9"), "model_not_found", "model"), id="model-unknown"),
    pytest.param(bad_request(body(model=""), "model_not_found", "model"), id="model-empty"),
    # -- prompt
    pytest.param(bad_request(body(prompt=5), "invalid_type", "prompt"), id="prompt-number"),
    pytest.param(bad_request(body(prompt=""), "invalid_value", "prompt"), id="prompt-empty"),
    pytest.param(bad_request(body(prompt=" \n\t "), "invalid_value", "prompt"), id="prompt-blank"),
    pytest.param(bad_request(body(prompt="x" * 32_001), "invalid_value", "prompt"), id="prompt-over-32000"),
    pytest.param(
        bad_request(body(model="seedream-4.5", prompt="x" * 4_001), "invalid_value", "prompt"),
        id="prompt-over-seedream-4000",
    ),
    # -- size
    pytest.param(bad_request(body(size="Auto"), "invalid_value", "size"), id="size-Auto"),
    pytest.param(bad_request(body(size="1024x1025"), "invalid_value", "size"), id="size-1024x1025"),
    pytest.param(bad_request(body(size="512x512"), "invalid_value", "size"), id="size-not-gpt-image-2s"),
    pytest.param(bad_request(body(size="1376x768"), "invalid_value", "size"), id="size-of-another-model"),
    pytest.param(bad_request(body(size=1024), "invalid_type", "size"), id="size-number"),
    # -- n
    pytest.param(bad_request(body(n=0), "invalid_value", "n"), id="n-0"),
    pytest.param(bad_request(body(n=5), "invalid_value", "n"), id="n-5"),
    pytest.param(bad_request(body(n=-1), "invalid_value", "n"), id="n-negative"),
    pytest.param(bad_request(body(n=1.5), "invalid_type", "n"), id="n-float"),
    pytest.param(bad_request(body(n=2.0), "invalid_type", "n"), id="n-integral-float"),
    pytest.param(bad_request(body(n="2"), "invalid_type", "n"), id="n-string"),
    pytest.param(bad_request(body(n=True), "invalid_type", "n"), id="n-true"),
    # -- quality and style
    pytest.param(bad_request(body(quality="ultra"), "invalid_value", "quality"), id="quality-ultra"),
    pytest.param(bad_request(body(quality="standard"), "invalid_value", "quality"), id="quality-dall-e-standard"),
    pytest.param(bad_request(body(quality=3), "invalid_type", "quality"), id="quality-number"),
    pytest.param(bad_request(body(style="bold"), "invalid_value", "style"), id="style-bold"),
    pytest.param(
        bad_request(body(model="nano-banana-2", style="vivid"), "unsupported_parameter", "style"),
        id="style-on-nano-banana-2",
    ),
    pytest.param(
        bad_request(body(model="seedream-4.5", quality="high"), "unsupported_parameter", "quality"),
        id="quality-on-seedream-4.5",
    ),
    # -- output format and compression
    pytest.param(bad_request(body(output_format="gif"), "invalid_value", "output_format"), id="output-format-gif"),
    pytest.param(bad_request(body(output_format="jpg"), "invalid_value", "output_format"), id="output-format-jpg"),
    pytest.param(
        bad_request(body(output_format="png", output_compression=80), "invalid_value", "output_compression"),
        id="compression-with-png",
    ),
    pytest.param(
        bad_request(body(output_compression=80), "invalid_value", "output_compression"),
        id="compression-with-default-png",
    ),
    pytest.param(
        bad_request(body(output_format="webp", output_compression=101), "invalid_value", "output_compression"),
        id="compression-101",
    ),
    pytest.param(
        bad_request(body(output_format="jpeg", output_compression=-1), "invalid_value", "output_compression"),
        id="compression-negative",
    ),
    pytest.param(
        bad_request(body(output_format="webp", output_compression="80"), "invalid_type", "output_compression"),
        id="compression-string",
    ),
    pytest.param(
        bad_request(body(output_format="webp", output_compression=80.5), "invalid_type", "output_compression"),
        id="compression-float",
    ),
    # -- response_format and user
    pytest.param(
        bad_request(body(response_format="base64"), "invalid_value", "response_format"), id="response-format-invalid"
    ),
    pytest.param(bad_request(body(user="u" * 257), "invalid_value", "user"), id="user-257-chars"),
    pytest.param(bad_request(body(user=7), "invalid_type", "user"), id="user-number"),
]


def post(gateway: Gateway, key: str | None, refusal: Refusal) -> httpx.Response:
    headers = {**refusal.headers}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    with gateway.http() as http:
        return http.post("/v1/images/generations", content=refusal.content(), headers=headers)


@pytest.mark.parametrize("refusal", VALIDATION_REFUSALS)
def test_every_validation_refusal(gateway: Gateway, upstream: FakeOpenAI, account: Account, refusal: Refusal) -> None:
    response = post(gateway, account.key, refusal)

    error = assert_error(response, refusal.status, refusal.type, refusal.code, refusal.param)
    if refusal.code == "unknown_parameter":
        assert f"'{refusal.param}'" in error["message"]  # names the field
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_the_limits_themselves_are_accepted(gateway: Gateway, upstream: FakeOpenAI, test_account: Account) -> None:
    """The boundaries of the table above are inside the contract (test key: nothing billed or sent)."""
    for accepted in (
        body(prompt="x" * 32_000, n=4, user="u" * 256),
        body(output_format="webp", output_compression=0),
        body(output_format="jpeg", output_compression=100),
        body(model="seedream-4.5", prompt="x" * 4_000),
        body(
            n=None,
            size=None,
            quality=None,
            style=None,
            output_format=None,
            output_compression=None,
            response_format=None,
            user=None,
        ),  # explicit nulls are "not given"
    ):
        response = gateway.post_images(test_account.key, accepted)
        assert response.status_code == 200, (accepted, response.text)
    assert upstream.requests == []


# -- authentication: 401


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer ", id="bearer-empty"),
        pytest.param("Bearer", id="bearer-alone"),
        pytest.param("Basic x", id="basic"),
        pytest.param("sk-live-without-scheme", id="no-scheme"),
    ],
)
def test_missing_api_key(gateway: Gateway, upstream: FakeOpenAI, authorization: str | None) -> None:
    # http.client rather than httpx: httpx will not send a header value with trailing whitespace ("Bearer ").
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.request("POST", "/v1/images/generations", body=json.dumps(VALID).encode(), headers=headers)
        raw = connection.getresponse()
        response = httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        connection.close()
    assert_error(response, 401, "authentication_error", "missing_api_key", None)
    assert upstream.requests == []


def test_invalid_api_key(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    response = gateway.post_images(account.key + "x", VALID)
    assert_error(response, 401, "authentication_error", "invalid_api_key", None)
    assert account.key not in response.text
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_authentication_comes_before_the_body(gateway: Gateway, upstream: FakeOpenAI) -> None:
    response = gateway.post_images(None, b"not json")
    assert_error(response, 401, "authentication_error", "missing_api_key", None)


# -- permission: 403


def test_revoked_key(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    gateway.admin(lambda admin: admin.keys.revoke(account.key_id))
    response = gateway.post_images(account.key, VALID)
    assert_error(response, 403, "permission_error", "key_revoked", None)
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_disabled_account(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    gateway.admin(lambda admin: admin.accounts.set_disabled(account.id, True))
    response = gateway.post_images(account.key, VALID)
    assert_error(response, 403, "permission_error", "account_disabled", None)
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_model_not_allowed_for_the_key(gateway: Gateway, upstream: FakeOpenAI) -> None:
    restricted = gateway.new_account("10", models=["preview"])
    response = gateway.post_images(restricted.key, VALID)
    error = assert_error(response, 403, "permission_error", "model_not_allowed", "model")
    assert "gpt-image-2" in error["message"]
    assert upstream.requests == []
    assert gateway.balance(restricted.id) == FUNDED
    # the model it is allowed still works
    assert gateway.post_images(restricted.key, body(model="preview")).status_code == 200


# -- billing: 402


def test_insufficient_balance(gateway: Gateway, upstream: FakeOpenAI) -> None:
    poor = gateway.new_account("0.05")
    response = gateway.post_images(poor.key, body(quality="medium", size="1024x1024"))
    error = assert_error(response, 402, "billing_error", "insufficient_balance", None)
    assert "$0.053" in error["message"]  # the price
    assert re.search(r"\$0\.05(?!\d)", error["message"])  # and the credit available
    assert upstream.requests == []
    assert gateway.balance(poor.id) == (50_000, 0)


def test_insufficient_balance_counts_every_image(gateway: Gateway, upstream: FakeOpenAI) -> None:
    """$0.10 covers one medium image ($0.053) but not two: the whole request is refused, nothing partial."""
    account = gateway.new_account("0.10")
    response = gateway.post_images(account.key, body(n=2))
    error = assert_error(response, 402, "billing_error", "insufficient_balance", None)
    assert "$0.106" in error["message"]
    assert re.search(r"\$0\.10(?!\d)", error["message"])
    assert upstream.requests == []
    assert gateway.balance(account.id) == (100_000, 0)


# -- routing: 503


def test_no_route_for_a_model_without_upstream_credentials(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    response = gateway.post_images(account.key, body(model="nano-banana-2"))
    assert_error(response, 503, "service_unavailable", "no_route_available", None)
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


# -- unknown paths: 404 in the same shape


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/nope"), ("POST", "/v1/images/variations"), ("GET", "/nope")]
)  # "/" is a page
def test_unknown_path_is_an_openai_error(gateway: Gateway, method: str, path: str) -> None:
    with gateway.http() as http:
        response = http.request(method, path, headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 404
    payload = response.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"message", "type", "param", "code"}
    assert payload["error"]["type"] == "invalid_request_error"
    assert payload["error"]["message"]
    assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/v1/images/jobs/job_00000000000000000000000000", "DELETE, GET, HEAD"),
        ("OPTIONS", "/v1/images/jobs/job_00000000000000000000000000", "DELETE, GET, HEAD"),
        ("PATCH", "/admin/v1/accounts", "GET, POST"),
        ("DELETE", "/admin/v1/prices", "GET, PUT"),
        ("GET", "/v1/images/generations", "POST"),
    ],
)
def test_a_method_the_path_does_not_take_is_405_naming_every_method_it_does(
    gateway: Gateway, method: str, path: str, allowed: str
) -> None:
    """RFC 9110: `Allow` lists the methods of the resource, though two routes serve them (a job's GET and
    DELETE); it used to list the first route's alone."""
    with gateway.http() as http:
        response = http.request(method, path, headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


# -- the official SDK sees the same errors


def test_sdk_bad_request_carries_code_and_param(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    client = gateway.client(account.key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="gpt-image-2", prompt="a cat", output_format="png", output_compression=80)
    exc = caught.value
    assert exc.status_code == 400
    assert (exc.type, exc.code, exc.param) == ("invalid_request_error", "invalid_value", "output_compression")
    assert isinstance(exc.body, dict) and exc.body["code"] == "invalid_value"  # the SDK unwraps "error"
    assert exc.request_id is not None and exc.request_id.startswith("req_")

    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="dall-e-9", prompt="a cat")
    assert (caught.value.code, caught.value.param) == ("model_not_found", "model")

    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="gpt-image-2", prompt="a cat", extra_body={"seed": 7})
    assert (caught.value.code, caught.value.param) == ("unknown_parameter", "seed")
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_sdk_authentication_and_permission_errors(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client("sk-not-a-key").images.generate(model="gpt-image-2", prompt="a cat")
    assert (caught.value.status_code, caught.value.code) == (401, "invalid_api_key")
    assert caught.value.type == "authentication_error"

    restricted = gateway.new_account("10", models=["preview"])
    with pytest.raises(openai.PermissionDeniedError) as caught:
        gateway.client(restricted.key).images.generate(model="gpt-image-2", prompt="a cat")
    assert (caught.value.status_code, caught.value.code, caught.value.param) == (403, "model_not_allowed", "model")

    gateway.admin(lambda admin: admin.keys.revoke(account.key_id))
    with pytest.raises(openai.PermissionDeniedError) as caught:
        gateway.client(account.key).images.generate(model="gpt-image-2", prompt="a cat")
    assert (caught.value.type, caught.value.code) == ("permission_error", "key_revoked")
    assert upstream.requests == []


def test_sdk_insufficient_balance_is_a_402_status_error(gateway: Gateway, upstream: FakeOpenAI) -> None:
    poor = gateway.new_account("0.05")
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client(poor.key).images.generate(model="gpt-image-2", prompt="a cat", quality="medium")
    exc = caught.value
    assert type(exc) is openai.APIStatusError  # the SDK has no subclass for 402
    assert (exc.status_code, exc.type, exc.code) == (402, "billing_error", "insufficient_balance")
    assert "$0.053" in exc.message
    assert gateway.balance(poor.id) == (50_000, 0)


def test_sdk_no_route_is_a_server_error(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client(account.key).images.generate(model="nano-banana-2", prompt="a cat")
    assert (caught.value.status_code, caught.value.code) == (503, "no_route_available")
    assert gateway.balance(account.id) == FUNDED
