"""The contract's errors table as data: status, type, the codes a client may see, and whether it is billed.

Status and type are read from the error classes, so the table cannot drift from what the API sends;
the codes are the contract's. No row is billed: every refusal releases its hold. `ERROR_ROWS` are a
generation's (the model pages show them); `OTHER_ERROR_ROWS` the rest of the API's (edits, jobs,
files, the admin API, a dependency that is down). The API document lists both, by status.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import (
    AuthenticationFailed,
    BalanceOutOfRange,
    Conflict,
    ContentBlocked,
    GatewayError,
    InsufficientBalance,
    InvalidRequest,
    JobNotCancellable,
    NoRouteAvailable,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
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
    _row(
        InsufficientBalance,
        ("insufficient_balance", "key_budget_exceeded", "user_budget_exceeded"),
        "The message gives the price and the available credit, or the key's (end user's) budget, what it has "
        "spent this period and when it resets (ISO 8601, UTC).",
    ),
    _row(PermissionDenied, ("key_revoked", "account_disabled", "model_not_allowed"), "The key may not do this."),
    _row(Conflict, ("idempotency_in_progress",), "The same Idempotency-Key is still running."),
    _row(RequestTooLarge, ("request_too_large",), "The body is over the size limit."),
    _row(RateLimited, ("rate_limit_exceeded",), "Wait the Retry-After header's seconds."),
    _row(ContentBlocked, ("prompt_blocked", "output_blocked"), "Screened by the gateway or refused upstream."),
    _row(UpstreamFailed, ("upstream_failed",), "After retries and failover."),
    _row(NoRouteAvailable, ("no_route_available",), "No configured or healthy route."),
    _row(UpstreamTimeout, ("upstream_timeout",), "The deadline passed."),
)

OTHER_ERROR_ROWS: tuple[ErrorRow, ...] = (
    _row(
        InvalidRequest,
        ("invalid_multipart", "unsupported_operation"),
        "An edit's body is not multipart, or its model does not edit images.",
    ),
    _row(AuthenticationFailed, ("invalid_admin_token",), "The admin API's token is missing or wrong."),
    _row(PermissionDenied, ("invalid_signature", "url_expired"), "A download URL's signature is wrong, or it expired."),
    _row(
        NotFound,
        ("not_found", "job_not_found", "image_not_found", "model_not_found"),
        "No such resource (or, under /admin, the admin API is off).",
    ),
    _row(JobNotCancellable, ("job_not_cancellable",), "The async job is no longer queued."),
    _row(
        BalanceOutOfRange, ("balance_out_of_range",), "The balance would pass its maximum or fall below what is held."
    ),
    _row(
        ServiceUnavailable,
        ("rate_limiter_unavailable", "moderation_unavailable", "storage_unavailable", "database_unavailable"),
        "A dependency is down and the gateway fails closed.",
    ),
)


__all__ = ["ERROR_ROWS", "OTHER_ERROR_ROWS", "ErrorRow"]
