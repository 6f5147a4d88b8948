"""Database URLs as operators write them -> the async drivers the gateway uses.

Every PostgreSQL tool prints `postgresql://…` (or `postgres://…`); SQLAlchemy reads a URL without a
driver as psycopg2/psycopg, which the gateway does not ship. A URL without a driver gets the one the
gateway runs on (asyncpg, aiosqlite); libpq's `sslmode` becomes asyncpg's `ssl`. A URL that names a
driver is left as written.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

ASYNC_DRIVERS = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def async_database_url(url: str) -> str:
    parsed = make_url(url)
    driver = ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        return url
    parsed = parsed.set(drivername=driver)
    if driver == "postgresql+asyncpg" and "sslmode" in parsed.query:
        parsed = _rename_query(parsed, "sslmode", "ssl")
    return parsed.render_as_string(hide_password=False)


def _rename_query(url: URL, old: str, new: str) -> URL:
    query = dict(url.query)
    query[new] = query.pop(old)
    return url.set(query=query)


__all__ = ["async_database_url"]
