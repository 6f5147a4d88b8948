"""The account page's image library in Debian's Chromium (Playwright), against a real gateway process:
the images of the tab's key, found by the words of their prompts, opened in a lightbox with what made
them, deleted there, and sent back to the playground with the form filled in."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Gateway
from tests.web.conftest import Account, Watch, new_account, screenshot

PROMPTS = {
    "lighthouse": "A lighthouse on a cliff at dawn, watercolour",
    "kite": "a red kite over the sea",
    "markup": '<img src=x onerror="window.__pwned=1"> a fox in the snow',
}


def _generate(gateway: Gateway, key: str, prompt: str, **extra: Any) -> dict[str, Any]:
    body = {"model": "gpt-image-2", "prompt": prompt, "size": "1024x1024", "quality": "low", **extra}
    with gateway.http() as http:
        response = http.post("/v1/images/generations", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def stocked_account(gateway: Gateway, name: str) -> Account:
    """A test-key account with three stored images (and one inline image, which is not kept)."""
    account = new_account(gateway, name, test=True)
    _generate(gateway, account.key, PROMPTS["lighthouse"], size="1536x1024", output_format="webp")
    _generate(gateway, account.key, PROMPTS["kite"])
    _generate(gateway, account.key, PROMPTS["markup"])
    _generate(gateway, account.key, "an inline image", response_format="b64_json")
    return account


def _open_library(page: Any, gateway: Gateway, context: Any, key: str) -> None:
    context.add_init_script(f"sessionStorage.setItem('imagegate.key', {key!r})")
    page.goto(gateway.base_url + "/account", wait_until="networkidle")
    page.wait_for_function("() => document.querySelectorAll('#library-grid figure').length === 3")


def _search(page: Any, words: str, expected: int) -> None:
    page.fill("#library-query", words)
    page.click("#library-go")
    page.wait_for_function(
        f"() => !document.getElementById('library-grid').hasAttribute('aria-busy') "
        f"&& document.querySelectorAll('#library-grid figure').length === {expected}"
    )


def test_the_library_lists_searches_and_opens_images_with_what_made_them(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    account = stocked_account(web_gateway, "library-view")
    _open_library(page, web_gateway, context, account.key)
    captions = page.eval_on_selector_all("#library-grid .library-caption", "ps => ps.map(p => p.textContent)")
    assert captions == [PROMPTS["markup"], PROMPTS["kite"], PROMPTS["lighthouse"]]  # newest first
    assert page.is_hidden("#library-more")  # one page holds them all
    assert page.evaluate("() => window.__pwned") is None  # a prompt is text, never markup
    thumbnails = page.eval_on_selector_all("#library-grid img", "imgs => imgs.map(i => i.currentSrc)")
    assert all(".thumb.webp?" in src for src in thumbnails)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#library-grid img')).every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.eval_on_selector_all("#library-grid img", "imgs => imgs.map(i => i.naturalWidth)") == [256] * 3

    _search(page, "LIGHTHOUSE watercol", 1)
    assert page.text_content("#library-grid .library-caption") == PROMPTS["lighthouse"]
    assert "1 image" in page.text_content("#library-status")
    _search(page, 'kite" OR *', 0)  # search syntax is plain words: 'or' begins no word of the kite's prompt
    assert "No image matches" in page.text_content("#library-status")
    _search(page, "", 3)

    page.click("#library-grid figure:last-child a.library-open")
    page.wait_for_selector("#library-lightbox[open]")
    assert page.text_content("#library-prompt") == PROMPTS["lighthouse"]
    facts = dict(
        zip(
            page.eval_on_selector_all("#library-facts dt", "ds => ds.map(d => d.textContent)"),
            page.eval_on_selector_all("#library-facts dd", "ds => ds.map(d => d.textContent)"),
            strict=True,
        )
    )
    assert (facts["Model"], facts["Size"], facts["Quality"], facts["Format"]) == (
        "gpt-image-2",
        "1536x1024",
        "low",
        "webp",
    )
    page.wait_for_function("() => document.getElementById('library-image').naturalWidth === 1536")
    screenshot(page, "account-library-lightbox")
    page.keyboard.press("Escape")
    page.wait_for_selector("#library-lightbox", state="hidden")
    assert watch.problems() == []


def test_open_in_playground_fills_the_form_with_the_images_request(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    account = stocked_account(web_gateway, "library-playground")
    _open_library(page, web_gateway, context, account.key)
    _search(page, "lighthouse", 1)
    page.click("#library-grid figure a.library-open")
    watch.clear()
    page.click("#library-play")
    page.wait_for_url("**/playground")
    page.wait_for_selector("#gen-form[data-ready=true]")
    form = page.evaluate(
        "() => ['f-model', 'f-size', 'f-quality', 'f-format', 'f-prompt'].map(id => document.getElementById(id).value)"
    )
    assert form == ["gpt-image-2", "1536x1024", "low", "webp", PROMPTS["lighthouse"]]
    assert "imagegate.prefill" not in page.evaluate("() => Object.keys(sessionStorage)")  # used once
    assert all("lighthouse" not in request.url for request in watch.requests)  # handed over, never in a URL
    page.wait_for_function("() => document.getElementById('quote').textContent.startsWith('Quote:')")
    assert watch.problems() == []
    page.reload(wait_until="networkidle")
    page.wait_for_selector("#gen-form[data-ready=true]")
    assert page.input_value("#f-prompt") != PROMPTS["lighthouse"]


def test_deleting_in_the_lightbox_removes_the_image_everywhere(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    account = stocked_account(web_gateway, "library-delete")
    _open_library(page, web_gateway, context, account.key)
    _search(page, "kite", 1)
    page.click("#library-grid figure a.library-open")
    url = page.get_attribute("#library-file", "href")
    page.click("#library-delete")
    assert page.is_visible("#library-confirm")
    page.click("#library-delete-no")  # kept: nothing happens
    assert page.is_hidden("#library-confirm") and page.locator("#library-grid figure").count() == 1
    page.click("#library-delete")
    page.click("#library-delete-yes")
    page.wait_for_selector("#library-lightbox", state="hidden")
    assert page.locator("#library-grid figure").count() == 0
    assert "Deleted" in page.text_content("#library-status")
    assert httpx.get(url, timeout=30).status_code == 404
    _search(page, "", 2)
    assert watch.problems() == []


def test_the_library_fits_a_390_px_screen(web_gateway: Gateway, browser: Any) -> None:
    account = stocked_account(web_gateway, "library-narrow")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        _open_library(page, web_gateway, ctx, account.key)
        page.click("#library-grid figure a.library-open")
        page.wait_for_selector("#library-lightbox[open]")
        width = page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert width <= 390, f"the library is {width}px wide"
        assert page.is_visible("#library-play") and page.is_visible("#library-delete")
        screenshot(page, "narrow/account-library")
    finally:
        ctx.close()
