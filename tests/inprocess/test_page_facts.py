"""The facts the pages state, true for this gateway, in process: measured latency from live requests
only, whether each model can be served now (not configured, degraded), the price card summarised,
a refused request's row keeping the model it named, the gateway's own time in `Server-Timing`, and
the examples gallery (kept, shown, served, refused when wrong, removed; "use as sample" in the admin
pages)."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Awaitable, Callable
from html import unescape
from pathlib import Path

import httpx
from PIL import Image

from .app import InProcess, app_settings, open_app

ADMIN_TOKEN = "page-facts-admin-token"
CATALOG = """
[[models.gpt-image-2.routes]]
name = "offline"
provider = "preview"
credentials = "none"
upstream_model = "preview"

[models.broken]
vendor = "Example Corp"
display_name = "Broken diffusion"
sizes = ["1024x1024"]
max_n = 1
max_prompt_chars = 2000
latency_seconds = [1, 2]
prices.standard = { "1024x1024" = 1000 }

[[models.broken.routes]]
name = "gpu-a"
provider = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"
upstream_model = "house"
"""
"""gpt-image-2 at its real prices, drawn by the offline preview (so a live key pays, offline); a model
whose only route points at a closed port (its circuit opens after one failure); the rest of the
shipped catalog has no credentials here."""
BODY = {"model": "gpt-image-2", "prompt": "a red kite over the sea", "quality": "high", "size": "1024x1024"}


def run_app(tmp_path: Path, scenario: Callable[[InProcess], Awaitable[None]]) -> None:
    env = {
        "IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "IMAGEGATE_BREAKER_FAILURES": "1",
        "IMAGEGATE_RETRY_ATTEMPTS": "1",
        "IMAGEGATE_RETRY_BASE_SECONDS": "0.01",
    }

    async def go() -> None:
        async with open_app(app_settings(tmp_path / "data", CATALOG, **env)) as app:
            await scenario(app)

    asyncio.run(go())


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id (tags dropped, whitespace folded)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(tr|p|dd|dl|div|section)>', html, re.S)
    assert match, element_id
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 20)).save(out, "PNG")
    return out.getvalue()


def test_measured_latency_counts_live_requests_only(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        test_key = await app.new_key(test=True)
        for _ in range(3):  # free previews: quick, and not what a live request takes
            assert (await app.http.post("/v1/images/generations", json=BODY, headers=auth(test_key))).status_code == 200
        page = (await app.http.get("/models/gpt-image-2")).text
        assert text_of(page, "measured-overall").endswith("not enough data (0 live requests)")
        assert text_of(page, "measured-reference").endswith("not enough data (0 live requests)")
        live_key = await app.new_key("5")
        for _ in range(3):
            assert (await app.http.post("/v1/images/generations", json=BODY, headers=auth(live_key))).status_code == 200
        page = (await app.http.get("/models/gpt-image-2")).text
        for row in ("measured-overall", "measured-reference"):
            assert re.search(r"median \d+\.\d s, p90 \d+\.\d s \(3 live requests\)$", text_of(page, row)), row
        assert "3 live requests" in text_of(page, "measured-head")

    run_app(tmp_path, scenario)


def test_each_model_says_whether_this_gateway_can_serve_it_now(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        models = {m["id"]: m["imagegate"]["availability"] for m in (await app.http.get("/v1/models")).json()["data"]}
        assert models["gpt-image-2"]["state"] == "available"
        assert models["nano-banana-2"] == {
            "state": "not_configured",
            "routes": 1,
            "configured_routes": 0,
            "failing_routes": 0,
        }
        assert models["broken"]["state"] == "available"  # configured, not failed yet
        page = (await app.http.get("/models/nano-banana-2")).text
        assert text_of(page, "availability").startswith("Not configured on this gateway No route of this model")
        assert 'data-state="available"' in (await app.http.get("/models/gpt-image-2")).text
        landing = (await app.http.get("/")).text
        card = re.search(r'<article class="card"[^>]*id="card-seedream-4.5".*?</article>', landing, re.S)
        assert card and 'data-state="not_configured"' in card.group(0)
        assert "Not configured on this gateway" in card.group(0)

        live_key = await app.new_key("5")
        failed = await app.http.post(
            "/v1/images/generations", json={"model": "broken", "prompt": "a house"}, headers=auth(live_key)
        )
        assert failed.status_code in (502, 503, 504), failed.text
        deadline = time.monotonic() + 15  # each process publishes its circuits within a second
        while time.monotonic() < deadline:
            state = (await app.http.get("/v1/models/broken")).json()["imagegate"]["availability"]["state"]
            if state == "degraded":
                break
            await asyncio.sleep(0.2)
        assert state == "degraded"
        page = (await app.http.get("/models/broken")).text
        assert text_of(page, "availability").startswith("Degraded Its upstream is failing (circuit open)")
        assert 'id="card-broken" ' not in page
        assert 'data-state="degraded"' in (await app.http.get("/models")).text

    run_app(tmp_path, scenario)


def test_price_cards_that_repeat_one_price_are_summarised(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        pro = (await app.http.get("/models/nano-banana-pro")).text
        assert text_of(pro, "price-summary") == "Per image 1K–2K $0.134 · 4K $0.24"
        assert "Every size (30)" in pro  # the whole table, folded away
        assert text_of((await app.http.get("/models/seedream-4.5")).text, "price-summary") == (
            "Per image every size $0.04"
        )
        assert 'id="price-summary"' not in (await app.http.get("/models/gpt-image-2")).text  # its table says it

    run_app(tmp_path, scenario)


def test_a_refused_request_keeps_the_model_it_named(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key("5")
        refused = await app.http.post("/v1/images/generations", json={**BODY, "size": "999x999"}, headers=auth(key))
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "size"
        unknown = await app.http.post(
            "/v1/images/generations", json={**BODY, "model": "no-such-model"}, headers=auth(key)
        )
        assert unknown.status_code == 400
        recent = (await app.http.get("/v1/account/activity", headers=auth(key))).json()["recent"]
        assert [(r["status"], r["model"]) for r in recent] == [(400, None), (400, "gpt-image-2")]

    run_app(tmp_path, scenario)


def test_a_generation_says_how_long_it_took_inside_the_gateway(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key("5")
        started = time.monotonic()
        answer = await app.http.post("/v1/images/generations", json=BODY, headers=auth(key))
        took_ms = (time.monotonic() - started) * 1000
        match = re.fullmatch(r"gateway;dur=(\d+)", answer.headers["server-timing"])
        assert match and 0 <= int(match.group(1)) <= took_ms + 1
        usage = (await app.http.get("/v1/usage", headers=auth(key))).json()["data"]
        assert abs(usage[0]["latency_ms"] - int(match.group(1))) <= 50  # the figure its record keeps

    run_app(tmp_path, scenario)


def test_the_examples_gallery_shows_what_the_operator_added(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        samples = app.gateway.samples
        page = (await app.http.get("/models/nano-banana-2")).text
        assert 'id="examples"' not in page and 'id="gallery"' not in page  # none shown when empty
        added = await samples.add("nano-banana-2", png(), "A copper kettle <b>on</b> a stove", {})
        assert (added["width"], added["height"], added["params"]) == (64, 48, {})
        sized = await samples.add("nano-banana-2", png(1024, 1024), "A brass lamp at dusk", {})
        assert sized["params"] == {"size": "1024x1024"}  # a catalog size read from the image
        page = (await app.http.get("/models/nano-banana-2")).text
        gallery = re.search(r'id="gallery".*?</section>', page, re.S)
        assert gallery
        assert "A copper kettle &lt;b&gt;on&lt;/b&gt; a stove" in gallery.group(0)  # escaped, shown
        assert "size: 1024x1024" in gallery.group(0)
        assert gallery.group(0).index("A brass lamp") < gallery.group(0).index("A copper kettle")  # newest first
        served = await app.http.get(added["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        assert served.content == png() and "immutable" in served.headers["cache-control"]
        assert (await app.http.get("/samples/smp_00000000000000000000000000.png")).status_code == 404
        assert (await app.http.get("/samples/../../data/imagegate.db")).status_code == 404

        await samples.remove(added["id"])
        assert (await app.http.get(added["url"])).status_code == 404
        assert [s["id"] for s in (await samples.listing("nano-banana-2"))["data"]] == [sized["id"]]

    run_app(tmp_path, scenario)


def test_a_sample_the_model_would_refuse_is_not_kept(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        samples = app.gateway.samples
        refusals = [
            (("nano-banana-2", b"not an image", "a kettle", {}), 400, "file"),
            (("nano-banana-2", png(), "a kettle", {"quality": "high"}), 400, "quality"),  # no quality levels
            (("nano-banana-2", png(), "   ", {}), 400, "prompt"),
            (("nano-banana-2", png(), "a \x00 kettle", {}), 400, "prompt"),
            (("nano-banana-2", png(), "a kettle", {"webhook": "x"}), 400, "webhook"),
            (("no-such-model", png(), "a kettle", {}), 404, "model"),
        ]
        for args, status, param in refusals:
            try:
                await samples.add(*args)
            except Exception as exc:
                assert (getattr(exc, "status", None), getattr(exc, "param", None)) == (status, param), args
            else:
                raise AssertionError(f"{args[:1]} {args[3]} was kept")
        assert (await samples.listing())["data"] == []
        kept = tmp_path / "data" / "images" / "samples"
        assert not kept.exists() or not any(kept.iterdir())

    run_app(tmp_path, scenario)


def test_use_as_sample_from_the_admin_pages(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key("5")
        made = await app.http.post("/v1/images/generations", json={**BODY, "quality": "low"}, headers=auth(key))
        image_id = made.json()["data"][0]["url"].split("/v1/files/")[1].split(".")[0]
        async with httpx.AsyncClient(transport=app.http._transport, base_url=app.http.base_url) as admin:
            assert (await admin.post("/admin/login", data={"token": ADMIN_TOKEN})).status_code == 303
            dashboard = (await admin.get("/admin")).text
            assert f'action="/admin/images/{image_id}/sample"' in dashboard
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', dashboard)
            assert csrf
            blank = await admin.post(f"/admin/images/{image_id}/sample", data={"csrf": csrf.group(1), "prompt": ""})
            assert blank.status_code == 400 and 'id="admin-error"' in blank.text
            done = await admin.post(
                f"/admin/images/{image_id}/sample", data={"csrf": csrf.group(1), "prompt": "a red kite over the sea"}
            )
            assert done.status_code == 303 and done.headers["location"] == "/admin?done=sample"
        page = (await app.http.get("/models/gpt-image-2")).text
        gallery = re.search(r'id="gallery".*?</section>', page, re.S)
        assert gallery and "a red kite over the sea" in gallery.group(0) and "size: 1024x1024" in gallery.group(0)
        (sample,) = (await app.gateway.samples.listing("gpt-image-2"))["data"]
        assert sample["source"] == image_id
        original = await app.http.get(made.json()["data"][0]["url"])
        assert (await app.http.get(sample["url"])).content == original.content

    run_app(tmp_path, scenario)
