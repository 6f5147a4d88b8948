"""Every error the public API can return, one class per contract row.

    GatewayError                      status  type
    ├── InvalidRequest                400     invalid_request_error
    │   └── RequestTooLarge           413     invalid_request_error
    ├── AuthenticationFailed          401     authentication_error
    ├── InsufficientBalance           402     billing_error
    ├── PermissionDenied              403     permission_error
    ├── NotFound                      404     not_found_error
    ├── Conflict                      409     conflict_error
    ├── RateLimited                   429     rate_limit_error
    ├── ContentBlocked                451     content_policy_error
    ├── UpstreamFailed                502     upstream_error
    ├── NoRouteAvailable              503     service_unavailable
    ├── ServiceUnavailable            503     service_unavailable
    │   └── StorageUnavailable        503     service_unavailable (storage_unavailable)
    └── UpstreamTimeout               504     upstream_error

No error is ever billed: a request that ends in any of these releases its hold.
The HTTP layer renders all of them with one handler (the OpenAI error body).
"""

from __future__ import annotations

from .storable import printable


class GatewayError(Exception):
    """Base of every refusal; carries what the error body and status need."""

    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.headers = dict(headers or {})
        self.model: str | None = None
        """The catalog model a refused request named, when it was read before the refusal: its usage
        record keeps it (an account's 400 for a size says which model it asked)."""

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": printable(self.message),
                "type": self.type,
                "param": None if self.param is None else printable(self.param),
                "code": self.code,
            }
        }


class InvalidRequest(GatewayError):
    """The request body or a parameter is wrong; `param` names the field."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class RequestTooLarge(InvalidRequest):
    status = 413
    code = "request_too_large"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class InsufficientBalance(GatewayError):
    status = 402
    type = "billing_error"
    code = "insufficient_balance"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class Conflict(GatewayError):
    status = 409
    type = "conflict_error"
    code = "idempotency_in_progress"


class JobNotCancellable(Conflict):
    """Only a queued job can be cancelled; a running or finished one answers this."""

    code = "job_not_cancellable"


class JobCancelled(GatewayError):
    """A queued job its owner cancelled: what its usage record says (never sent as an answer)."""

    status = 499
    type = "invalid_request_error"
    code = "job_cancelled"


class JobExpired(GatewayError):
    """A job that no worker started within the queue's time, or whose workers kept dying."""

    status = 504
    type = "server_error"
    code = "job_expired"


class JobInterrupted(GatewayError):
    """A job whose node stopped after billing it and before keeping its result: the charge is refunded."""

    status = 503
    type = "server_error"
    code = "job_interrupted"


class JobUploadsGone(GatewayError):
    """An edit job whose uploaded images left the image store before it ran (deleted, or expired by a
    bucket rule): running it again cannot help, submitting the edit again can. Nothing is billed."""

    status = 410
    type = "invalid_request_error"
    code = "job_uploads_gone"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class ContentBlocked(GatewayError):
    """A safety refusal. Never retried, never failed over, never billed.

    `stage` is `gateway` (our own screening of the prompt), `output` (our screening of the images
    the upstream made) or `upstream` (the provider refused). `recorded`: its audit records are
    written already (output screening records one per image withheld).
    """

    status = 451
    type = "content_policy_error"
    code = "prompt_blocked"

    def __init__(
        self,
        message: str,
        *,
        code: str = "prompt_blocked",
        stage: str = "upstream",
        category: str | None = None,
        recorded: bool = False,
    ) -> None:
        super().__init__(message, code=code, headers={"x-imagegate-block-stage": stage})
        self.stage = stage
        self.category = category
        self.recorded = recorded


class UpstreamFailed(GatewayError):
    status = 502
    type = "upstream_error"
    code = "upstream_failed"


class NoRouteAvailable(GatewayError):
    status = 503
    type = "service_unavailable"
    code = "no_route_available"


class ServiceUnavailable(GatewayError):
    """A dependency the operator chose to fail closed on (rate-limit store, moderation) is down."""

    status = 503
    type = "service_unavailable"
    code = "service_unavailable"


class StorageUnavailable(ServiceUnavailable):
    """The image store cannot be written or read (unreachable, refusing, out of space)."""

    code = "storage_unavailable"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "upstream_error"
    code = "upstream_timeout"


__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "ContentBlocked",
    "GatewayError",
    "InsufficientBalance",
    "InvalidRequest",
    "JobCancelled",
    "JobExpired",
    "JobNotCancellable",
    "JobUploadsGone",
    "NoRouteAvailable",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "RequestTooLarge",
    "ServiceUnavailable",
    "StorageUnavailable",
    "UpstreamFailed",
    "UpstreamTimeout",
]
