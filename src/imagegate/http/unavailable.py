"""The database unreachable (restarting, network cut): `503 database_unavailable`, never a 500.

Money lives in the database, so without it the gateway fails closed: a request that cannot read or
write it is refused with `Retry-After: 1`, and whatever it had done is undone by its own unwinding
(or, for a hold it could not release, by the sweeper once the database is back). Any other database
error is still the unexpected 500 it is.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..db.unreachable import is_unreachable
from ..service.patience import database_unavailable
from .errors import gateway_error_response
from .responses import FastJSONResponse

log = logging.getLogger("imagegate.http")


async def _on_database_error(request: Request, exc: Exception) -> FastJSONResponse:
    if not is_unreachable(exc):
        raise exc
    log.error(
        "request %s: the database is unreachable (%s); answered 503",
        getattr(request.state, "request_id", "?"),
        type(exc).__name__,
    )
    return gateway_error_response(database_unavailable())


def install_database_unavailable(app: FastAPI) -> None:
    for kind in (DBAPIError, PoolTimeout, ConnectionError):
        app.add_exception_handler(kind, _on_database_error)


__all__ = ["install_database_unavailable"]
