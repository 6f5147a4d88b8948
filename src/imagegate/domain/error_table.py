"""The contract's errors table as data: status, type, the codes a client may see, and whether it is billed.

Status and type are read from the error classes, so the table cannot drift from what the API sends;
the codes are the contract's. No row is billed: every refusal releases its hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import (
    AuthenticationFailed,
    Conflict,
    ContentBlocked,
    GatewayError,
    InsufficientBalance,
    InvalidRequest,
    NoRouteAvailable,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    UpstreamFailed,
    UpstreamTimeout,
)


@dataclass(frozen=True, slots=True)
class ErrorRow:
    status: int
    type: str
    codes: tuple[str, ...]
    note: str
    billed: bool = False


def _row(cls: type[GatewayError], codes: tuple[str, ...], note: str) -> ErrorRow:
    return ErrorRow(cls.status, cls.type, codes, note)


ERROR_ROWS: tuple[ErrorRow, ...] = (
    _row(
        InvalidRequest,
        (
            "invalid_json",
            "missing_required_parameter",
            "unknown_parameter",
            "invalid_type",
            "invalid_value",
            "model_not_found",
            "unsupported_parameter",
            "idempotency_key_reused",
        ),
        "The body or a parameter is wrong; param names the field.",
    ),
    _row(AuthenticationFailed, ("missing_api_key", "invalid_api_key"), "No key, or a key the gateway does not know."),
    _row(InsufficientBalance, ("insufficient_balance",), "The message gives the price and the available credit."),
    _row(PermissionDenied, ("key_revoked", "account_disabled", "model_not_allowed"), "The key may not do this."),
    _row(Conflict, ("idempotency_in_progress",), "The same Idempotency-Key is still running."),
    _row(RequestTooLarge, ("request_too_large",), "The body is over the size limit."),
    _row(RateLimited, ("rate_limit_exceeded",), "Wait the Retry-After header's seconds."),
    _row(ContentBlocked, ("prompt_blocked", "output_blocked"), "Screened by the gateway or refused upstream."),
    _row(UpstreamFailed, ("upstream_failed",), "After retries and failover."),
    _row(NoRouteAvailable, ("no_route_available",), "No configured or healthy route."),
    _row(UpstreamTimeout, ("upstream_timeout",), "The deadline passed."),
)


__all__ = ["ERROR_ROWS", "ErrorRow"]
