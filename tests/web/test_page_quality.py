"""What every page owes a reader, in Debian's Chromium: no serious or critical accessibility violation
(axe-core, vendored under tests/web/vendor, injected by the test) in the light and the dark scheme;
at 390 px nothing wider than the screen; and the playground's and account page's finish (an old error
cleared by a good key, thumbnails that open full size, charts that say "Nothing yet" on their axes,
a refused request's row naming its model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Gateway
from tests.web.conftest import ADMIN_TOKEN, ARTIFACTS, cli_json, new_account, screenshot

AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"
"""axe-core 4.14.1 from the npm registry (MPL-2.0, licence beside it), committed so the test needs no network."""
PUBLIC_PAGES = ["/", "/models", "/playground", "/account"]
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def filled(web_gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    """The gateway with what makes every part of a page appear: a sample in a gallery, a live and a
    test key with requests (one of them refused) and images."""
    picture = tmp_path_factory.mktemp("samples") / "sample.png"
    Image.new("RGB", (1024, 1024), (30, 90, 160)).save(picture)
    cli_json(web_gateway, "samples", "add", "nano-banana-2", str(picture), "--prompt", "A blue study")
    live = new_account(web_gateway, "margin chart", "1")  # a live request: /admin draws its margin chart
    made = web_gateway.post_images(live.key, {"model": "gpt-image-2", "prompt": "a kite", "quality": "low"})
    assert made.status_code == 200, made.text
    return web_gateway


def every_page(gateway: Gateway) -> list[str]:
    with gateway.http() as http:
        models = [m["id"] for m in http.get("/v1/models").json()["data"]]
    return [*PUBLIC_PAGES, *(f"/models/{m}" for m in models)]


def log_in(page: Any, gateway: Gateway) -> None:
    page.goto(gateway.base_url + "/admin", wait_until="networkidle")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now (WCAG 2.x A and AA rules
    and axe's best practices)."""
    page.add_script_tag(content=AXE.read_text("utf-8"))  # the context bypasses the page's CSP for it
    result = page.evaluate("async () => JSON.parse(JSON.stringify(await axe.run(document)))")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_has_a_serious_accessibility_violation(filled: Gateway, browser: Any, scheme: str) -> None:
    ctx = browser.new_context(color_scheme=scheme, bypass_csp=True, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    try:
        key = new_account(filled, f"axe {scheme}", "1").key
        ctx.add_init_script(f"sessionStorage.setItem('imagegate.key', {key!r})")
        page = ctx.new_page()
        found: dict[str, Any] = {}
        for path in every_page(filled):
            page.goto(filled.base_url + path, wait_until="networkidle")
            found[path] = axe_violations(page)
        page.goto(filled.base_url + "/admin", wait_until="networkidle")
        found["/admin (login)"] = axe_violations(page)
        log_in(page, filled)
        page.eval_on_selector_all("details", "ds => ds.forEach(d => d.open = true)")
        found["/admin (dashboard)"] = axe_violations(page)
    finally:
        ctx.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{scheme}.json").write_text(json.dumps(found, indent=2))
    assert {path: v for path, v in found.items() if v} == {}


WIDER_THAN_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => { const s = getComputedStyle(el); return s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden'; };
  const inside = (el, box) => { for (let p = el.parentElement; p; p = p.parentElement) { if (p === box) return true; } return false; };
  const boxes = Array.from(document.querySelectorAll('body *')).filter((el) => scrolls(el));
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < -1 || r.right > width + 1) {
      const clipped = boxes.find((box) => inside(el, box));
      out.push({tag: el.tagName.toLowerCase(), id: el.id, cls: el.className && String(el.className), left: Math.round(r.left), right: Math.round(r.right), clipped: clipped ? (clipped.id || clipped.className) : null});
    }
  }
  return out.slice(0, 20);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_at_390_px_no_element_is_wider_than_the_screen(filled: Gateway, browser: Any, scheme: str) -> None:
    """Public pages: nothing at all past the edge. The admin dashboard: only inside a table that
    scrolls in its own box (with the shadow that says so)."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, color_scheme=scheme
    )
    try:
        key = new_account(filled, f"narrow {scheme}", "1").key
        ctx.add_init_script(f"sessionStorage.setItem('imagegate.key', {key!r})")
        page = ctx.new_page()
        wide: dict[str, Any] = {}
        for path in every_page(filled):
            page.goto(filled.base_url + path, wait_until="networkidle")
            page.eval_on_selector_all("details", "ds => ds.forEach(d => d.open = true)")
            wide[path] = page.evaluate(WIDER_THAN_SCREEN)
            screenshot(page, f"narrow-{scheme}{path}")
        log_in(page, filled)
        page.eval_on_selector_all("details", "ds => ds.forEach(d => d.open = true)")
        wide["/admin"] = [e for e in page.evaluate(WIDER_THAN_SCREEN) if not e["clipped"]]
        screenshot(page, f"narrow-{scheme}/admin-dashboard")
        assert {path: found for path, found in wide.items() if found} == {}
    finally:
        ctx.close()


def test_a_good_key_clears_the_old_error_and_thumbnails_open_full_size(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Any]
) -> None:
    page, _ = watched
    good = new_account(web_gateway, "polish", test=True).key
    context.add_init_script("sessionStorage.setItem('imagegate.key', 'ig_live_not-a-real-key')")
    page.goto(web_gateway.base_url + "/playground", wait_until="networkidle")
    page.wait_for_selector("#gen-form[data-ready=true]")
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error .error-code") == "invalid_api_key"
    page.fill("#api-key", good)
    page.press("#api-key", "Enter")
    page.wait_for_selector("#error", state="hidden")
    page.wait_for_function("() => document.getElementById('quote').textContent.startsWith('Quote: free')")
    page.select_option("#f-model", "preview")
    page.select_option("#f-size", "1536x1024")
    page.click("#generate")
    page.wait_for_selector("#results a.zoom img")
    page.click("#results a.zoom")
    page.wait_for_function(
        "() => { const i = document.getElementById('lightbox-image'); return i.complete && i.naturalWidth > 0; }"
    )
    assert page.locator("#lightbox").is_visible()
    assert page.eval_on_selector("#lightbox-image", "i => [i.naturalWidth, i.naturalHeight]") == [1536, 1024]
    assert page.get_attribute("#lightbox-open", "href") == page.get_attribute("#results a.zoom", "href")
    page.keyboard.press("Escape")
    assert not page.locator("#lightbox").is_visible()


def test_an_account_with_nothing_yet_says_so_on_its_charts_then_shows_its_requests(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Any]
) -> None:
    page, watch = watched
    account = new_account(web_gateway, "charts", "1")
    context.add_init_script(f"sessionStorage.setItem('imagegate.key', {account.key!r})")
    page.goto(web_gateway.base_url + "/account", wait_until="networkidle")
    page.wait_for_selector("#spend-chart svg")
    for chart in ("#spend-chart", "#images-chart"):
        assert page.locator(f"{chart} line.axis").count() == 2  # both axes, even when empty
        texts = page.eval_on_selector_all(f"{chart} svg text", "ts => ts.map(t => t.textContent)")
        assert "Nothing yet" in texts and len(texts) >= 4  # zero on the value axis, and dates
        assert "nothing yet" in page.text_content(f"{chart} figcaption")
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone the chart is redrawn at its width
    page.wait_for_function("() => document.querySelector('#spend-chart svg').getAttribute('width') < 400")
    heights = page.eval_on_selector_all("#spend-chart svg text", "ts => ts.map(t => t.getBoundingClientRect().height)")
    assert min(heights) >= 12  # dates readable, not 5 px
    screenshot(page, "account-empty-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert "Nothing yet" in page.text_content("#recent tbody")
    screenshot(page, "account-empty")

    with web_gateway.http() as http:
        headers = {"Authorization": f"Bearer {account.key}"}
        body = {"model": "gpt-image-2", "prompt": "a red cube", "size": "1024x1024", "quality": "low"}
        assert http.post("/v1/images/generations", json=body, headers=headers).status_code == 200
        assert http.post("/v1/images/generations", json={**body, "size": "7x7"}, headers=headers).status_code == 400
    page.reload(wait_until="networkidle")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#spend-chart rect.bar')).some(r => r.getAttribute('height') > 0)"
    )
    assert "total $0.006 over 30 days" in page.text_content("#spend-chart figcaption")
    rows = page.eval_on_selector_all(
        "#recent tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
    )
    assert [(r[1], r[2]) for r in rows] == [("400 invalid_value", "gpt-image-2"), ("200", "gpt-image-2")]
    assert watch.problems() == []
    screenshot(page, "account-with-requests")
