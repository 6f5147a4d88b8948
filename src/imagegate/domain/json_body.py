"""The one parser of JSON request bodies (generations, quotes, the admin API): bytes -> a JSON
object, or the contract's 400, never a 500 on hostile input.

Refused as `invalid_json`: bytes that are not JSON (invalid UTF-8 included), numbers Python will not
read (more than 4,300 digits), nesting deep enough to exhaust the parser's recursion, nesting past
`MAX_JSON_DEPTH`, and a body that is not an object. Refused as `invalid_value`, naming the field:
NUL and unpaired surrogates anywhere.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import InvalidRequest
from .text import MAX_JSON_DEPTH, check_json


def parse_json_object(raw: bytes, *, empty_is_object: bool = False, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    if empty_is_object and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from exc
    body = check_json(body, max_depth)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body


__all__ = ["parse_json_object"]
