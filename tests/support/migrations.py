"""Running the gateway's Alembic migrations to a given revision, for tests of one migration's upgrade
(and downgrade)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from imagegate.db.engine import MIGRATIONS, create_engine


def alembic_upgrade(connection: Connection, revision: str) -> None:
    """For `conn.run_sync`: the schema on `connection` brought to `revision` ("head": the newest)."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def alembic_downgrade(connection: Connection, revision: str) -> None:
    """For `conn.run_sync`: the schema on `connection` taken back down to `revision`."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def upgrade(url: str, revision: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(alembic_upgrade, revision)
        finally:
            await engine.dispose()

    asyncio.run(run())


__all__ = ["alembic_downgrade", "alembic_upgrade", "upgrade"]
