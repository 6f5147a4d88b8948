"""Is this error the database being away (restarting, network cut, at its connection cap), rather than a
fault in a statement?

A request that meets one answers `503 database_unavailable` (http/unavailable.py), and a settlement
that meets one while it commits a capture does not know whether the commit landed (service/images/billing.py).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

UNAVAILABLE_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})
"""PostgreSQL's "come back later" answers: too many connections (the server's or the role's cap),
shutting down (admin, crash), starting up. Class 08 (connection exceptions) counts too."""


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, PoolTimeout, OperationalError, InterfaceError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = str(getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None) or "")
    return bool(exc.connection_invalidated) or sqlstate in UNAVAILABLE_SQLSTATES or sqlstate.startswith("08")


__all__ = ["UNAVAILABLE_SQLSTATES", "is_unreachable"]
