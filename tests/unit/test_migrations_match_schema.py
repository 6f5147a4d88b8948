"""The migrations build exactly the schema `db/tables.py` declares, on SQLite and PostgreSQL: a column,
index or table added to one and not the other (a migration forgotten, a table declared outside the
schema module) is a difference here, not a surprise on an operator's next start."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from imagegate.db.engine import create_engine, migrate
from imagegate.db.tables import metadata

SEARCH_INDEX = {"images_fts", "ix_images_search", "ix_images_search_rowid"}
"""The library's search index (migration 0014), dialect-specific and so outside `metadata`."""


def _name_of(difference: tuple[Any, ...]) -> str:
    element = difference[-1]
    return str(getattr(element, "name", element))


def _differences(connection: Connection) -> list[tuple[Any, ...]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    found: list[tuple[Any, ...]] = []
    for difference in compare_metadata(context, metadata):
        # a column's type change comes as a list of one tuple; a table's or an index's as a tuple
        item = difference[0] if isinstance(difference, list) else difference
        name = _name_of(item)
        if any(name == part or name.startswith(part + "_") for part in SEARCH_INDEX):
            continue
        if item[0] in ("add_column", "remove_column") and getattr(item[-1], "name", "") == "search":
            continue
        found.append(item)
    return found


def test_the_migrations_build_the_declared_schema(fresh_database: str) -> None:
    async def migrate_and_compare() -> list[tuple[Any, ...]]:
        engine = create_engine(fresh_database)
        try:
            await migrate(engine)
            async with engine.connect() as conn:
                return await conn.run_sync(_differences)
        finally:
            await engine.dispose()

    assert asyncio.run(migrate_and_compare()) == []
