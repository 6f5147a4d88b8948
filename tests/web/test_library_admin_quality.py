"""The library and the admin pages added for issue 24 owe a reader what every page does (axe-core: no
serious or critical violation, light and dark): the account page with its library and the library's
lightbox open, an account's admin page with keys and ledger entries, and the page that says how to
set IMAGEGATE_ADMIN_TOKEN on a gateway without one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Gateway, serve_gateway
from tests.upstreams.fake_openai import FakeOpenAI
from tests.web.conftest import ARTIFACTS, cli_json, new_account
from tests.web.test_library_browser import stocked_account
from tests.web.test_page_quality import axe_violations, log_in


@pytest.fixture(scope="module")
def tokenless(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    yield from serve_gateway(tmp_path_factory, "web-no-admin", fake_openai)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_library_and_the_admin_pages_have_no_serious_accessibility_violation(
    web_gateway: Gateway, tokenless: Gateway, browser: Any, scheme: str
) -> None:
    stocked = stocked_account(web_gateway, f"axe library {scheme}")
    account = cli_json(web_gateway, "accounts", "create", f"axe admin {scheme}")
    cli_json(web_gateway, "credit", "add", account["id"], "2", "--reason", "opening")
    cli_json(web_gateway, "credit", "adjust", account["id"], "-0.5", "--reason", "correction")
    new_account(web_gateway, f"axe keys {scheme}", test=True)
    cli_json(web_gateway, "keys", "create", account["id"], "--models", "gpt-image-2", "--rpm", "5")
    ctx = browser.new_context(color_scheme=scheme, bypass_csp=True, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    found: dict[str, Any] = {}
    try:
        ctx.add_init_script(f"sessionStorage.setItem('imagegate.key', {stocked.key!r})")
        page = ctx.new_page()
        page.goto(web_gateway.base_url + "/account", wait_until="networkidle")
        page.wait_for_function("() => document.querySelectorAll('#library-grid figure').length === 3")
        found["/account (library)"] = axe_violations(page)
        page.click("#library-grid figure a.library-open")
        page.wait_for_selector("#library-lightbox[open]")
        page.click("#library-delete")
        found["/account (library lightbox)"] = axe_violations(page)
        log_in(page, web_gateway)
        page.goto(f"{web_gateway.base_url}/admin/accounts/{account['id']}", wait_until="networkidle")
        found["/admin/accounts/{id}"] = axe_violations(page)
        page.goto(tokenless.base_url + "/admin", wait_until="networkidle")
        found["/admin (no token)"] = axe_violations(page)
    finally:
        ctx.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-library-admin-{scheme}.json").write_text(json.dumps(found, indent=2))
    assert {path: v for path, v in found.items() if v} == {}
