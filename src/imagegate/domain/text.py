"""The one check on text from outside, and on the JSON bodies that carry it.

Every piece of text the gateway accepts (body fields and field names, headers, path and query ids,
admin names, reasons and terms) passes `check_text` before it is used: text a database cannot store
(see `storable.py`) is a 400 `invalid_value` naming the field, never a 500 after a hold.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidRequest
from .storable import printable, unstorable_at

MAX_JSON_DEPTH = 32
"""Deeper than any body the API defines (the deepest real one is 3): refused before it is walked."""
MAX_JSON_VALUES = 10_000
"""Values (keys' values and list items, at every depth) in one body: far past any real one, and it bounds the walk (a 1 MiB body of
300,000 short strings would otherwise cost ~250 ms of event-loop time to check)."""


def check_text(text: str, param: str | None, max_chars: int | None = None) -> str:
    """`text` unchanged, or a 400 `invalid_value` naming `param` (None: the text is a field name);
    with `max_chars`, longer text is refused too (what a bounded column would refuse later)."""
    if max_chars is not None and len(text) > max_chars:
        raise InvalidRequest(f"'{param}' must be at most {max_chars} characters.", param=param)
    at = unstorable_at(text)
    if at is None:
        return text
    what = f"'{printable(param)}'" if param is not None else "A field name"
    raise InvalidRequest(
        f"{what} contains a character that cannot be stored (U+{ord(text[at]):04X} at position {at}): "
        "NUL and unpaired surrogates are not accepted.",
        code="invalid_value",
        param=None if param is None else printable(param),
    )


MAX_ID_CHARS = 64


def check_id(value: str, param: str) -> str:
    """An id from a path, a query or the command line, before it reaches a WHERE clause."""
    return check_text(value, param, MAX_ID_CHARS)


def check_json(value: Any, max_depth: int = MAX_JSON_DEPTH, max_values: int = MAX_JSON_VALUES) -> Any:
    """A decoded JSON body, refused (400) when nested deeper than `max_depth`, when it holds more than
    `max_values` values, or when any key or string in it is unstorable; `param` is the
    top-level field it sits under. Walks without recursion."""
    stack: list[tuple[Any, int, str | None]] = [(value, 1, None)]
    values = 1
    while stack:
        node, depth, field = stack.pop()
        if isinstance(node, str):
            check_text(node, field)
        elif isinstance(node, (dict, list)):
            if depth > max_depth:
                raise InvalidRequest(
                    f"The request body is nested deeper than {max_depth} levels.", code="invalid_json", param=field
                )
            values += len(node)
            if values > max_values:
                raise InvalidRequest(
                    f"The request body holds more than {max_values} values.", code="invalid_json", param=field
                )
            if isinstance(node, dict):
                for key, item in node.items():
                    check_text(key, field)
                    stack.append((item, depth + 1, key if field is None else field))
            else:
                stack.extend((item, depth + 1, field) for item in node)
    return value


__all__ = ["MAX_ID_CHARS", "MAX_JSON_DEPTH", "MAX_JSON_VALUES", "check_id", "check_json", "check_text"]
