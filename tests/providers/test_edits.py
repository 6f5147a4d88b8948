"""POST /v1/images/edits with the official SDK, through each img2img model's own wire format to its fake:
Gemini (inline image parts), Seedream (`image` data URLs), OpenAI (multipart `/images/edits`, where the
operator's catalog turns edits on). Priced, held, billed and stored like generations; every bad input
gets the contract's error and is not billed.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import Account, Gateway, serve_in_process
from tests.providers.conftest import write_config
from tests.support.assertions import assert_error
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_seedream import FakeSeedream
from tests.upstreams.reference_images import parse_multipart

pytestmark = pytest.mark.tier("in_process")

PROMPT = "put a small red boat on the lake"
OPERATOR_TOML = """
[models.gpt-image-2]
img2img = true
"""


def picture(width: int = 64, height: int = 48, fmt: str = "PNG", colour: tuple[int, ...] = (20, 120, 200)) -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if len(colour) == 4 else "RGB"
    Image.new(mode, (width, height), colour).save(out, fmt)
    return out.getvalue()


def png(name: str = "photo.png", **kwargs: Any) -> tuple[str, bytes, str]:
    return (name, picture(**kwargs), "image/png")


@pytest.fixture(scope="module")
def edits_on(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    """gpt-image-2 with edits turned on by the operator; small per-image limit to test it."""
    config = write_config(tmp_path_factory.mktemp("edits-config") / "catalog.toml", OPERATOR_TOML)
    env = {"IMAGEGATE_CONFIG": config, "IMAGEGATE_EDIT_MAX_IMAGE_BYTES": "300000"}
    yield from serve_in_process(tmp_path_factory, "edits-on", fake_openai, extra_env=env)


@pytest.fixture
def operator_account(edits_on: Gateway) -> Account:
    return edits_on.new_account("10")


def post_edit(gateway: Gateway, key: str, data: dict[str, Any], files: Any, **kwargs: Any) -> httpx.Response:
    with gateway.http() as http:
        return http.post(
            "/v1/images/edits", data=data, files=files, headers={"Authorization": f"Bearer {key}"}, **kwargs
        )


# -- each wire format


def test_gemini_edit_sends_inline_image_parts(live_gateway: Gateway, funded: Account, fake_gemini: FakeGemini) -> None:
    first, second = picture(colour=(200, 10, 10)), picture(80, 80, "JPEG")
    result = live_gateway.client(funded.key).images.edit(
        model="nano-banana-2",
        image=[("a.png", first, "image/png"), ("b.jpg", second, "image/jpeg")],
        prompt=PROMPT,
        size="1376x768",
        output_format="webp",
    )
    (sent,) = fake_gemini.requests
    parts = sent.json["contents"][0]["parts"]
    assert parts[0] == {"text": PROMPT}
    assert [p["inlineData"]["mimeType"] for p in parts[1:]] == ["image/png", "image/jpeg"]
    assert [base64.b64decode(p["inlineData"]["data"]) for p in parts[1:]] == [first, second]
    assert sent.json["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "1K"}
    assert result.data is not None
    stored = Image.open(io.BytesIO(httpx.get(result.data[0].url or "", timeout=30).content))
    assert (stored.format, stored.size) == ("WEBP", (1376, 768))
    assert live_gateway.balance(funded.id) == (100_000_000 - 67_000, 0)


def test_seedream_edit_sends_data_urls(live_gateway: Gateway, funded: Account, fake_seedream: FakeSeedream) -> None:
    photo = picture(fmt="JPEG")
    result = live_gateway.client(funded.key).images.edit(
        model="seedream-4.5", image=("p.jpg", photo, "image/jpeg"), prompt=PROMPT, n=2, response_format="b64_json"
    )
    assert len(fake_seedream.requests) == 2  # one call per image, each with the reference
    for sent in fake_seedream.requests:
        assert sent.json["image"] == "data:image/jpeg;base64," + base64.b64encode(photo).decode()
    assert result.data is not None and len(result.data) == 2
    assert live_gateway.balance(funded.id) == (100_000_000 - 2 * 40_000, 0)


def test_nano_banana_pro_takes_several_references(
    live_gateway: Gateway, funded: Account, fake_gemini: FakeGemini
) -> None:
    images = [(f"{i}.png", picture(colour=(i * 40, 0, 0)), "image/png") for i in range(3)]
    live_gateway.client(funded.key).images.edit(model="nano-banana-pro", image=images, prompt=PROMPT)
    assert len(fake_gemini.requests[0].json["contents"][0]["parts"]) == 4
    assert live_gateway.balance(funded.id) == (100_000_000 - 134_000, 0)


def test_openai_edit_where_the_operator_enables_it(
    edits_on: Gateway, operator_account: Account, upstream: FakeOpenAI
) -> None:
    image, mask = picture(), picture(colour=(0, 0, 0, 0))
    result = edits_on.client(operator_account.key).images.edit(
        model="gpt-image-2",
        image=("photo.png", image, "image/png"),
        mask=("mask.png", mask, "image/png"),
        prompt=PROMPT,
        input_fidelity="high",
        quality="low",
        background="opaque",
    )
    (sent,) = upstream.requests
    assert sent.path == "/v1/images/edits"
    parts = {p.name: p for p in parse_multipart(sent.headers["content-type"], sent.body)}
    assert parts["image"].data == image and parts["mask"].data == mask
    fields = {name: p.data.decode() for name, p in parts.items() if p.filename is None}
    assert fields["model"] == "gpt-image-2" and fields["prompt"] == PROMPT
    assert (fields["input_fidelity"], fields["quality"], fields["background"]) == ("high", "low", "opaque")
    assert result.data is not None and result.quality == "low"
    assert edits_on.balance(operator_account.id) == (10_000_000 - 6_000, 0)


def test_gpt_image_2_is_refused_as_the_catalog_says(
    live_gateway: Gateway, funded: Account, fake_openai: FakeOpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        live_gateway.client(funded.key).images.edit(model="gpt-image-2", image=png(), prompt=PROMPT)
    assert (caught.value.code, caught.value.param) == ("unsupported_operation", "model")
    assert fake_openai.requests == []
    assert live_gateway.balance(funded.id) == (100_000_000, 0)


def test_edit_quote(live_gateway: Gateway, funded: Account) -> None:
    with live_gateway.http() as http:
        quote = http.post(
            "/v1/images/quote",
            data={"model": "nano-banana-2", "prompt": PROMPT, "n": "2", "size": "2048x2048"},
            files={"image": ("a.png", picture(), "image/png")},
            headers={"Authorization": f"Bearer {funded.key}"},
        )
        assert quote.status_code == 200, quote.text
        assert (quote.json()["amount_micros"], quote.json()["n"]) == (2 * 101_000, 2)
        refused = http.post(
            "/v1/images/quote",
            data={"model": "gpt-image-2", "prompt": PROMPT},
            files={"image": ("a.png", picture(), "image/png")},
            headers={"Authorization": f"Bearer {funded.key}"},
        )
    assert_error(refused, 400, "invalid_request_error", "unsupported_operation", "model")
    assert live_gateway.balance(funded.id) == (100_000_000, 0)


def test_edit_with_a_test_key_is_free(live_gateway: Gateway, fake_gemini: FakeGemini) -> None:
    key = live_gateway.new_account("0", test=True).key
    result = live_gateway.client(key).images.edit(model="nano-banana-2", image=png(), prompt=PROMPT)
    assert result.data is not None and fake_gemini.requests == []


def test_edit_idempotency_replays(live_gateway: Gateway, funded: Account, fake_gemini: FakeGemini) -> None:
    headers = {"Authorization": f"Bearer {funded.key}", "Idempotency-Key": "edit-1"}
    files = {"image": ("a.png", picture(), "image/png")}
    with live_gateway.http() as http:
        first = http.post(
            "/v1/images/edits", data={"model": "nano-banana-2", "prompt": PROMPT}, files=files, headers=headers
        )
        again = http.post(
            "/v1/images/edits", data={"model": "nano-banana-2", "prompt": PROMPT}, files=files, headers=headers
        )
        other = http.post(
            "/v1/images/edits",
            data={"model": "nano-banana-2", "prompt": PROMPT},
            files={"image": ("a.png", picture(colour=(1, 2, 3)), "image/png")},
            headers=headers,
        )
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert_error(other, 400, "invalid_request_error", "idempotency_key_reused")
    assert len(fake_gemini.requests) == 1
    assert live_gateway.balance(funded.id) == (100_000_000 - 67_000, 0)


# -- bad input: the contract's error, nothing sent upstream, nothing billed


def bomb() -> bytes:
    """A small PNG whose header says 8000x8000 pixels (64 M): refused before it is decoded."""
    out = io.BytesIO()
    Image.new("1", (8_000, 8_000)).save(out, "PNG")
    return out.getvalue()


BAD_EDITS = [
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("a.png", b"not an image", "image/png"))],
        400,
        "invalid_value",
        "image",
        id="image-does-not-decode",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("a.png", picture()[: len(picture()) // 2], "image/png"))],
        400,
        "invalid_value",
        "image",
        id="image-truncated",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("a.gif", picture(fmt="GIF"), "image/gif"))],
        400,
        "invalid_value",
        "image",
        id="image-gif",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("bomb.png", bomb(), "image/png"))],
        400,
        "invalid_value",
        "image",
        id="decompression-bomb",
    ),
    pytest.param(
        {"model": "nano-banana-2"},
        [("prompt", (None, PROMPT))],
        400,
        "missing_required_parameter",
        "image",
        id="no-image",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image[]", (f"{i}.png", picture(), "image/png")) for i in range(15)],
        400,
        "invalid_value",
        "image",
        id="15-images-over-gemini-14",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("a.png", picture(), "image/png")), ("mask", ("m.png", picture(), "image/png"))],
        400,
        "unsupported_parameter",
        "mask",
        id="mask-on-gemini",
    ),
    pytest.param(
        {"model": "nano-banana-2"},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "missing_required_parameter",
        "prompt",
        id="no-prompt",
    ),
    pytest.param(
        {"prompt": PROMPT},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "missing_required_parameter",
        "model",
        id="no-model",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT, "n": "two"},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "invalid_type",
        "n",
        id="n-not-a-number",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT, "n": "\u00b2"},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "invalid_type",
        "n",
        id="n-superscript-two",  # "²".isdigit() is true, int("²") raises: it used to be a 500
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT, "stream": "true", "partial_images": "4"},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "invalid_value",
        "partial_images",
        id="partial-images-4",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT, "input_fidelity": "high"},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "unsupported_parameter",
        "input_fidelity",
        id="input-fidelity-on-gemini",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT, "seed": "7"},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "unknown_parameter",
        "seed",
        id="unknown-field",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("a.png", picture(), "image/png")), ("markup", ("m.png", picture(), "image/png"))],
        400,
        "unsupported_parameter",
        "markup",
        id="markup",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", (None, "https://example.com/a.png"))],
        400,
        "invalid_type",
        "image",
        id="image-as-text",
    ),
    pytest.param(
        {"model": "gpt-image-2", "prompt": PROMPT},
        [("image", ("a.png", picture(), "image/png"))],
        400,
        "unsupported_operation",
        "model",
        id="gpt-image-2",
    ),
    pytest.param(
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("big.png", b"\x89PNG" + b"\0" * 7_400_000, "image/png"))],
        413,
        "request_too_large",
        "image",
        id="image-over-the-models-7-MiB",
    ),
]


@pytest.mark.parametrize(("data", "files", "status", "code", "param"), BAD_EDITS)
def test_bad_edits(
    live_gateway: Gateway,
    funded: Account,
    fake_gemini: FakeGemini,
    data: dict[str, str],
    files: list[Any],
    status: int,
    code: str,
    param: str,
) -> None:
    response = post_edit(live_gateway, funded.key, data, files)
    kind = "invalid_request_error"
    assert_error(response, status, kind, code, param)
    assert fake_gemini.requests == []
    assert live_gateway.balance(funded.id) == (100_000_000, 0)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"model": "nano-banana-2", "prompt": "x"}', "application/json"),
        (b"--xyz\r\ngarbage without headers", "multipart/form-data; boundary=xyz"),
        (b"anything", "multipart/form-data"),  # no boundary
    ],
    ids=["json-body", "broken-multipart", "no-boundary"],
)
def test_a_body_that_is_not_multipart(
    live_gateway: Gateway, funded: Account, content: bytes, content_type: str
) -> None:
    with live_gateway.http() as http:
        response = http.post(
            "/v1/images/edits",
            content=content,
            headers={"Authorization": f"Bearer {funded.key}", "Content-Type": content_type},
        )
    assert_error(response, 400, "invalid_request_error", "invalid_multipart")
    assert live_gateway.balance(funded.id) == (100_000_000, 0)


def test_a_60_mb_upload_is_413(live_gateway: Gateway, funded: Account) -> None:
    huge = b"\x89PNG" + b"\0" * (60 * 1024 * 1024)
    response = post_edit(
        live_gateway,
        funded.key,
        {"model": "nano-banana-2", "prompt": PROMPT},
        [("image", ("huge.png", huge, "image/png"))],
    )
    assert_error(response, 413, "invalid_request_error", "request_too_large")
    assert live_gateway.balance(funded.id) == (100_000_000, 0)


@pytest.mark.parametrize(
    ("files", "status", "code", "param"),
    [
        (
            [
                ("image", ("a.png", picture(64, 48), "image/png")),
                ("mask", ("m.png", picture(32, 32, colour=(0, 0, 0, 0)), "image/png")),
            ],
            400,
            "invalid_value",
            "mask",
        ),
        (
            [
                ("image", ("a.png", picture(64, 48), "image/png")),
                ("mask", ("m.jpg", picture(64, 48, "JPEG"), "image/jpeg")),
            ],
            400,
            "invalid_value",
            "mask",
        ),
        ([("image[]", (f"{i}.png", picture(), "image/png")) for i in range(17)], 400, "invalid_value", "image"),
        ([("image", ("noise.png", picture(400, 400, "BMP"), "image/png"))], 413, "request_too_large", "image"),
    ],
    ids=["mask-wrong-size", "mask-not-png", "17-images", "image-over-the-gateway-limit"],
)
def test_bad_edits_on_openai(
    edits_on: Gateway,
    operator_account: Account,
    upstream: FakeOpenAI,
    files: list[Any],
    status: int,
    code: str,
    param: str,
) -> None:
    response = post_edit(edits_on, operator_account.key, {"model": "gpt-image-2", "prompt": PROMPT}, files)
    assert_error(response, status, "invalid_request_error", code, param)
    assert upstream.requests == []
    assert edits_on.balance(operator_account.id) == (10_000_000, 0)


# -- streamed edits


def test_streamed_edit_on_a_non_streaming_upstream(
    live_gateway: Gateway, funded: Account, fake_gemini: FakeGemini
) -> None:
    stream = live_gateway.client(funded.key).images.edit(
        model="nano-banana-2", image=png(), prompt=PROMPT, stream=True, partial_images=2
    )
    assert [event.type for event in stream] == ["image_edit.completed"]
    assert len(fake_gemini.requests) == 1
    assert live_gateway.balance(funded.id) == (100_000_000 - 67_000, 0)


def test_streamed_edit_passes_partials_through(
    edits_on: Gateway, operator_account: Account, upstream: FakeOpenAI
) -> None:
    stream = edits_on.client(operator_account.key).images.edit(
        model="gpt-image-2", image=png(), prompt=PROMPT, stream=True, partial_images=1, quality="low"
    )
    assert [event.type for event in stream] == ["image_edit.partial_image", "image_edit.completed"]
    (sent,) = upstream.requests
    fields = {
        p.name: p.data.decode() for p in parse_multipart(sent.headers["content-type"], sent.body) if p.filename is None
    }
    assert (sent.path, fields["stream"], fields["partial_images"]) == ("/v1/images/edits", "true", "1")
    assert edits_on.balance(operator_account.id) == (10_000_000 - 6_000, 0)


# -- every parameter of the installed SDK's images.edit

SDK_EDIT_VALUES: dict[str, tuple[Any, str | None]] = {
    "image": (None, None),  # always sent
    "prompt": (None, None),
    "model": (None, None),
    "background": ("transparent", None),
    "input_fidelity": ("high", None),
    "mask": (("m.png", picture(colour=(0, 0, 0, 0)), "image/png"), None),
    "n": (1, None),
    "output_compression": (80, "invalid_value"),  # with the default png: refused, as for generations
    "output_format": ("webp", None),
    "quality": ("high", None),
    "response_format": ("b64_json", None),
    "safety_identifier": ("user-7f3a", None),
    "size": ("auto", None),
    "user": ("end-user-1", None),
    "stream": (True, None),
    "partial_images": (1, None),
    "complexity": ("high", "unsupported_parameter"),
    "frame_count": (4, "unsupported_parameter"),
    "frame_duration_ms": (100, "unsupported_parameter"),
    "svg": ({"model": "x"}, "unsupported_parameter"),
    "markup": (("m.png", picture(), "image/png"), "unsupported_parameter"),
}


def test_every_sdk_edit_parameter_is_known(edits_on: Gateway) -> None:
    """Each parameter of the installed SDK's `images.edit`, passed alone: served, or refused with a reason."""
    import inspect

    from openai.resources.images import Images

    names = set(inspect.signature(Images.edit).parameters) - {
        "self",
        "extra_headers",
        "extra_query",
        "extra_body",
        "timeout",
    }
    assert names <= set(SDK_EDIT_VALUES), f"list the SDK's new parameters: {sorted(names - set(SDK_EDIT_VALUES))}"
    client = edits_on.client(edits_on.new_account("0", test=True).key)
    for name in sorted(names - {"image", "prompt", "model"}):
        value, refusal = SDK_EDIT_VALUES[name]
        extra: dict[str, Any] = {"stream": True} if name == "partial_images" else {}
        try:
            result: Any = client.images.edit(model="gpt-image-2", image=png(), prompt=PROMPT, **{name: value}, **extra)
            if isinstance(result, openai.Stream):
                assert [event.type for event in result][-1] == "image_edit.completed"
        except openai.BadRequestError as exc:
            assert refusal is not None, f"{name}={value!r} was refused: {exc}"
            assert (exc.code, exc.param) == (refusal, name), (name, exc.code, exc.param)
            assert "Unknown parameter" not in exc.message
        else:
            assert refusal is None, f"{name}={value!r} was served, expected {refusal}"
