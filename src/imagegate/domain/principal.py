"""Who is asking: the API key and its account, as the authenticator resolved them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    account_id: str
    mode: str  # "live" or "test"
    allowed_models: tuple[str, ...] | None
    rpm: int | None = None
    currency: str = "USD"

    @property
    def is_test(self) -> bool:
        return self.mode == "test"


__all__ = ["Principal"]
