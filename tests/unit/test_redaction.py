"""The one redaction place (observability/redaction.py): configured secrets and credential-shaped text never reach
a log line, its exception text or its arguments."""

from __future__ import annotations

import io
import logging

import pytest

from imagegate.observability import redaction
from imagegate.observability.logs import redact_logs
from imagegate.observability.redaction import MASK, Redactor
from imagegate.provenance.credentials import issue_chain

SECRET = "azure-key-0123456789"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        (f"upstream said: key {SECRET} is invalid", SECRET),
        ("Authorization: Bearer abc.DEF-123_456", "abc.DEF-123_456"),
        ("Incorrect API key provided: sk-proj-AbCdEf123456", "sk-proj-AbCdEf123456"),
        (
            "GET /v1beta/models/x:generateContent?key=AIzaSyA0123456789012345678901&alt=sse",
            "AIzaSyA0123456789012345678901",
        ),
        ("GET /x?alt=sse&api_key=s3cr3tvalue", "s3cr3tvalue"),
        ('{"api_key": "hunter2-long"}', "hunter2-long"),
        ("postgresql+asyncpg://user:pa55w0rd@db/x", "pa55w0rd"),
        ("client key ig_live_AbCdEfGhIjKl", "AbCdEfGhIjKl"),
    ],
)
def test_credentials_are_masked(text: str, gone: str) -> None:
    redacted = Redactor([SECRET])(text)
    assert gone not in redacted and MASK in redacted


def test_ordinary_text_is_untouched() -> None:
    text = "route openai failed after 3 attempt(s): upstream 500 server_error: try again (request req_01abc)"
    assert Redactor([SECRET])(text) == text


def test_the_filter_rewrites_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("imagegate.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    redact_logs(Redactor([SECRET]), [handler], [])
    try:
        logger.error("route failed: %s", f"echoed {SECRET}")
        try:
            raise ValueError(f"bad key {SECRET}")
        except ValueError:
            logger.exception("upstream call failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert SECRET not in out
    assert out.count(MASK) >= 2 and "ValueError" in out


def test_a_pem_private_key_is_masked_whole_in_messages_reprs_and_tracebacks() -> None:
    """The C2PA signing key (PEM), however it reaches a log line: its text, a bytes repr, an exception."""
    _chain, key = issue_chain("Redaction Test")
    body = key.decode().splitlines()[1]  # a line of the key's base64
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("imagegate.test_redaction.pem")
    logger.addHandler(handler)
    logger.propagate = False
    redact_logs(Redactor([]), [handler], [])
    try:
        logger.error("signer key: %s", key.decode())
        logger.error("signer info: %r", key)
        try:
            raise ValueError(f"cannot load {key.decode()[:90]}")  # cut short
        except ValueError:
            logger.exception("signer failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert body not in out and body[:40] not in out
    assert out.count(MASK) >= 3 and "ValueError" in out


CREDENTIAL_SHAPES = [
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
    "BeArEr abcd.efgh",
    "BASIC dXNlcjpwYXNz",
    "sk-live_0123456789",
    "AIzaSyA0123456789012345678901",
    "IG_LIVE_no ig_test_AbCdEfGhIjKl",
    "GET /x?KEY=s3cr3t&x=1",
    "GET /x;Access-Token=s3cr3tvalue",
    "GET /x&PassWord=hunter22",
    '{"X-Goog-Api-Key": "abcdefgh"}',
    "Authorization: xyzw1234",
    "ApiKey=abcd1234",
    "redis://default:pa55w0rd@cache:6379/0",
    "paſsword: hunter2-long",  # not ASCII: the patterns' own case rules decide
]


@pytest.mark.parametrize("text", CREDENTIAL_SHAPES)
def test_the_quick_check_never_skips_text_a_pattern_would_change(text: str) -> None:
    """Text the redactor leaves alone in one scan must be text none of its patterns changes."""
    changed = any(pattern.sub(replacement, text) != text for pattern, replacement in redaction._PATTERNS)
    assert changed, text  # each shape is one the patterns mask...
    assert redaction._may_hold_credential(text)  # ...so the quick check must send it through them
    assert Redactor([])(text) != text


def test_an_access_line_passes_the_quick_check_unchanged() -> None:
    line = "req_01jd0000000000000000000000 POST /v1/images/generations 200 key=key_01jd000000 model=x images=1 3.1 ms"
    assert not redaction._may_hold_credential(line)
    assert Redactor([SECRET])(line) == line
