"""One row of a settings table: an environment variable, its default and what it does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str | None
    help: str


__all__ = ["Setting"]
