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
        if expires is None or signature is None or not _well_formed(expires, signature):
            return Verdict.BAD_SIGNATURE
        if not hmac.compare_digest(self.signature(name, int(expires)), signature):
            return Verdict.BAD_SIGNATURE
        if int(expires) <= (time.time() if now is None else now):
            return Verdict.EXPIRED
        return Verdict.VALID


MAX_EXPIRES_DIGITS = 12
"""Unix seconds up to the year 33658: longer is no URL this signer made (and `int()` of thousands of
digits is refused by Python, or slow)."""


def _well_formed(expires: str, signature: str) -> bool:
    """ASCII digits for `expires` (not `²` or `٣`, which `str.isdigit` accepts) and an ASCII signature
    (`hmac.compare_digest` raises on any other str)."""
    if not expires or not signature or not expires.isascii() or not signature.isascii():
        return False
    return expires.isdigit() and len(expires) <= MAX_EXPIRES_DIGITS


__all__ = ["UrlSigner", "Verdict"]
