"""A request body's bytes -> decoded JSON, or the contract's 400: never a 500 on hostile input.

Refused as `invalid_json`: bytes that are not JSON (invalid UTF-8 included), numbers Python will not
read (more than 4,300 digits), nesting deep enough to exhaust the parser's recursion, and nesting past
`MAX_JSON_DEPTH`. Refused as `invalid_value`, naming the field: NUL and unpaired surrogates anywhere.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import InvalidRequest
from .text import MAX_JSON_DEPTH, check_json


def parse_json_body(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from exc
    return check_json(body, max_depth)


__all__ = ["parse_json_body"]
