"""Which characters a database can store: a leaf module (the error tree uses it to render safely).

PostgreSQL refuses NUL in `text`; no engine (nor UTF-8 itself) can hold an unpaired surrogate, which
JSON's `\\ud800` escape can still produce.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def unstorable_at(text: str) -> int | None:
    """The index of the first character no database can store (NUL, a lone surrogate), or None."""
    nul = text.find("\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start if nul < 0 else min(nul, exc.start)
    return None if nul < 0 else nul


def printable(text: str) -> str:
    """`text` with every unstorable character replaced by U+FFFD: safe to echo in an error body."""
    if unstorable_at(text) is None:
        return text
    return "".join(REPLACEMENT if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text)


__all__ = ["printable", "unstorable_at"]
