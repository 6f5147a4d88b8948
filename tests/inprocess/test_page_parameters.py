"""Every list's `limit` and `after`, hostile: a superscript digit (`"²".isdigit()` is true, `int("²")`
fails), 5,000 digits (`int` refuses them), NUL, a negative or a zero count are each the list's 400
naming the parameter, never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.assertions import assert_error

from .app import app_settings, open_app

TOKEN = "page-parameters-token"
HOSTILE_LIMITS = ["²", "①", "9" * 5000, "-1", "0", "1e3", "NaN", "5\x00"]
LISTS = [
    ("/v1/images", "key"),
    ("/v1/webhooks/deliveries", "key"),
    ("/admin/v1/webhooks/deliveries", "admin"),
]


@pytest.mark.parametrize(("path", "who"), LISTS)
def test_a_hostile_limit_is_a_400_naming_it(tmp_path: Path, path: str, who: str) -> None:
    async def go() -> None:
        settings = app_settings(tmp_path / "data", IMAGEGATE_ADMIN_TOKEN=TOKEN, IMAGEGATE_JOB_WORKERS="0")
        async with open_app(settings) as app:
            token = TOKEN if who == "admin" else await app.new_key()
            headers = {"Authorization": f"Bearer {token}"}
            for limit in HOSTILE_LIMITS:
                response = await app.http.get(path, params={"limit": limit}, headers=headers)
                assert_error(response, 400, "invalid_request_error", "invalid_value", param="limit")
            assert (await app.http.get(path, params={"limit": "3"}, headers=headers)).status_code == 200

    asyncio.run(go())
