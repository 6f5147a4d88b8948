"""`IMAGEGATE_DATABASE_URL` in the form every PostgreSQL tool prints (`postgresql://…`, no driver) is
accepted: the gateway and the CLI run on it with the asyncpg driver (issue 12, defect 9)."""

from __future__ import annotations

import pytest

from imagegate.db.urls import async_database_url
from tests.conftest import start_gateway
from tests.upstreams.fake_openai import FakeOpenAI


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u:p%40ss@h/db", "postgresql+asyncpg://u:p%40ss@h/db"),
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/lib/imagegate.db", "sqlite+aiosqlite:////var/lib/imagegate.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_a_url_without_a_driver_gets_the_async_one(given: str, used: str) -> None:
    assert async_database_url(given) == used


def test_the_gateway_runs_on_a_plain_postgresql_url(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, postgres_url: str
) -> None:
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    assert plain.startswith("postgresql://")
    gw = start_gateway(tmp_path_factory.mktemp("plain-pg-url") / "data", fake_openai, {"IMAGEGATE_DATABASE_URL": plain})
    try:
        account = gw.new_account("0", test=True)  # the CLI's path: open_admin on the same URL
        response = gw.post_images(account.key, {"model": "gpt-image-2", "prompt": "a lighthouse"})
        assert response.status_code == 200, response.text
        assert "ModuleNotFoundError" not in gw.process.log_text()
    finally:
        gw.process.stop()
