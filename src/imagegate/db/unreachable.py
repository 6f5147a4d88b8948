"""Is this error the database being away (restarting, network cut), rather than a fault in a statement?

A request that meets one answers `503 database_unavailable` (http/unavailable.py), and a settlement
that meets one while it commits a capture does not know whether the commit landed (service/billing.py).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, PoolTimeout, OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


__all__ = ["is_unreachable"]
