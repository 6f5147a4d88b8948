"""The async engine and schema migrations, for SQLite (embedded) and PostgreSQL (at scale)."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, exc, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from .urls import async_database_url

MIGRATIONS = str(Path(__file__).with_name("migrations"))
_PG_MIGRATION_LOCK = 7_260_001  # advisory lock id: one node migrates at a time
PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled PostgreSQL connection idle longer than this is pinged before use (see `_ping_when_idle`)."""


def create_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    """`pool_size`: PostgreSQL connections kept (as many again when busy); SQLite's pool is fixed."""
    url = async_database_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Requests queue for a connection rather than fail: a burst of thousands in flight must wait, not 500.
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=8, max_overflow=8, pool_timeout=300)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=300)
    _ping_when_idle(engine)
    return engine


def probe_engine(url: str) -> AsyncEngine:
    """An engine for a one-off check (`imagegate doctor`): no pool kept, nothing made on disk."""
    return create_async_engine(url, poolclass=NullPool)


async def schema_revisions(engine: AsyncEngine) -> tuple[str | None, tuple[str, ...]]:
    """The database's Alembic revision and the newest ones this gateway knows; raises when it does not answer."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        return await conn.run_sync(_revisions)


def _revisions(connection: Connection) -> tuple[str | None, tuple[str, ...]]:
    current = MigrationContext.configure(connection).get_current_revision()
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return current, tuple(ScriptDirectory.from_config(config).get_heads())


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle.

    `pool_pre_ping` pings on every checkout, and asyncpg's ping is BEGIN, `;`, ROLLBACK: three round
    trips before each unit of work (the request path has four). A connection used in the last few
    seconds is pinged by its own use: if the server went away meanwhile, the statement fails, and
    SQLAlchemy then invalidates the whole pool, so the next checkouts connect afresh. One that sat
    idle longer (a restart overnight, a load balancer's idle cut) is pinged first, and replaced if
    the ping fails (the pool retries the checkout with a new connection).
    """

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def checkin(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["imagegate_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def checkout(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        since = record.info.get("imagegate_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error


def sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision (safe to run on every start)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


__all__ = ["create_engine", "migrate", "probe_engine", "schema_revisions", "sqlite_pragmas"]
