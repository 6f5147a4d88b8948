"""A list's page parameters from a query string or a form: `limit` (how many) and `after` (the last id
of the previous page). Hostile values are the caller's 400 naming the parameter, never a 500: a count
is ASCII digits only (`"²".isdigit()` is true, but `int("²")` fails) and refused by length before
`int` reads it (5,000 digits would raise); a cursor must look like the ids it pages over."""

from __future__ import annotations

from .errors import InvalidRequest
from .ids import is_id
from .text import check_text


def page_size(value: str | None, *, default: int = 20, maximum: int = 100, param: str = "limit") -> int:
    if value is None or not value.strip():
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)) or not 1 <= int(text) <= maximum:
        raise InvalidRequest(f"'{param}' must be a whole number from 1 to {maximum}.", param=param)
    return int(text)


def page_cursor(value: str | None, prefix: str, what: str, *, param: str = "after") -> str | None:
    """`value` when it is an id of `prefix` (`what` names it in the message); None when empty."""
    if value is None or value == "":
        return None
    check_text(value, param, 64)
    if not is_id(value, prefix):
        raise InvalidRequest(f"'{param}' must be {what} from the previous page.", param=param)
    return value


__all__ = ["page_cursor", "page_size"]
