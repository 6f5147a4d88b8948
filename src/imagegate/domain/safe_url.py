"""A URL as it may be shown (printed, logged, reported by `doctor`): with its password masked."""

from __future__ import annotations


def safe_url(url: str) -> str:
    """`postgresql://app:secret@db/x` -> `postgresql://app:***@db/x`; a URL with no password is left as written."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        rest = f"{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else f"{creds}@{host}"
    return scheme + sep + rest


__all__ = ["safe_url"]
