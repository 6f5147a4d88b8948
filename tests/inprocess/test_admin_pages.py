"""The admin pages do what the admin CLI does for accounts, credit and keys, in process: adjustments both
ways with a reason, disable and enable (a disabled account's keys answer 403 account_disabled), limits,
stricter safety, keys with a model list and both rates, webhook URLs with their secret shown once, the
ledger history a page at a time, and choices instead of free text; without an admin token the pages
say how to set one. Every refusal is the form's error on the page it came from, and changes nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.assertions import assert_error

from .app import InProcess, app_settings, offline_routes, open_app

TOKEN = "admin-pages-token"
OFFLINE = offline_routes("gpt-image-2")
Scenario = Callable[[InProcess, httpx.AsyncClient], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, **env: str) -> None:
    async def go() -> None:
        settings = app_settings(
            tmp_path / "data", OFFLINE, IMAGEGATE_ADMIN_TOKEN=TOKEN, IMAGEGATE_JOB_WORKERS="0", **env
        )
        async with open_app(settings) as app, app.client_from("127.0.0.1") as browser:
            login = await browser.post("/admin/login", data={"token": TOKEN})
            assert login.status_code == 303, login.text
            await scenario(app, browser)

    asyncio.run(go())


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def post(browser: httpx.AsyncClient, path: str, fields: dict[str, Any]) -> httpx.Response:
    """A form post as the browser sends it, with the page's CSRF token (lists: a field repeated)."""
    csrf = csrf_of((await browser.get("/admin")).text)
    return await browser.post(path, data={**fields, "csrf": csrf})


async def funded(app: InProcess, usd: str = "10") -> dict[str, Any]:
    account = await app.gateway.admin.accounts.create("pages")
    await app.gateway.admin.ledger.add_credit(account["id"], usd, "funding")
    return account


async def generate(app: InProcess, key: str, prompt: str = "a kite") -> httpx.Response:
    body = {"model": "gpt-image-2", "prompt": prompt, "quality": "low", "size": "1024x1024"}
    return await app.http.post("/v1/images/generations", json=body, headers={"Authorization": f"Bearer {key}"})


def test_without_a_token_the_admin_page_says_how_to_set_one(tmp_path: Path) -> None:
    async def go() -> None:
        async with open_app(app_settings(tmp_path / "data", OFFLINE)) as app:
            page = await app.http.get("/admin")
            assert page.status_code == 200 and 'id="admin-off"' in page.text
            assert "IMAGEGATE_ADMIN_TOKEN=" in page.text and "secrets.token_urlsafe" in page.text
            assert "admin-token" not in page.text  # no login form that cannot work
            for path in ("/admin/login", "/admin/accounts/acct_x/adjust"):
                refused = await app.http.post(path, data={"token": "x"})
                assert refused.status_code == 404 and "IMAGEGATE_ADMIN_TOKEN" in refused.text
            assert (await app.http.get("/admin/accounts/acct_x")).status_code == 404

    asyncio.run(go())


def test_adjustments_take_credit_either_way_with_their_reason_in_the_ledger(tmp_path: Path) -> None:
    async def scenario(app: InProcess, browser: httpx.AsyncClient) -> None:
        account = await funded(app)
        path = f"/admin/accounts/{account['id']}"
        refused = await post(browser, f"{path}/credit", {"amount_usd": "-2", "reason": "oops"})
        assert refused.status_code == 400 and "use an adjustment" in refused.text
        assert f'action="{path}/adjust"' in refused.text  # ... which is right there

        done = await post(browser, f"{path}/adjust", {"amount_usd": "-2.5", "reason": "goodwill reversed"})
        assert (done.status_code, done.headers["location"]) == (303, "/admin?done=adjusted")
        back = await post(
            browser, f"{path}/adjust", {"amount_usd": "0.75", "reason": "credit note", "account": account["id"]}
        )
        assert (back.status_code, back.headers["location"]) == (303, f"{path}?done=adjusted")
        assert (await app.gateway.admin.accounts.get(account["id"]))["balance_micros"] == 8_250_000

        page = await browser.get(back.headers["location"])
        assert "Balance adjusted." in page.text and "$8.25" in page.text
        ledger = page.text[page.text.index('id="ledger"') :]
        assert ledger.index("credit note") < ledger.index("goodwill reversed") < ledger.index("funding")
        assert "-$2.50" in ledger and "$0.75" in ledger

        for fields, status, words in (
            ({"amount_usd": "-20", "reason": "too much"}, 409, "below what is held"),  # balance_out_of_range
            ({"amount_usd": "-1", "reason": " "}, 400, "must not be empty"),
            ({"amount_usd": "0", "reason": "nothing"}, 400, "zero"),
            ({"amount_usd": "1e999999", "reason": "x"}, 400, "plain decimal digits"),
            ({"amount_usd": "NaN", "reason": "x"}, 400, "plain decimal digits"),
            ({"amount_usd": "-1", "reason": "nul\x00"}, 400, "cannot be stored"),
        ):
            refused = await post(browser, f"{path}/adjust", {**fields, "account": account["id"]})
            assert refused.status_code == status and 'id="admin-error"' in refused.text, fields
            assert words in refused.text and 'id="ledger"' in refused.text, (fields, refused.text[:300])
        assert (await app.gateway.admin.accounts.get(account["id"]))["balance_micros"] == 8_250_000
        assert (await app.gateway.admin.ledger.verify())["ok"]

    run(tmp_path, scenario)


