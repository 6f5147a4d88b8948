"""Every catalog model, every size, every output format: a live key through the model's own upstream.

The fakes draw the image at the size their wire format says (Gemini: the reference's pixel table
for the (aspectRatio, imageSize) the gateway sent; Seedream: the WxH sent, always JPEG; OpenAI and
Azure: the size and format sent). So a stored image of exactly the size and format asked for shows
the gateway asked correctly, re-encoded where the upstream could not give the format, and upscaled
only the sizes it declares in GET /v1/models.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image

from imagegate.config import load_catalog
from tests.conftest import Account, Gateway, serve_gateway
from tests.providers.conftest import live_env
from tests.upstreams.fake_azure import FakeAzure
from tests.upstreams.fake_gemini import FakeGemini, pixels
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_seedream import FakeSeedream

CATALOG = load_catalog()
FORMATS = {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}
PROMPT = "A copper kettle on a marble counter, morning light"


@pytest.fixture(scope="module")
def live_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_seedream: FakeSeedream,
    fake_azure: FakeAzure,
) -> Iterator[Gateway]:
    """This module's own gateway process: `live_env` with a patient upstream timeout. The fakes draw
    images up to 4K, which on a busy machine can take longer than the shared gateway's 1 s, and a
    retried request would be one more than the counts below expect."""
    env = {**live_env(fake_gemini, fake_seedream, fake_azure), "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "15"}
    yield from serve_gateway(tmp_path_factory, "every-model", fake_openai, extra_env=env)


def _one(gateway: Gateway, key: str, model: str, size: str, fmt: str) -> tuple[str, str, Any]:
    """(size, format, problem or None) of one generation, checked as a client sees it."""
    quality = {"quality": "low"} if CATALOG.models[model].capabilities.qualities else {}
    body = {"model": model, "prompt": PROMPT, "size": size, "output_format": fmt, **quality}
    response = gateway.post_images(key, body)
    if response.status_code != 200:
        return size, fmt, f"status {response.status_code}: {response.text[:300]}"
    result = response.json()
    (item,) = result["data"]
    download = httpx.get(item["url"], timeout=60)
    image = Image.open(io.BytesIO(download.content))
    got = (image.format, f"{image.width}x{image.height}", download.headers["content-type"])
    want = (FORMATS[fmt], size, f"image/{fmt}")
    return size, fmt, None if got == want else f"stored {got}, asked {want}"


def serve_all(gateway: Gateway, account: Account, model: str) -> list[str]:
    """Every size x format of `model`, two requests at a time; the problems found."""
    caps = CATALOG.models[model].capabilities
    cases = [(size, fmt) for size in caps.sizes for fmt in caps.output_formats]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: _one(gateway, account.key, model, *c), cases))
    return [f"{size} {fmt}: {problem}" for size, fmt, problem in results if problem]


def expected_cost(model: str, quality: str | None) -> int:
    m = CATALOG.models[model]
    if m.free:
        return 0
    row = m.prices[quality or "standard"]
    return sum(row[size] for size in m.capabilities.sizes) * len(m.capabilities.output_formats)


@pytest.mark.parametrize("model", ["nano-banana-2", "nano-banana-pro"])
def test_gemini_models_serve_every_size_and_format(
    live_gateway: Gateway, funded: Account, fake_gemini: FakeGemini, model: str
) -> None:
    assert serve_all(live_gateway, funded, model) == []
    sent = fake_gemini.requests
    upstream_model = CATALOG.models[model].routes[0].upstream_model
    assert {r.path for r in sent} == {f"/v1beta/models/{upstream_model}:generateContent"}
    assert {r.headers["x-goog-api-key"] for r in sent} == {"gemini-fake-key"}
    pairs = {
        (
            r.json["generationConfig"]["imageConfig"]["aspectRatio"],
            r.json["generationConfig"]["imageConfig"]["imageSize"],
        )
        for r in sent
    }
    # exactly one pair per catalog size, and each pair is the reference's pixel size of that size
    assert {"{}x{}".format(*pixels(*pair)) for pair in pairs} == set(CATALOG.models[model].capabilities.sizes)
    assert len(sent) == len(CATALOG.models[model].capabilities.sizes) * 3
    assert live_gateway.balance(funded.id) == (100_000_000 - expected_cost(model, None), 0)


def test_seedream_serves_every_size_and_format(
    live_gateway: Gateway, funded: Account, fake_seedream: FakeSeedream
) -> None:
    assert serve_all(live_gateway, funded, "seedream-4.5") == []
    sent = fake_seedream.requests
    assert {r.headers["authorization"] for r in sent} == {"Bearer ark-fake-key"}
    assert {(r.json["model"], r.json["watermark"], r.json["response_format"]) for r in sent} == {
        ("seedream-4-5-251128", False, "b64_json")
    }
    assert {r.json["size"] for r in sent} == set(CATALOG.models["seedream-4.5"].capabilities.sizes)
    assert live_gateway.balance(funded.id) == (100_000_000 - expected_cost("seedream-4.5", None), 0)


def test_gpt_image_2_serves_every_size_and_format(
    live_gateway: Gateway, funded: Account, fake_openai: FakeOpenAI
) -> None:
    assert serve_all(live_gateway, funded, "gpt-image-2") == []
    sent = fake_openai.requests
    assert {r.json["size"] for r in sent} == {"1024x1024", "1024x1536", "1536x1024", "2048x2048", "2880x2880"}
    assert {r.json["output_format"] for r in sent if r.json["size"] == "2880x2880"} == {"png"}
    assert live_gateway.balance(funded.id) == (100_000_000 - expected_cost("gpt-image-2", "low"), 0)


def test_gpt_image_2_official_serves_every_size_and_format_through_azure(
    live_gateway: Gateway, funded: Account, fake_azure: FakeAzure
) -> None:
    assert serve_all(live_gateway, funded, "gpt-image-2-official") == []
    sent = fake_azure.requests
    assert {r.path for r in sent} == {"/openai/deployments/gpt-image-2/images/generations"}
    assert {r.query for r in sent} == {"api-version=2025-04-01-preview"}
    assert {r.headers["api-key"] for r in sent} == {"azure-fake-key"}
    assert all("authorization" not in r.headers for r in sent)
    assert {r.json["output_format"] for r in sent} == {"png", "jpeg"}  # WEBP is never asked of Azure
    assert live_gateway.balance(funded.id) == (100_000_000 - expected_cost("gpt-image-2-official", "low"), 0)


def test_preview_serves_a_live_key_for_free(live_gateway: Gateway, funded: Account) -> None:
    assert serve_all(live_gateway, funded, "preview") == []
    assert live_gateway.balance(funded.id) == (100_000_000, 0)


def test_models_endpoint_marks_upscaled_sizes(live_gateway: Gateway) -> None:
    with live_gateway.http() as http:
        models = {m["id"]: m["imagegate"]["capabilities"] for m in http.get("/v1/models").json()["data"]}
    assert models["gpt-image-2"]["upscaled_from"] == {"4096x4096": "2880x2880"}
    assert models["gpt-image-2-official"]["upscaled_from"] == {"4096x4096": "2880x2880"}
    for model in ("nano-banana-2", "nano-banana-pro", "seedream-4.5", "preview"):
        assert models[model]["upscaled_from"] == {}


def test_gemini_interim_thought_image_is_skipped(
    live_gateway: Gateway, funded: Account, fake_gemini: FakeGemini
) -> None:
    """Gemini 3 may send a `thought: true` draft first (here 64x64); only the final image counts."""
    fake_gemini.script({"kind": "thought_image"})
    assert _one(live_gateway, funded.key, "nano-banana-pro", "2528x1696", "png") == ("2528x1696", "png", None)
    assert len(fake_gemini.requests) == 1  # the draft did not make the gateway retry


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_gemini_jpeg_answer_is_delivered_as_asked(
    live_gateway: Gateway, funded: Account, fake_gemini: FakeGemini, fmt: str
) -> None:
    fake_gemini.script({"kind": "jpeg"})
    assert _one(live_gateway, funded.key, "nano-banana-2", "1376x768", fmt) == ("1376x768", fmt, None)
    assert len(fake_gemini.requests) == 1


@pytest.mark.parametrize("model", sorted(CATALOG.models))
def test_every_model_runs_as_a_polled_async_job(live_gateway: Gateway, funded: Account, model: str) -> None:
    """`Prefer: respond-async` on every catalog model's own wire: 202, then the polled job's result is the
    synchronous answer (an image of the default size at its URL), billed once at the model's price."""
    client = live_gateway.client(funded.key)
    quality = {"quality": "low"} if CATALOG.models[model].capabilities.qualities else {}
    raw = client.images.with_raw_response.generate(
        model=model, prompt=PROMPT, extra_headers={"Prefer": "respond-async"}, **quality
    )
    assert raw.http_response.status_code == 202
    job_id = raw.http_response.json()["id"]
    deadline = time.monotonic() + 60
    job: dict[str, Any] = {"status": "queued"}
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the job as a client does, bounded
        job = client.get(f"/images/jobs/{job_id}", cast_to=httpx.Response).json()
    assert job["status"] == "completed", job
    (item,) = job["result"]["data"]
    image = Image.open(io.BytesIO(httpx.get(item["url"], timeout=60).content))
    assert f"{image.width}x{image.height}" == CATALOG.models[model].capabilities.default_size
    charged = job["result"]["billing"]["amount_micros"]
    m = CATALOG.models[model]
    price = 0 if m.free else m.prices[quality.get("quality", "standard")][m.capabilities.default_size]
    assert charged == price
    assert live_gateway.balance(funded.id) == (100_000_000 - price, 0)


@pytest.mark.parametrize("model", sorted(CATALOG.models))
def test_every_model_streams_through_the_sdk(live_gateway: Gateway, funded: Account, model: str) -> None:
    """`images.generate(stream=True)` on every catalog model's own wire: the SDK iterates the events and the
    last one is the completed image of the default size, billed as unstreamed."""
    quality = {"quality": "low"} if CATALOG.models[model].capabilities.qualities else {}
    stream = live_gateway.client(funded.key).images.generate(
        model=model, prompt=PROMPT, stream=True, partial_images=1, **quality
    )
    events = list(stream)
    assert [e.type for e in events][-1] == "image_generation.completed"
    assert {e.type for e in events[:-1]} <= {"image_generation.partial_image"}
    final = events[-1]
    image = Image.open(io.BytesIO(base64.b64decode(final.b64_json)))  # type: ignore[union-attr]
    m = CATALOG.models[model]
    assert f"{image.width}x{image.height}" == m.capabilities.default_size
    price = 0 if m.free else m.prices[quality.get("quality", "standard")][m.capabilities.default_size]
    assert live_gateway.balance(funded.id) == (100_000_000 - price, 0)
