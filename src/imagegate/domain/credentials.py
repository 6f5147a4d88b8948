"""What a route needs to reach its upstream; read from the environment, never from the database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str | None
    base_url: str | None
    api_version: str | None = None

    def __repr__(self) -> str:  # never print a key
        return f"Credentials(base_url={self.base_url!r}, api_key={'set' if self.api_key else None})"


__all__ = ["Credentials"]
