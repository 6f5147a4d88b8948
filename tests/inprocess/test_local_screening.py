"""Output screening's `local` mode with the real NudeNet detector on onnxruntime (the `screening`
extra, which the test extra installs): harmless images pass it (the offline previews, the fake
upstream's images, simple scenes drawn with Pillow), and the detector's own scores on real inference
cross an operator's threshold; without the extra the gateway refuses to start, naming the pip line."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from imagegate.config import load_safety_policy
from imagegate.imaging.images import screening_view
from imagegate.providers.local_classifier import LocalDetector
from tests.upstreams.fake_openai import FakeOpenAI, render_image
from tests.upstreams.marked_images import render_marked

from .app import app_settings, offline_routes, open_app

UPSTREAM_KEY = "sk-fake-upstream-local"
OFFLINE_GPT_IMAGE = offline_routes("gpt-image-2")
STRICT_PARTIAL_NUDITY = """
[output.categories.partial_nudity]
action = "block"
local = { BUTTOCKS_EXPOSED = 0.3 }
"""
"""An operator's policy far stricter than the shipped one (which flags this class from 0.6)."""


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def landscape() -> Image.Image:
    image = Image.new("RGB", (1024, 1024))
    draw = ImageDraw.Draw(image)
    for y in range(600):
        draw.line((0, y, 1024, y), fill=(90 + y // 10, 150 + y // 12, 235))
    draw.rectangle((0, 600, 1024, 1024), fill=(60, 140, 60))
    draw.ellipse((700, 100, 860, 260), fill=(255, 220, 80))
    draw.polygon([(100, 600), (350, 250), (600, 600)], fill=(120, 110, 100))
    return image


def house() -> Image.Image:
    image = Image.new("RGB", (1536, 1024), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((500, 450, 1020, 850), fill=(180, 60, 50))
    draw.polygon([(460, 450), (760, 200), (1060, 450)], fill=(90, 50, 40))
    draw.rectangle((700, 650, 800, 850), fill=(70, 40, 20))
    return image


def cartoon_face() -> Image.Image:
    image = Image.new("RGB", (1024, 1024), (120, 170, 220))
    draw = ImageDraw.Draw(image)
    draw.ellipse((312, 200, 712, 700), fill=(235, 195, 160))
    draw.ellipse((420, 380, 470, 430), fill=(30, 30, 30))
    draw.ellipse((560, 380, 610, 430), fill=(30, 30, 30))
    draw.arc((430, 480, 600, 600), 20, 160, fill=(150, 40, 40), width=8)
    return image


@pytest.fixture(scope="module")
def detector() -> LocalDetector:
    return LocalDetector.load()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encoded(landscape()), id="landscape"),
        pytest.param(encoded(house(), "JPEG"), id="house-jpeg"),
        pytest.param(encoded(cartoon_face(), "WEBP"), id="cartoon-face-webp"),
        pytest.param(render_image(1024, 1024, "png", 0)[0], id="fake-upstream-0"),
        pytest.param(render_image(1024, 1536, "jpeg", 3)[0], id="fake-upstream-3"),
    ],
)
def test_harmless_images_pass_the_real_detector(detector: LocalDetector, data: bytes) -> None:
    scores = asyncio.run(detector.scores(screening_view(data, detector.view_side)))
    verdict = load_safety_policy().output.judge("local", scores)
    assert (verdict.blocked, verdict.flagged) == (None, ()), scores


def test_the_detectors_real_score_crosses_only_a_threshold_set_low(detector: LocalDetector) -> None:
    """The marked image (an abstract skin-toned oval) is scored BUTTOCKS_EXPOSED ~0.45 by the model:
    under the shipped 0.6, over an operator's 0.3."""
    scores = asyncio.run(detector.scores(screening_view(render_marked(1024, 1024, "png"), detector.view_side)))
    assert 0.3 <= scores["BUTTOCKS_EXPOSED"] < 0.6, scores
    assert load_safety_policy().output.judge("local", scores).blocked is None


@pytest.fixture(scope="module")
def upstream_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


def test_previews_pass_and_an_operators_threshold_blocks_on_the_gateway(
    tmp_path: Path, upstream_server: FakeOpenAI
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(STRICT_PARTIAL_NUDITY, "utf-8")

    async def previews() -> None:
        async with open_app(
            app_settings(tmp_path / "offline", OFFLINE_GPT_IMAGE, IMAGEGATE_OUTPUT_SCREENING="local")
        ) as app:
            page = (await app.http.get("/models/gpt-image-2")).text
            assert "screened before it is handed out (by a classifier on this gateway)" in page
            key = await app.new_key()
            for prompt, size in (("a red kite over the sea", "1024x1024"), ("a bowl of ramen", "1536x1024")):
                body = {"model": "gpt-image-2", "prompt": prompt, "quality": "low", "size": size, "n": 2}
                response = await app.http.post(
                    "/v1/images/generations", json=body, headers={"Authorization": f"Bearer {key}"}
                )
                assert response.status_code == 200, response.text
                assert response.json()["billing"]["images"] == 2

    async def operator_threshold() -> None:
        upstream_server.reset()
        env = {
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_BASE_URL": upstream_server.base_url,
            "IMAGEGATE_OUTPUT_SCREENING": "local",
            "IMAGEGATE_SAFETY_POLICY": str(policy),
        }
        async with open_app(app_settings(tmp_path / "upstream", None, **env)) as app:
            key = await app.new_key()
            upstream_server.script({"kind": "ok", "marked": [0]})
            body = {"model": "gpt-image-2", "prompt": "a red kite over the sea", "quality": "low"}
            response = await app.http.post(
                "/v1/images/generations", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 451, response.text
            error = response.json()["error"]
            assert error["code"] == "output_blocked" and "category: partial nudity" in error["message"]
            events = (await app.gateway.admin.reports.blocks())["data"]
            assert [(e["stage"], e["category"]) for e in events] == [("output", "partial_nudity")]
            assert (await app.gateway.admin.ledger.verify())["ok"]

    asyncio.run(previews())
    asyncio.run(operator_threshold())


def test_without_the_extra_the_gateway_refuses_to_start_naming_the_pip_line(tmp_path: Path) -> None:
    """`nudenet` made unimportable, as on an install without `imagegate[screening]`."""
    code = "import sys; sys.modules['nudenet'] = None; from imagegate.cli import main; main(['serve'])"
    env = {
        **os.environ,
        "IMAGEGATE_DATA_DIR": str(tmp_path / "data"),
        "IMAGEGATE_OUTPUT_SCREENING": "local",
        "IMAGEGATE_PORT": "1",  # never reached
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pip install 'imagegate[screening]'" in done.stderr
    assert "Serving on" not in done.stdout
