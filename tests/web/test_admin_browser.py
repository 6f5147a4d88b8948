"""The admin forms in Debian's Chromium (Playwright), against a real gateway process: an adjustment that
takes credit away with its reason, disable and enable, the account page (a key limited to chosen
models, its webhook secret shown once, the ledger history), and the price form's choices following
the chosen model."""

from __future__ import annotations

from typing import Any

from tests.conftest import Gateway
from tests.web.conftest import ADMIN_TOKEN, Watch, cli_json, screenshot


def _log_in(page: Any, gateway: Gateway) -> None:
    page.goto(gateway.base_url + "/admin", wait_until="networkidle")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#accounts-h")


def _panel(page: Any, account_id: str) -> Any:
    panel = page.locator(f"#account-{account_id}")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    return panel


def _options(page: Any, select: str) -> list[str]:
    return page.eval_on_selector_all(f"{select} option", "os => os.filter(o => !o.hidden).map(o => o.value)")  # type: ignore[no-any-return]


def test_an_adjustment_and_the_accounts_state_from_the_dashboard(
    web_gateway: Gateway, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    account = cli_json(web_gateway, "accounts", "create", "Adjusted Co")
    cli_json(web_gateway, "credit", "add", account["id"], "5", "--reason", "opening")
    _log_in(page, web_gateway)
    panel = _panel(page, account["id"])
    panel.locator("form.adjust input[name=amount_usd]").fill("-1.25")
    panel.locator("form.adjust input[name=reason]").fill("duplicate top-up reversed")
    panel.locator("form.adjust button").click()
    assert page.text_content("#notice") == "Balance adjusted."
    assert "$3.75" in _panel(page, account["id"]).locator(".balance").text_content()

    _panel(page, account["id"]).locator("button.disable").click()
    assert "403 account_disabled" in page.text_content("#notice")
    panel = _panel(page, account["id"])
    assert panel.locator("summary .badge").text_content() == "disabled"
    assert cli_json(web_gateway, "accounts", "show", account["id"])["disabled"] is True
    panel.locator("button.enable").click()
    page.wait_for_selector("#notice")
    assert cli_json(web_gateway, "accounts", "show", account["id"])["disabled"] is False
    assert watch.problems() == []


def test_the_price_form_offers_only_the_chosen_models_qualities_and_sizes(
    web_gateway: Gateway, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    _log_in(page, web_gateway)
    page.select_option("#price-model", "nano-banana-2")
    assert _options(page, "#price-quality") == ["standard"]
    assert page.input_value("#price-quality") == "standard"
    nano_sizes = _options(page, "#price-size")
    assert "1024x1024" in nano_sizes and "1536x1024" not in nano_sizes
    page.select_option("#price-model", "gpt-image-2")
    assert _options(page, "#price-quality") == ["low", "medium", "high"]
    assert "1536x1024" in _options(page, "#price-size")
    page.select_option("#price-quality", "high")
    page.select_option("#price-size", "1536x1024")
    page.fill("#set-price input[name=amount_usd]", "0.33")
    page.click("#set-price button")
    try:
        assert "Price set" in page.text_content("#notice")
        card = cli_json(web_gateway, "prices", "list")["models"]["gpt-image-2"]
        assert card["high"]["1536x1024"] == 330_000
    finally:
        cli_json(
            web_gateway, "prices", "set", "gpt-image-2", "--quality", "high", "--size", "1536x1024", "--usd", "0.317"
        )
    assert watch.problems() == []


def test_the_account_page_makes_a_limited_key_sets_its_webhook_and_shows_the_ledger(
    web_gateway: Gateway, watched: tuple[Any, Watch]
) -> None:
    page, watch = watched
    account = cli_json(web_gateway, "accounts", "create", "Ledger Co")
    cli_json(web_gateway, "credit", "add", account["id"], "2", "--reason", "first top-up")
    cli_json(web_gateway, "credit", "adjust", account["id"], "-0.5", "--reason", "late fee waived back")
    _log_in(page, web_gateway)
    _panel(page, account["id"]).locator(f"a[href='/admin/accounts/{account['id']}']").click()
    page.wait_for_selector("#ledger")
    reasons = page.eval_on_selector_all("#ledger tbody td[data-label=Reason]", "tds => tds.map(t => t.textContent)")
    assert reasons == ["late fee waived back", "first top-up"]

    page.check(".create-key input[name=models][value=gpt-image-2]")
    page.fill(".create-key input[name=ipm]", "12")
    page.click(".create-key button")
    key = page.text_content("#new-key-value").strip()
    assert key.startswith("ig_live_") and page.url.endswith(f"/admin/accounts/{account['id']}?done=key")
    (row,) = cli_json(web_gateway, "keys", "list", account["id"])["data"]
    assert (row["allowed_models"], row["ipm"]) == (["gpt-image-2"], 12)

    page.fill(f"#key-{row['id']} input[name=webhook_url]", "https://hooks.example.com/imagegate")
    page.click(f"#key-{row['id']} form.webhook button")
    assert page.text_content("#new-secret-value").startswith("whsec_")
    screenshot(page, "admin-account-page")
    page.reload(wait_until="networkidle")
    assert page.locator("#new-secret-value").count() == 0  # shown once
    assert page.text_content(f"#key-{row['id']} .webhook-url") == "https://hooks.example.com/imagegate"
    assert watch.problems() == []


def test_the_account_page_fits_a_390_px_screen(web_gateway: Gateway, browser: Any) -> None:
    account = cli_json(web_gateway, "accounts", "create", "Narrow Co")
    cli_json(web_gateway, "credit", "add", account["id"], "1", "--reason", "a reason long enough to wrap on a phone")
    cli_json(web_gateway, "keys", "create", account["id"], "--test")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        _log_in(page, web_gateway)
        page.goto(f"{web_gateway.base_url}/admin/accounts/{account['id']}", wait_until="networkidle")
        width = page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert width <= 390, f"the account page is {width}px wide"
        screenshot(page, "narrow/admin-account")
    finally:
        ctx.close()
