"""API key material: shown once at creation, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

PREFIXES = {"live": "ig_live_", "test": "ig_test_"}
DISPLAY_PREFIX_CHARS = 12


def new_key(mode: str) -> str:
    return PREFIXES[mode] + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_CHARS]


__all__ = ["display_prefix", "hash_key", "new_key"]