def test_a_disabled_accounts_keys_answer_403_until_it_is_enabled(tmp_path: Path) -> None:
    async def scenario(app: InProcess, browser: httpx.AsyncClient) -> None:
        account = await funded(app)
        key = (await app.gateway.admin.keys.create(account["id"], test=False, models=None, rpm=None))["key"]
        path = f"/admin/accounts/{account['id']}"
        assert (await generate(app, key)).status_code == 200
        off = await post(browser, f"{path}/disable", {"account": account["id"]})
        assert off.headers["location"] == f"{path}?done=disabled"
        page = await browser.get(path)
        assert 'id="account-state">disabled' in page.text and f'action="{path}/enable"' in page.text
        before = (await app.gateway.admin.accounts.get(account["id"]))["balance_micros"]
        refused = await generate(app, key)
        assert_error(refused, 403, "permission_error", "account_disabled")
        assert (await app.gateway.admin.accounts.get(account["id"]))["balance_micros"] == before
        on = await post(browser, f"{path}/enable", {})
        assert on.headers["location"] == "/admin?done=enabled"
        assert (await generate(app, key)).status_code == 200

    run(tmp_path, scenario)


def test_limits_and_safety_are_set_from_the_account_page(tmp_path: Path) -> None:
    async def scenario(app: InProcess, browser: httpx.AsyncClient) -> None:
        account = await funded(app)
        key = (await app.gateway.admin.keys.create(account["id"], test=False, models=None, rpm=None))["key"]
        path = f"/admin/accounts/{account['id']}"
        done = await post(
            browser, f"{path}/limits", {"rpm": "5", "ipm": "", "max_in_flight": "2", "account": account["id"]}
        )
        assert done.status_code == 303
        shown = await app.gateway.admin.accounts.get(account["id"])
        assert (shown["rpm"], shown["ipm"], shown["max_in_flight"]) == (5, None, 2)
        for hostile in ("²", "9" * 5000, "-1", "0"):
            refused = await post(browser, f"{path}/limits", {"rpm": hostile, "account": account["id"]})
            assert refused.status_code == 400 and 'id="admin-error"' in refused.text, hostile
        assert (await app.gateway.admin.accounts.get(account["id"]))["rpm"] == 5

        page = (await browser.get(path)).text
        assert 'value="violence"' in page and 'value="sexual_minors"' not in page  # only what does not block yet
        safety = {"block_terms": "kite\nzeppelin", "block_categories": ["violence"], "account": account["id"]}
        assert (await post(browser, f"{path}/safety", safety)).status_code == 303
        assert (await app.gateway.admin.accounts.get(account["id"]))["safety"] == {
            "block_terms": ["kite", "zeppelin"],
            "block_categories": ["violence"],
        }
        assert_error(await generate(app, key, "a red kite"), 451, "content_policy_error", "prompt_blocked")
        page = (await browser.get(path)).text
        assert ">kite\nzeppelin</textarea>" in page and 'value="violence" checked' in page

    run(tmp_path, scenario)


