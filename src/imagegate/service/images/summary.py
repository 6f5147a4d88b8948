"""What one generation did, for the access log: the service fills it in as the request ends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RequestSummary:
    model: str | None = None
    """The catalog id, once the body named a known model."""
    images: int = 0
    """Images delivered to the client."""
    cost_micros: int = 0
    """What the account was charged (0 for a test key, a refusal or a replay)."""


__all__ = ["RequestSummary"]
