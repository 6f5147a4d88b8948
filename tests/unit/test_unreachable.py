"""A PostgreSQL at its connection cap is the database being away (503 database_unavailable, retry
later), never a fault of ours (500): a role limited to one connection refuses the second with the same
SQLSTATE (53300) as a server at `max_connections`."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from imagegate.db.engine import create_engine
from imagegate.db.unreachable import is_unreachable
from tests.conftest import PostgresDatabase, require_service

pytestmark = pytest.mark.postgres


@pytest.fixture
def one_connection_role() -> Iterator[str]:
    require_service("PostgreSQL", 5432)
    role = f"imagegate_cap_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PostgresDatabase.ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"))
    yield f"postgresql+asyncpg://{role}@127.0.0.1:5432/postgres"
    asyncio.run(admin(f"DROP ROLE IF EXISTS {role}"))


def test_a_database_at_its_connection_cap_is_unreachable_not_a_fault(one_connection_role: str) -> None:
    async def second_connection() -> BaseException:
        first, second = create_engine(one_connection_role), create_engine(one_connection_role)
        try:
            async with first.connect() as held:
                await held.execute(text("SELECT 1"))
                try:
                    async with second.connect() as conn:
                        await conn.execute(text("SELECT 1"))
                except DBAPIError as exc:
                    return exc
                raise AssertionError("the role's connection limit let a second connection in")
        finally:
            await first.dispose()
            await second.dispose()

    refused = asyncio.run(second_connection())
    assert "too many connections" in str(refused)
    assert is_unreachable(refused)


def test_a_statement_fault_is_not_unreachable(one_connection_role: str) -> None:
    async def bad_statement() -> BaseException:
        engine = create_engine(one_connection_role)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM no_such_table"))
        except DBAPIError as exc:
            return exc
        finally:
            await engine.dispose()
        raise AssertionError("the statement ran")

    assert not is_unreachable(asyncio.run(bad_statement()))
