"""OpenAI's further generation fields through the real gateway and the official SDK: `background`,
`moderation`, `size: "auto"`, `safety_identifier`, and every other parameter of the installed SDK's
`images.generate`, each served or refused with a reason (never "unknown parameter")."""

from __future__ import annotations

import base64
import inspect
import io
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.resources.images import Images
from PIL import Image

from tests.conftest import Account, Gateway
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

FUNDED = (10_000_000, 0)
PROMPT = "a paper lantern on a dark lake"

# One value per parameter of `images.generate` (and what the gateway must answer); a parameter a
# newer SDK adds fails `test_every_sdk_generate_parameter_is_known` until it is listed here.
SDK_GENERATE_VALUES: dict[str, tuple[Any, str | None]] = {
    "prompt": (PROMPT, None),
    "model": ("gpt-image-2", None),
    "background": ("opaque", None),
    "moderation": ("low", None),
    "n": (1, None),
    "output_compression": (None, None),
    "output_format": ("png", None),
    "quality": ("low", None),
    "response_format": ("b64_json", None),
    "safety_identifier": ("user-7f3a", None),
    "size": ("auto", None),
    "style": ("natural", None),
    "user": ("end-user-1", None),
    "stream": (True, None),
    "partial_images": (2, None),
    "complexity": ("high", "unsupported_parameter"),
    "frame_count": (4, "unsupported_parameter"),
    "frame_duration_ms": (100, "unsupported_parameter"),
    "svg": ({"model": "x"}, "unsupported_parameter"),
}
NOT_FIELDS = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}


@pytest.fixture
def auto_size(upstream: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield upstream
    upstream.auto_size = "1024x1024"


def _image(b64_json: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64_json)))


