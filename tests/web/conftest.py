"""Fixtures of the web-page tests: one gateway per module (with an admin token), Debian's Chromium
driven by Playwright, and a watch over every page's console and network."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Gateway, serve_gateway
from tests.upstreams.fake_openai import FakeOpenAI

ADMIN_TOKEN = "web-tests-admin-token"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts" / "web"
"""Screenshots of every page (git-ignored)."""


def require_chromium() -> None:
    """Skip, saying why, without Debian's Chromium; under CI=true its absence is a failure."""
    if CHROMIUM.exists():
        return
    message = f"Debian's Chromium is not installed at {CHROMIUM}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: scripts/test installs it; a missing browser fails the run)")
    pytest.skip(f"{message}; run scripts/test (it installs it) or apt-get install chromium")


@pytest.fixture(scope="module")
def web_gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    yield from serve_gateway(tmp_path_factory, "web", fake_openai, extra_env={"IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN})


@dataclass
class Account:
    id: str
    key: str


def cli_json(gateway: Gateway, *args: str) -> dict[str, Any]:
    """An operator command through the `imagegate` CLI, as an operator runs it."""
    return json.loads(gateway.cli(*args, "--json"))  # type: ignore[no-any-return]


def new_account(gateway: Gateway, name: str = "web", usd: str | None = None, *, test: bool = False) -> Account:
    account = cli_json(gateway, "accounts", "create", name)
    if usd is not None:
        cli_json(gateway, "credit", "add", account["id"], usd, "--reason", "web test")
    key = cli_json(gateway, "keys", "create", account["id"], *(["--test"] if test else []))
    return Account(account["id"], key["key"])


@dataclass
class Watch:
    """What a page did wrong: console errors, uncaught exceptions, failed or refused requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed_requests.append(f"{r.url} {r.failure}"))
        page.on("response", lambda r: self.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("request", lambda r: self.requests.append(r))

    def problems(self) -> list[str]:
        return [*self.console_errors, *self.page_errors, *self.failed_requests, *self.bad_responses]

    def clear(self) -> None:
        for items in (self.console_errors, self.page_errors, self.failed_requests, self.bad_responses, self.requests):
            items.clear()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9.-]+', '_', name.lower())}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def watched(context: Any) -> tuple[Any, Watch]:
    page = context.new_page()
    watch = Watch()
    watch.attach(page)
    return page, watch
