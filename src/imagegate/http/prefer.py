"""The `Prefer` request header (RFC 7240): does the client ask for `respond-async`?

The header may be sent more than once and each may hold several preferences separated by commas,
each `token [= value] *( ";" parameter )`; names are case-insensitive. Only the name matters here.
"""

from __future__ import annotations

from starlette.requests import Request


def prefers_async(request: Request) -> bool:
    for header in request.headers.getlist("prefer"):
        for preference in header.split(","):
            name = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if name == "respond-async":
                return True
    return False


__all__ = ["prefers_async"]
