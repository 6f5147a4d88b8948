"""What a request does when an optional safeguard (rate-limit state, moderation) cannot answer:
the operator chose to serve without it (fail-open) or to refuse with 503 (fail-closed)."""

from __future__ import annotations

import logging

from ..domain.errors import ServiceUnavailable

log = logging.getLogger("imagegate.degraded")


def serve_without_or_refuse(
    fail_open: bool, what: str, problem: Exception, *, message: str, code: str, retry_after: int
) -> None:
    """Return (and warn) when failing open; raise the 503 when failing closed."""
    if fail_open:
        log.warning("%s unavailable (%s); serving without it (fail-open)", what, problem)
        return
    log.error("%s unavailable (%s); refusing (fail-closed)", what, problem)
    raise ServiceUnavailable(message, code=code, headers={"retry-after": str(retry_after)}) from problem


__all__ = ["serve_without_or_refuse"]
