"""Fixtures of the core tests: the test catalog, and settings on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imagegate.config import Settings, load_catalog
from imagegate.domain.catalog import Catalog
from tests.conftest import PostgresDatabase, require_service

from .harness import core_settings, write_config


@pytest.fixture
def core_config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def catalog(core_config: Path) -> Catalog:
    return load_catalog(str(core_config), {})


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def core_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database per module, a SQLite file or a throwaway PostgreSQL database; each test makes
    its own accounts, so tests do not see each other's money or usage."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('core-db') / 'imagegate.db'}"
        return
    require_service("PostgreSQL", 5432)
    database = PostgresDatabase()
    yield database.create()
    database.drop()


@pytest.fixture
def settings(tmp_path: Path, core_config: Path, core_database_url: str) -> Settings:
    return core_settings(tmp_path / "data", core_config, core_database_url)
