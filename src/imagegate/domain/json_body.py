"""The one parser of JSON request bodies (generations, quotes, the admin API)."""

from __future__ import annotations

import json
from typing import Any

from .errors import InvalidRequest


def parse_json_object(raw: bytes, *, empty_is_object: bool = False) -> dict[str, Any]:
    """The body as a JSON object, or the contract's 400 `invalid_json`."""
    if empty_is_object and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body


__all__ = ["parse_json_object"]
