"""A throwaway PostgreSQL database for a benchmark: created with a random name, dropped at the end."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy.engine import make_url


class ThrowawayDatabase:
    def __init__(self, admin_url: str, prefix: str = "imagegate_bench") -> None:
        self.admin = make_url(admin_url)
        self.name = f"{prefix}_{secrets.token_hex(5)}"
        self.url = self.admin.set(drivername="postgresql+asyncpg", database=self.name).render_as_string(
            hide_password=False
        )

    def _admin(self, sql: str) -> None:
        import asyncpg

        dsn = self.admin.set(drivername="postgresql").render_as_string(hide_password=False)

        async def run() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(run())

    def create(self, settings: dict[str, str] | None = None) -> str:
        """The new database's URL; `settings` apply to every session on it (ALTER DATABASE … SET)."""
        self._admin(f'CREATE DATABASE "{self.name}"')
        for name, value in (settings or {}).items():
            self._admin(f'ALTER DATABASE "{self.name}" SET {name} = {value}')
        return self.url

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


__all__ = ["ThrowawayDatabase"]
