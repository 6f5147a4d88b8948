"""The upstream's base64 is passed through to a b64_json answer only when it is exactly canonical."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

import pytest

from imagegate.domain.upstream import RetryableUpstreamError
from imagegate.providers.base import decode_b64, passthrough_b64

B64: Any = SimpleNamespace(response_format="b64_json")
URL: Any = SimpleNamespace(response_format="url")


@pytest.mark.parametrize("data", [b"", b"A", b"AB", b"ABC", b"ABCD", bytes(range(256)) * 3 + b"xy"])
def test_canonical_text_is_kept_for_b64_json_only(data: bytes) -> None:
    text = base64.b64encode(data).decode()
    assert decode_b64(text, "r") == data
    assert passthrough_b64(text, data, B64) is text
    assert passthrough_b64(text, data, URL) is None


@pytest.mark.parametrize("text", ["QR==", "QUJ=", "QUJDRB==", "QUJDREV="])
def test_nonzero_unused_bits_are_re_encoded(text: str) -> None:
    data = decode_b64(text, "r")  # lenient about the unused bits, like most decoders...
    assert passthrough_b64(text, data, B64) is None  # ...but a strict client would reject this text


@pytest.mark.parametrize("text", ["QUJD\n", "QUJD RA==", "QQ", "QQ==QQ==", "=QUJD", "QUJD*", "QUJDé"])
def test_invalid_base64_is_still_rejected(text: str) -> None:
    with pytest.raises(RetryableUpstreamError):
        decode_b64(text, "r")