def test_keys_get_a_model_list_both_rates_and_a_webhook_with_its_secret_shown_once(tmp_path: Path) -> None:
    async def scenario(app: InProcess, browser: httpx.AsyncClient) -> None:
        account = await funded(app)
        path = f"/admin/accounts/{account['id']}"
        fields = {"models": ["gpt-image-2", "nano-banana-2"], "rpm": "30", "ipm": "60", "account": account["id"]}
        made = await post(browser, f"{path}/keys", fields)
        assert made.headers["location"] == f"{path}?done=key"
        page = await browser.get(path)
        key = re.search(r'id="new-key-value">([^<]+)<', page.text)
        assert key and key.group(1).startswith("ig_live_")
        assert "new-key-value" not in (await browser.get(path)).text  # shown once
        (row,) = (await app.gateway.admin.keys.list_for(account["id"]))["data"]
        assert (row["allowed_models"], row["rpm"], row["ipm"]) == (["gpt-image-2", "nano-banana-2"], 30, 60)
        refused = await post(browser, f"{path}/keys", {"models": "no-such-model", "account": account["id"]})
        assert refused.status_code == 400 and "Unknown model" in refused.text

        hook = await post(
            browser,
            f"/admin/keys/{row['id']}/webhook",
            {"webhook_url": "https://hooks.example.com/x", "account": account["id"]},
        )
        assert hook.headers["location"] == f"{path}?done=webhook"
        page = await browser.get(path)
        secret = re.search(r'id="new-secret-value">([^<]+)<', page.text)
        assert secret and secret.group(1).startswith("whsec_")
        assert "new-secret-value" not in (await browser.get(path)).text
        assert (await app.gateway.admin.keys.get(row["id"]))["webhook_url"] == "https://hooks.example.com/x"
        inside = await post(
            browser,
            f"/admin/keys/{row['id']}/webhook",
            {"webhook_url": "javascript:alert(1)", "account": account["id"]},
        )
        assert inside.status_code == 400 and 'id="admin-error"' in inside.text
        cleared = await post(browser, f"/admin/keys/{row['id']}/webhook/clear", {"account": account["id"]})
        assert cleared.headers["location"] == f"{path}?done=webhook-cleared"
        assert (await app.gateway.admin.keys.get(row["id"]))["webhook_url"] is None

        revoked = await post(browser, f"/admin/keys/{row['id']}/revoke", {"account": account["id"]})
        assert revoked.headers["location"] == f"{path}?done=revoked"
        assert "revoked</span>" in (await browser.get(path)).text

    run(tmp_path, scenario)


def test_the_ledger_history_pages_like_the_cli_and_the_admin_api(tmp_path: Path) -> None:
    async def scenario(app: InProcess, browser: httpx.AsyncClient) -> None:
        account = await funded(app, "1")
        for i in range(60):
            await app.gateway.admin.ledger.adjust_credit(account["id"], "0.01", f"entry {i:02d}")
        path = f"/admin/accounts/{account['id']}"
        first = (await browser.get(path)).text
        assert "entry 59" in first and "entry 10" in first and "entry 09" not in first  # 50 a page, newest first
        older = re.search(r'id="ledger-older" href="([^"]+)"', first)
        assert older
        second = (await browser.get(older.group(1).replace("&amp;", "&").split("#")[0])).text
        assert "entry 09" in second and "funding" in second and "entry 10" not in second
        assert 'id="ledger-older"' not in second
        bad = await browser.get(f"{path}?after=../etc")
        assert bad.status_code == 400 and "entry 59" in bad.text and "ledger entry id" in bad.text

        api = await app.http.get(
            f"/admin/v1/accounts/{account['id']}/ledger",
            params={"limit": "2"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert api.status_code == 200
        body = api.json()
        assert [e["reason"] for e in body["data"]] == ["entry 59", "entry 58"] and body["has_more"]
        assert body["data"][0]["kind"] == "adjustment" and body["data"][0]["amount_micros"] == 10_000
        for params, param in (({"limit": "501"}, "limit"), ({"limit": "²"}, "limit"), ({"after": "x\x00"}, "after")):
            refused = await app.http.get(
                f"/admin/v1/accounts/{account['id']}/ledger",
                params=params,
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert_error(refused, 400, "invalid_request_error", "invalid_value", param=param)
        missing = await app.http.get(
            "/admin/v1/accounts/acct_none/ledger", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert missing.status_code == 404

    run(tmp_path, scenario)


def test_quality_size_and_models_are_choices_not_free_text(tmp_path: Path) -> None:
    async def scenario(app: InProcess, browser: httpx.AsyncClient) -> None:
        await funded(app)
        page = (await browser.get("/admin")).text
        price_form = page[page.index('id="set-price"') : page.index("</form>", page.index('id="set-price"'))]
        assert '<select name="quality"' in price_form and '<select name="size"' in price_form
        assert '<option value="standard" data-models="nano-banana-2 nano-banana-pro seedream-4.5">' in price_form
        assert 'name="quality" size' not in price_form and 'name="size" size' not in price_form
        assert 'type="checkbox" name="models" value="gpt-image-2"' in page
        done = await post(
            browser,
            "/admin/prices",
            {"model": "nano-banana-2", "quality": "standard", "size": "1024x1024", "amount_usd": "0.07"},
        )
        assert done.status_code == 303
        wrong = await post(
            browser,
            "/admin/prices",
            {"model": "nano-banana-2", "quality": "high", "size": "1024x1024", "amount_usd": "1"},
        )
        assert wrong.status_code == 400 and "priced by quality standard" in wrong.text

    run(tmp_path, scenario)
