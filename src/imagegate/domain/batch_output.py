"""What a batch hands back: its price cards, each line's result line (OpenAI's output and error
file format), and the HTTP status a stored error object stands for."""

from __future__ import annotations

import json
from typing import Any

from .catalog import Model
from .pricing import PriceOverrides, unit_price

_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "rate_limit_error": 429,
    "content_policy_error": 451,
    "upstream_error": 502,
    "service_unavailable": 503,
}
_STATUS_OF_CODE = {"upstream_timeout": 504, "job_expired": 504, "job_uploads_gone": 410}


def batch_card(model: Model, overrides: PriceOverrides) -> dict[tuple[str, str, str], int]:
    """The model's whole price card for a batch's lines: the live price (the operator's rates over
    the catalog's) times the catalog's `batch_price_percent`, rounded down to the micro."""
    if model.free:
        return {}
    return {
        (model.id, quality, size): unit_price(model, quality, size, overrides) * model.batch_price_percent // 100
        for quality, row in model.prices.items()
        for size in row
    }


def cards_json(cards: PriceOverrides) -> str:
    return json.dumps([[*key, micros] for key, micros in sorted(cards.items())])


def cards_of(stored: str) -> PriceOverrides:
    return {(m, q, s): int(micros) for m, q, s, micros in json.loads(stored)}


def status_of(error: dict[str, Any]) -> int:
    """The HTTP status an error object (as a failed job keeps it) was, or would have been, sent with."""
    code, kind = error.get("code"), error.get("type")
    if isinstance(code, str) and code in _STATUS_OF_CODE:
        return _STATUS_OF_CODE[code]
    return _STATUS_OF_TYPE.get(kind, 500) if isinstance(kind, str) else 500


def result_line(line_id: str, custom_id: str, request_id: str | None, status_code: int | None, body: Any) -> str:
    """One line of an output or error file. A request that was answered (200, or refused with its
    error body) has a `response`; one that never ran (cancelled, expired) has only an `error`."""
    if status_code is None:
        record: dict[str, Any] = {"id": line_id, "custom_id": custom_id, "response": None, "error": body}
    else:
        response = {"status_code": status_code, "request_id": request_id, "body": body}
        record = {"id": line_id, "custom_id": custom_id, "response": response, "error": None}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


__all__ = ["batch_card", "cards_json", "cards_of", "result_line", "status_of"]