def test_background_moderation_and_safety_identifier_are_forwarded(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    client = gateway.client(account.key)
    result = client.images.generate(
        model="gpt-image-2",
        prompt=PROMPT,
        background="transparent",
        moderation="low",
        output_format="webp",
        safety_identifier="hash-of-user-42",
        user="legacy-user",
        response_format="b64_json",
        quality="low",
    )
    sent = upstream.requests[0].json
    assert (sent["background"], sent["moderation"]) == ("transparent", "low")
    assert (sent["safety_identifier"], sent["user"]) == ("hash-of-user-42", "legacy-user")
    assert result.background == "transparent" and result.output_format == "webp" and result.size == "1024x1024"
    assert result.data is not None and result.data[0].b64_json is not None
    image = _image(result.data[0].b64_json)
    assert image.format == "WEBP" and image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[0] == 0  # some pixels really are transparent


def test_defaults_are_not_sent_upstream(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    """`auto` is OpenAI's default: an OpenAI-compatible server that lacks the field is not sent it."""
    gateway.client(account.key).images.generate(
        model="gpt-image-2", prompt=PROMPT, background="auto", moderation="auto", quality="low"
    )
    sent = upstream.requests[0].json
    assert "background" not in sent and "moderation" not in sent and "safety_identifier" not in sent


def test_size_auto_is_held_at_the_dearest_size_and_charged_as_delivered(
    gateway: Gateway, auto_size: FakeOpenAI, account: Account
) -> None:
    auto_size.auto_size = "1024x1024"
    quote = (
        gateway.client(account.key)
        .post(
            "/images/quote",
            body={"model": "gpt-image-2", "prompt": PROMPT, "size": "auto", "quality": "high"},
            cast_to=httpx.Response,
        )
        .json()
    )
    assert quote["unit_price_micros"] == 317_000  # 1536x1024 / 1024x1536 high: the dearest it may pick
    response = gateway.post_images(
        account.key, {"model": "gpt-image-2", "prompt": PROMPT, "size": "auto", "quality": "high"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert auto_size.requests[0].json["size"] == "auto"
    assert body["size"] == "1024x1024"
    assert body["billing"]["amount_micros"] == 211_000  # charged as the 1024x1024 delivered
    assert gateway.balance(account.id) == (FUNDED[0] - 211_000, 0)
    stored = httpx.get(body["data"][0]["url"], timeout=30)
    assert Image.open(io.BytesIO(stored.content)).size == (1024, 1024)


def test_size_auto_picked_upstream_at_a_dearer_size(gateway: Gateway, auto_size: FakeOpenAI, account: Account) -> None:
    auto_size.auto_size = "1536x1024"
    result = gateway.client(account.key).images.generate(model="gpt-image-2", prompt=PROMPT, size="auto", quality="low")
    assert result.size == "1536x1024"
    assert gateway.balance(account.id) == (FUNDED[0] - 9_000, 0)


def test_size_auto_outside_the_models_auto_sizes_is_not_billed(
    gateway: Gateway, auto_size: FakeOpenAI, account: Account
) -> None:
    auto_size.auto_size = "2048x2048"  # a size of the model, but not one `auto` may pick
    response = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": PROMPT, "size": "auto"})
    assert_error(response, 502, "upstream_error", "upstream_failed")
    assert gateway.balance(account.id) == FUNDED


def test_size_auto_without_upstream_choice_is_the_default_size(gateway: Gateway, test_account: Account) -> None:
    result = gateway.client(test_account.key).images.generate(
        model="seedream-4.5", prompt=PROMPT, size="auto", response_format="b64_json"
    )
    assert result.size == "2048x2048"
    assert result.data is not None and _image(result.data[0].b64_json or "").size == (2048, 2048)


@pytest.mark.parametrize(
    ("changes", "code", "param", "says"),
    [
        ({"background": "transparent", "output_format": "jpeg"}, "invalid_value", "background", "alpha"),
        ({"model": "nano-banana-2", "background": "transparent"}, "invalid_value", "background", "cannot honour"),
        ({"model": "seedream-4.5", "moderation": "low"}, "invalid_value", "moderation", "only moderation 'auto'"),
        ({"moderation": "none"}, "invalid_value", "moderation", "Supported values"),
        ({"safety_identifier": "x" * 257}, "invalid_value", "safety_identifier", "256"),
        ({"safety_identifier": 7}, "invalid_type", "safety_identifier", "string"),
        ({"stream": "yes"}, "invalid_type", "stream", "boolean"),
        ({"stream": True, "partial_images": 4}, "invalid_value", "partial_images", "between 0 and 3"),
        ({"partial_images": 1}, "invalid_value", "partial_images", "stream"),
        ({"complexity": "high"}, "unsupported_parameter", "complexity", "gpt-image-2.5"),
        ({"output_format": "gif", "frame_count": 4}, "unsupported_parameter", "frame_count", "GIF"),
        ({"svg": {"model": "x"}}, "unsupported_parameter", "svg", "SVG"),
        ({"markup": "x"}, "unsupported_parameter", "markup", "mask"),
        ({"mask": "x"}, "unsupported_parameter", "mask", "/v1/images/edits"),
        ({"input_fidelity": "high"}, "unsupported_parameter", "input_fidelity", "/v1/images/edits"),
    ],
)
def test_refusals_say_why(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, changes: dict[str, Any], code: str, param: str, says: str
) -> None:
    response = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": PROMPT, **changes})
    error = assert_error(response, 400, "invalid_request_error", code, param)
    assert says in error["message"]
    assert "Unknown parameter" not in error["message"]
    assert upstream.requests == []
    assert gateway.balance(account.id) == FUNDED


def test_every_sdk_generate_parameter_is_known(gateway: Gateway, upstream: FakeOpenAI, test_account: Account) -> None:
    """Each parameter of the installed SDK's `images.generate`, passed alone: served, or refused with a reason."""
    names = set(inspect.signature(Images.generate).parameters) - NOT_FIELDS
    assert names <= set(SDK_GENERATE_VALUES), (
        f"list the SDK's new parameters: {sorted(names - set(SDK_GENERATE_VALUES))}"
    )
    client = gateway.client(test_account.key)
    for name in sorted(names - {"prompt", "model"}):
        value, refusal = SDK_GENERATE_VALUES[name]
        extra: dict[str, Any] = {"stream": True} if name == "partial_images" else {}
        try:
            result: Any = client.images.generate(model="gpt-image-2", prompt=PROMPT, **{name: value}, **extra)
            if isinstance(result, openai.Stream):
                assert [event.type for event in result][-1] == "image_generation.completed"
        except openai.BadRequestError as exc:
            assert refusal is not None, f"{name}={value!r} was refused: {exc}"
            assert exc.code == refusal and exc.param == name, (name, exc.code, exc.param)
            assert "Unknown parameter" not in exc.message
        else:
            assert refusal is None, f"{name}={value!r} was served, expected {refusal}"
