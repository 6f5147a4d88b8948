"""The one redaction place (observability/redaction.py): configured secrets and credential-shaped text never reach
a log line, its exception text or its arguments."""

from __future__ import annotations

import io
import logging

import pytest

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
