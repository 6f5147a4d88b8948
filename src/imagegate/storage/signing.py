"""HMAC-signed, expiring download URLs for the embedded blob store."""

from __future__ import annotations

import hashlib
import hmac
import time
from enum import Enum


class Verdict(Enum):
    VALID = "valid"
    BAD_SIGNATURE = "invalid_signature"
    EXPIRED = "url_expired"


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def signature(self, name: str, expires: int) -> str:
        """Signs the file name and the expiry together, so neither can be changed alone."""
        message = f"{name}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, name: str, expires: str | None, signature: str | None, now: float | None = None) -> Verdict:
        if not expires or not signature or not expires.isdigit():
            return Verdict.BAD_SIGNATURE
        if not hmac.compare_digest(self.signature(name, int(expires)), signature):
            return Verdict.BAD_SIGNATURE
        if int(expires) <= (time.time() if now is None else now):
            return Verdict.EXPIRED
        return Verdict.VALID


__all__ = ["UrlSigner", "Verdict"]
