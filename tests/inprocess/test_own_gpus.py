"""The README's promise of open-weights models on your own GPUs, kept: its catalog entry, read from
README.md as written, serves images through an OpenAI-compatible server (the fake OpenAI upstream on
loopback stands in for the server in front of the GPUs), billed at its own prices."""

from __future__ import annotations

import asyncio
import io
import re
import tomllib
from pathlib import Path

from PIL import Image

from tests.conftest import ROOT, UPSTREAM_KEY
from tests.upstreams.fake_openai import FakeOpenAI

from .app import app_settings, open_app

SECTION = "### Open-weights models on your own GPUs"


def readme_entry() -> str:
    """The one TOML block of the README's section on your own GPUs."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    (block,) = re.findall(r"^```toml\n(.*?)^```", section, re.S | re.M)
    return block


def test_the_readmes_own_gpu_entry_serves_images_through_an_openai_compatible_server(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    entry = readme_entry()
    model_id = next(iter(tomllib.loads(entry)["models"]))
    catalog = re.sub(r'^base_url = "[^"]+"', f'base_url = "{upstream.base_url}"', entry, flags=re.M)
    assert catalog != entry

    async def scenario() -> None:
        settings = app_settings(tmp_path / "data", catalog, GPU_SERVER_KEY=UPSTREAM_KEY)
        async with open_app(settings) as app:
            key = await app.new_key("1")
            model = (await app.http.get(f"/v1/models/{model_id}")).json()["imagegate"]
            assert model["availability"]["state"] == "available"
            answer = await app.http.post(
                "/v1/images/generations",
                json={"model": model_id, "prompt": "a lighthouse", "size": "1536x1024", "output_format": "webp"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["billing"]["amount_micros"] == 3000  # its own price card
            (sent,) = upstream.requests
            assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # the key api_key_env names
            assert (sent.json["model"], sent.json["size"]) == ("flux.1-schnell", "1536x1024")
            image = Image.open(io.BytesIO((await app.http.get(answer.json()["data"][0]["url"])).content))
            assert (image.format, image.size) == ("WEBP", (1536, 1024))
            page = (await app.http.get(f"/models/{model_id}")).text
            assert "FLUX.1 [schnell] on our GPUs" in page
            assert re.search(r'id="availability"[^>]*data-state="available"', page)

    asyncio.run(scenario())
