"""Identifiers: a prefix plus a time-ordered, random suffix (ULID layout, Crockford base32)."""

from __future__ import annotations

import functools
import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
"""Two base32 digits for each 10-bit value: 13 lookups instead of 26 divmods (3.5 -> 1.5 us per id)."""
_SHIFTS = tuple(range(120, -1, -10))
SUFFIX = "[0-9a-z]{26}"
"""An id's suffix as a regular expression, for patterns of names built from ids (a stored file, a key)."""


def new_id(prefix: str) -> str:
    """`img_01jd…`: 48 bits of milliseconds then 80 random bits, so ids sort by creation time."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{''.join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])}"


def is_id(value: str, prefix: str) -> bool:
    """Whether `value` has the shape of an id `new_id(prefix)` makes: the one check of an id a client sends
    (in a path, a cursor, a form) before it reaches a lookup."""
    return _pattern(prefix).fullmatch(value) is not None


@functools.cache
def _pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(f"{re.escape(prefix)}_{SUFFIX}")


__all__ = ["SUFFIX", "is_id", "new_id"]
