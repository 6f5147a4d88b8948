"""The gateway's own log lines: `imagegate.*` loggers to stderr, each line with its level and logger.

Operators grep these (an `ERROR imagegate.routing` line names the failing route), so the format is
fixed here rather than left to whatever the ASGI server configures.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Idempotent: a second call only changes the level."""
    logger = logging.getLogger("imagegate")
    logger.setLevel(level.upper())
    if not any(getattr(handler, "imagegate", False) for handler in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.imagegate = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


__all__ = ["configure_logging"]
