"""The gateway's own log lines: `imagegate.*` loggers to stderr, each line with its level and logger.

Operators grep these (an `ERROR imagegate.routing` line names the failing route), so the format is
fixed here rather than left to whatever the ASGI server configures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .redaction import RedactingFilter, Redactor

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


OTHER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", "aiohttp.client", "aiohttp.server")
"""Loggers of the libraries around the gateway whose records can carry a URL or an exception text."""


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Idempotent: a second call only changes the level (and the secrets redacted)."""
    logger = logging.getLogger("imagegate")
    logger.setLevel(level.upper())
    if not any(getattr(handler, "imagegate", False) for handler in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.imagegate = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    redact_logs(Redactor(secrets), logger.handlers, [logging.getLogger(name) for name in OTHER_LOGGERS])


def redact_logs(redactor: Redactor, handlers: Iterable[logging.Handler], loggers: Iterable[logging.Logger]) -> None:
    """One RedactingFilter on each of the gateway's handlers (every `imagegate.*` record passes one)
    and on the other libraries' loggers, replacing any installed before."""
    redacting = RedactingFilter(redactor)
    for target in (*handlers, *loggers):
        for old in [f for f in target.filters if isinstance(f, RedactingFilter)]:
            target.removeFilter(old)
        target.addFilter(redacting)


__all__ = ["configure_logging", "redact_logs"]
