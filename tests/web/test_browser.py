"""The pages in Debian's Chromium (Playwright), against a real gateway process and the fake OpenAI upstream."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from imagegate.domain.request import FIELDS
from tests.conftest import Gateway
from tests.web.conftest import ADMIN_TOKEN, Watch, cli_json, new_account, screenshot

PAGES = ["/", "/models", "/playground", "/account", "/admin"]
REFERENCE_SECTIONS = ["about", "pricing", "request", "parameters", "response", "errors", "when-to-use", "limits"]


def model_ids(gateway: Gateway) -> list[str]:
    with gateway.http() as http:
        return [m["id"] for m in http.get("/v1/models").json()["data"]]


def open_page(page: Any, gateway: Gateway, path: str) -> None:
    page.goto(gateway.base_url + path, wait_until="networkidle")


def with_key(context: Any, key: str) -> None:
    """A key as the key form leaves it: in the tab's session storage."""
    context.add_init_script(f"sessionStorage.setItem('imagegate.key', {key!r})")


def log_in(page: Any, gateway: Gateway, token: str = ADMIN_TOKEN) -> None:
    open_page(page, gateway, "/admin")
    page.fill("#admin-token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def generate(page: Any, *, model: str, size: str, n: int, fmt: str, prompt: str | None = None) -> None:
    page.wait_for_selector("#gen-form[data-ready=true]")
    page.select_option("#f-model", model)
    page.select_option("#f-size", size)
    page.select_option("#f-n", str(n))
    page.select_option("#f-format", fmt)
    if prompt is not None:
        page.fill("#f-prompt", prompt)


def natural_sizes(page: Any, count: int) -> list[list[int]]:
    page.wait_for_function(
        f"() => {{ const imgs = document.querySelectorAll('#results img'); "
        f"return imgs.length === {count} && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0); }}",
        timeout=30_000,
    )
    return page.eval_on_selector_all("#results img", "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")  # type: ignore[no-any-return]


def test_every_page_loads_without_console_errors_or_failed_requests(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    account = new_account(web_gateway, "pages", test=True)
    with_key(context, account.key)
    for path in [*PAGES, *(f"/models/{m}" for m in model_ids(web_gateway))]:
        watch.clear()
        open_page(page, web_gateway, path)
        assert page.title().endswith("imagegate")
        assert page.locator("main h1").count() == 1
        assert watch.problems() == [], path
        screenshot(page, f"page{path}")
    log_in(page, web_gateway)
    assert page.locator("#accounts-h").is_visible()
    assert watch.problems() == []
    screenshot(page, "page/admin-dashboard")


def test_playground_quotes_then_shows_two_1536x1024_webp_images(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    account = new_account(web_gateway, "playground", test=True)
    with_key(context, account.key)
    open_page(page, web_gateway, "/playground")
    generate(page, model="gpt-image-2", size="1536x1024", n=2, fmt="webp")
    page.wait_for_function("() => document.getElementById('quote').textContent.includes('for 2 × 1536x1024')")
    # a test key: free preview images, and what a live key would pay for the same body
    assert page.text_content("#quote") == (
        "Quote: free with a test key — a live key would pay $0.16 (2 × $0.08) for 2 × 1536x1024"
    )
    assert page.locator("#results img").count() == 0  # the quote comes before anything is generated
    with page.expect_response(lambda r: r.url.endswith("/v1/images/generations")) as answer:
        page.click("#generate")
    assert natural_sizes(page, 2) == [[1536, 1024], [1536, 1024]]
    gateway_ms = int(answer.value.headers["server-timing"].removeprefix("gateway;dur="))
    sources = page.eval_on_selector_all("#results img", "imgs => imgs.map(i => i.src)")
    assert all(".webp?" in src for src in sources)
    with httpx.Client() as http:
        assert {http.get(src).headers["content-type"] for src in sources} == {"image/webp"}
    captions = page.locator("#results figcaption")
    assert captions.count() == 2
    assert "Revised prompt:" in captions.first.text_content()
    assert "free with a test key (a live key: $0.08)" in captions.first.text_content()
    assert page.locator("#results a[download]").count() == 2
    took = f"{gateway_ms / 1000:.1f} s at the gateway"  # the gateway's own time, not the browser's
    assert page.text_content("#elapsed") == took and took in captions.first.text_content()
    assert watch.problems() == []
    # the key went to the API in the Authorization header only: never to a page, never in a URL
    for request in watch.requests:
        assert account.key not in request.url
        if not request.url.split("?")[0].startswith(web_gateway.base_url + "/v1/images"):
            assert "authorization" not in request.headers or request.url.startswith(web_gateway.base_url + "/v1/")
    pages = [r for r in watch.requests if r.resource_type == "document"]
    assert pages and all("authorization" not in r.headers for r in pages)
    screenshot(page, "playground-result")


def test_playground_shows_errors_as_message_and_code(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]
) -> None:
    page, _ = watched
    with_key(context, "ig_live_not-a-real-key")
    open_page(page, web_gateway, "/playground")
    page.wait_for_selector("#gen-form[data-ready=true]")
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error .error-code") == "invalid_api_key"
    assert "Invalid API key" in page.text_content("#error .error-message")


def test_model_page_has_every_section_and_the_live_prices(web_gateway: Gateway, watched: tuple[Any, Watch]) -> None:
    page, watch = watched
    open_page(page, web_gateway, "/models/gpt-image-2")
    for section in REFERENCE_SECTIONS:
        assert page.locator(f"section#{section} h2").is_visible(), section
    with web_gateway.http() as http:
        card = http.get("/v1/models/gpt-image-2").json()["imagegate"]["pricing"]["per_image_micros"]
    cells = page.eval_on_selector_all(
        "#pricing-table td",
        "tds => tds.map(td => [td.dataset.quality, td.dataset.size, Number(td.dataset.micros), td.textContent])",
    )
    assert {(q, s): m for q, s, m, _ in cells} == {(q, s): m for q, row in card.items() for s, m in row.items()}
    high = next(text for q, s, _, text in cells if (q, s) == ("high", "1024x1024"))
    assert high == "$0.211"
    params = page.eval_on_selector_all("#params-table tbody th", "ths => ths.map(t => t.textContent)")
    assert params == list(FIELDS)  # every field of the request, in the contract's order
    for example in ("curl", "python", "js"):
        code = page.eval_on_selector(f"#code-{example}", "c => c.textContent")
        assert f"{web_gateway.base_url}/v1" in code and "gpt-image-2" in code
    page.click("#tab-python")
    assert page.locator("#panel-python").is_visible() and not page.locator("#panel-curl").is_visible()
    assert "no" in page.text_content("#errors-table tbody tr:first-child td:nth-child(4)")
    assert page.locator("#when-to-use .see-also a[href='/models/gpt-image-2-official']").count() == 1

    cli_json(web_gateway, "prices", "set", "gpt-image-2", "--quality", "high", "--size", "1024x1024", "--usd", "0.5")
    try:
        page.reload(wait_until="networkidle")
        cell = page.locator("#pricing-table td[data-quality=high][data-size='1024x1024']")
        assert cell.text_content() == "$0.50"
        assert cell.get_attribute("data-micros") == "500000"
    finally:
        cli_json(
            web_gateway, "prices", "set", "gpt-image-2", "--quality", "high", "--size", "1024x1024", "--usd", "0.211"
        )
    assert watch.problems() == []


def test_a_model_without_styles_says_style_is_refused(web_gateway: Gateway, watched: tuple[Any, Watch]) -> None:
    page, _ = watched
    open_page(page, web_gateway, "/models/nano-banana-2")
    row = page.locator("#params-table tr.unsupported", has_text="style")
    assert "unsupported_parameter" in row.text_content()


def test_admin_flow_from_login_to_a_key_used_in_the_playground(
    web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    log_in(page, web_gateway, "not-the-token")
    assert "not the admin token" in page.text_content("#login-error")
    assert page.locator("#accounts-h").count() == 0
    watch.clear()

    log_in(page, web_gateway)
    cookie = next(c for c in context.cookies() if c["name"] == "imagegate_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.fill("#create-account input[name=name]", "Browser Co")
    page.click("#create-account button")
    page.wait_for_selector("#notice")
    account = page.locator("details.account", has_text="Browser Co").last
    account.locator("summary").click()
    account.locator("form.credit input[name=amount_usd]").fill("5")
    account.locator("form.credit button").click()
    page.wait_for_selector("#notice")
    account = page.locator("details.account", has_text="Browser Co").last
    assert "$5.00" in account.locator(".balance").text_content()
    account.locator("summary").click()
    account.locator("form.create-key button").click()
    key = page.text_content("#new-key-value").strip()
    assert key.startswith("ig_live_")
    screenshot(page, "admin-new-key")
    page.reload()  # shown once: gone from the page afterwards
    assert page.locator("#new-key").count() == 0
    assert watch.problems() == []

    play = context.new_page()
    play.goto(web_gateway.base_url + "/playground", wait_until="networkidle")
    play.fill("#api-key", key)
    play.press("#api-key", "Enter")
    generate(play, model="gpt-image-2", size="1024x1024", n=1, fmt="png")
    play.wait_for_function("() => document.getElementById('quote').textContent.startsWith('Quote: $0.053')")
    play.click("#generate")
    assert natural_sizes(play, 1) == [[1024, 1024]]
    assert "$0.053" in play.text_content("#results figcaption")

    page.goto(web_gateway.base_url + "/admin", wait_until="networkidle")
    assert "$4.947" in page.locator("details.account", has_text="Browser Co").last.locator(".balance").text_content()
    page.click("#logout")
    page.wait_for_selector("#admin-token")
    assert not [c for c in context.cookies() if c["name"] == "imagegate_admin"]
    open_page(page, web_gateway, "/admin")
    assert page.locator("#admin-token").is_visible() and page.locator("#accounts-h").count() == 0


def test_admin_refuses_a_forged_cookie(web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]) -> None:
    page, _ = watched
    host = "127.0.0.1"
    context.add_cookies(
        [{"name": "imagegate_admin", "value": "9999999999.00ff.deadbeef", "domain": host, "path": "/admin"}]
    )
    open_page(page, web_gateway, "/admin")
    assert page.locator("#admin-token").is_visible() and page.locator("#accounts-h").count() == 0


def test_playground_by_keyboard_alone(web_gateway: Gateway, watched: tuple[Any, Watch]) -> None:
    page, watch = watched
    account = new_account(web_gateway, "keyboard", test=True)
    open_page(page, web_gateway, "/playground")
    page.wait_for_selector("#gen-form[data-ready=true]")
    visited: list[str] = []

    def tab_to(element_id: str, limit: int = 30) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            current = page.evaluate("document.activeElement.id")
            visited.append(current)
            if current == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}: {visited}")

    tab_to("api-key")
    page.keyboard.type(account.key)
    page.keyboard.press("Enter")
    tab_to("f-size")
    page.keyboard.press("ArrowDown")  # the next size of the list: 1024x1536
    tab_to("f-n")
    page.keyboard.press("ArrowDown")  # n = 2
    tab_to("f-prompt")
    page.keyboard.press("Control+A")
    page.keyboard.type("A red bicycle against a white wall")
    tab_to("generate")
    page.wait_for_function("() => document.getElementById('quote').textContent.startsWith('Quote:')")
    page.keyboard.press("Enter")
    assert natural_sizes(page, 2) == [[1024, 1536], [1024, 1536]]
    assert {"f-model", "f-size", "f-n", "f-quality", "f-style", "f-format", "f-prompt", "generate"} <= set(visited)
    assert watch.problems() == []


@pytest.mark.parametrize("path", [*PAGES, "/models/gpt-image-2", "/models/nano-banana-2", "/admin#dashboard"])
def test_no_page_scrolls_sideways_at_390_px(web_gateway: Gateway, browser: Any, path: str) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        if path == "/admin#dashboard":
            log_in(page, web_gateway)
            page.eval_on_selector_all("details", "ds => ds.forEach(d => d.open = true)")
        else:
            open_page(page, web_gateway, path)
        width = page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert width <= 390, f"{path} is {width}px wide"
        screenshot(page, f"narrow{path}")
    finally:
        ctx.close()


def test_a_prompt_with_markup_never_executes(web_gateway: Gateway, context: Any, watched: tuple[Any, Watch]) -> None:
    page, _ = watched
    account = new_account(web_gateway, "<script>window.__pwned = 1</script>", test=True)
    with_key(context, account.key)
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 1">'
    open_page(page, web_gateway, "/playground")
    generate(page, model="preview", size="256x256", n=1, fmt="png", prompt=hostile)
    page.click("#generate")
    natural_sizes(page, 1)
    assert hostile in page.text_content("#results .revised")
    open_page(page, web_gateway, "/account")
    page.wait_for_function("() => document.querySelectorAll('#recent tbody tr').length > 0")
    page.wait_for_function("() => document.querySelectorAll('#library-grid img').length > 0")
    assert hostile in page.text_content("#library-grid .library-caption")  # the library shows it as text
    log_in(page, web_gateway)
    assert page.locator("details.account summary", has_text="<script>window.__pwned = 1</script>").count() == 1
    assert page.evaluate("() => window.__pwned") is None


def test_pages_follow_the_dark_colour_scheme(web_gateway: Gateway, browser: Any) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        ctx = browser.new_context(color_scheme=scheme)
        try:
            page = ctx.new_page()
            open_page(page, web_gateway, "/models/gpt-image-2")
            backgrounds[scheme] = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
            screenshot(page, f"scheme-{scheme}")
        finally:
            ctx.close()
    assert backgrounds == {"light": "rgb(255, 255, 255)", "dark": "rgb(17, 19, 23)"}
