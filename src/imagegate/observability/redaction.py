"""Credentials are never logged: one logging filter rewrites every record before any handler sees it.

What it removes: every secret the gateway was configured with (upstream API keys, the admin token,
the moderation key, the URL signing secret), and anything shaped like a credential whatever its
origin (an upstream's error text that echoes a key, an exception that prints a URL):
`Bearer <token>`, `sk-…` keys, Google `AIza…` keys, our own `ig_live_…`/`ig_test_…` keys, `key=` /
`api_key=` / `token=` query parameters, `"api_key": "…"` / `api-key: …` pairs, and PEM private keys
(the C2PA signing key, whoever prints it: a whole `-----BEGIN … PRIVATE KEY-----` block, or what is
left of one cut short).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[REDACTED]"
MIN_SECRET_CHARS = 6  # shorter configured "secrets" would mask ordinary words

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S), MASK),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{4,}"), rf"\1 {MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"), MASK),
    (re.compile(r"\big_(live|test)_[A-Za-z0-9_\-]{6,}"), rf"ig_\1_{MASK}"),
    (
        re.compile(r"(?i)([?&;](?:key|api[_-]?key|access[_-]?token|token|auth|password|secret)=)[^&\s\"'#]+"),
        rf"\1{MASK}",
    ),
    (
        re.compile(
            r"(?i)([\"']?(?:api[_-]?key|x-goog-api-key|authorization|access[_-]?token|password|secret)[\"']?"
            r"\s*[:=]\s*[\"']?)[^\s\"',}&]{4,}"
        ),
        rf"\1{MASK}",
    ),
    (re.compile(r"(?i)(://[^:/@\s]+:)[^@\s/]+(@)"), rf"\1{MASK}\2"),  # user:password@ in URLs
)
_LITERALS = ("PRIVATE KEY", "sk-", "AIza", "ig_live_", "ig_test_")
_WORDS = ("bearer", "basic", "?key=", "&key=", ";key=", "token", "auth", "password", "secret", "api")


def _may_hold_credential(text: str) -> bool:
    """False only where none of `_PATTERNS` can match: each needs one of these literals (the
    case-insensitive ones, lowered). Text that is not ASCII always goes through the patterns, whose
    case-insensitive matching knows more than `str.lower` (`ſ` is `s` to them). An access line is
    checked in ~1 µs, not the patterns' ~50."""
    if not text.isascii() or any(literal in text for literal in _LITERALS) or ("://" in text and "@" in text):
        return True
    lower = text.lower()
    return any(word in lower for word in _WORDS)


class Redactor:
    """Text -> the same text with every known secret and credential-shaped token masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(s) for s in known)) if known else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(MASK, text)
        if not _may_hold_credential(text):
            return text
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, exception text and stack in place; never drops a record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: log it as written, still redacted
            message = str(record.msg)
        cleaned = self.redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


__all__ = ["MASK", "RedactingFilter", "Redactor"]
