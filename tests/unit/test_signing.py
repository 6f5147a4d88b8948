"""imagegate.storage.signing: HMAC over name and expiry, verdicts at and around the boundary."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from imagegate.storage.signing import UrlSigner, Verdict

NAME = "img_01jd0000000000000000000000.png"
EXPIRES = 1_800_000_000
SIGNER = UrlSigner(b"secret-one")


def test_signature_is_hex_hmac_sha256_of_name_and_expiry() -> None:
    expected = hmac.new(b"secret-one", f"{NAME}\n{EXPIRES}".encode(), hashlib.sha256).hexdigest()
    assert SIGNER.signature(NAME, EXPIRES) == expected
    assert len(expected) == 64


def test_signature_is_deterministic_and_depends_on_everything() -> None:
    sig = SIGNER.signature(NAME, EXPIRES)
    assert SIGNER.signature(NAME, EXPIRES) == sig
    assert SIGNER.signature(NAME, EXPIRES + 1) != sig
    assert SIGNER.signature(NAME.replace(".png", ".webp"), EXPIRES) != sig
    assert UrlSigner(b"secret-two").signature(NAME, EXPIRES) != sig


def test_valid_before_expiry() -> None:
    sig = SIGNER.signature(NAME, EXPIRES)
    assert SIGNER.verify(NAME, str(EXPIRES), sig, now=EXPIRES - 1) is Verdict.VALID
    assert SIGNER.verify(NAME, str(EXPIRES), sig, now=EXPIRES - 0.001) is Verdict.VALID


@pytest.mark.parametrize("offset", [0, 0.001, 1, 86400])
def test_expired_at_and_after_the_boundary(offset: float) -> None:
    sig = SIGNER.signature(NAME, EXPIRES)
    assert SIGNER.verify(NAME, str(EXPIRES), sig, now=EXPIRES + offset) is Verdict.EXPIRED


def test_default_now_is_the_clock() -> None:
    future = int(time.time()) + 3600
    past = int(time.time()) - 1
    assert SIGNER.verify(NAME, str(future), SIGNER.signature(NAME, future)) is Verdict.VALID
    assert SIGNER.verify(NAME, str(past), SIGNER.signature(NAME, past)) is Verdict.EXPIRED


def test_a_bad_signature_is_reported_before_expiry() -> None:
    """An expired URL with a forged signature is a forgery, not an expiry: no oracle on the secret."""
    forged = "0" * 64
    assert SIGNER.verify(NAME, str(EXPIRES), forged, now=EXPIRES + 10) is Verdict.BAD_SIGNATURE


def _flip(sig: str) -> str:
    """The same signature with its last hex digit changed."""
    return sig[:-1] + ("1" if sig[-1] == "0" else "0")


@pytest.mark.parametrize(
    ("name", "expires", "signature"),
    [
        (NAME, str(EXPIRES), _flip(SIGNER.signature(NAME, EXPIRES))),  # one hex char changed
        (NAME, str(EXPIRES + 1), SIGNER.signature(NAME, EXPIRES)),  # expiry moved, signature kept
        ("img_01jd0000000000000000000001.png", str(EXPIRES), SIGNER.signature(NAME, EXPIRES)),  # another image
        (NAME, str(EXPIRES), UrlSigner(b"secret-two").signature(NAME, EXPIRES)),  # another secret
        (NAME, str(EXPIRES), SIGNER.signature(NAME, EXPIRES).upper()),
        (NAME, str(EXPIRES), SIGNER.signature(NAME, EXPIRES)[:-1]),  # truncated
        (NAME, str(EXPIRES), SIGNER.signature(NAME, EXPIRES) + "0"),  # extended
        (NAME, None, SIGNER.signature(NAME, EXPIRES)),
        (NAME, "", SIGNER.signature(NAME, EXPIRES)),
        (NAME, str(EXPIRES), None),
        (NAME, str(EXPIRES), ""),
        (NAME, None, None),
        (NAME, "-1", SIGNER.signature(NAME, -1)),
        (NAME, "1.8e9", SIGNER.signature(NAME, EXPIRES)),
        (NAME, f" {EXPIRES}", SIGNER.signature(NAME, EXPIRES)),
        (NAME, "abc", SIGNER.signature(NAME, EXPIRES)),
    ],
)
def test_bad_signatures(name: str, expires: str | None, signature: str | None) -> None:
    assert SIGNER.verify(name, expires, signature, now=EXPIRES - 100) is Verdict.BAD_SIGNATURE


def test_verdict_values_are_the_error_codes() -> None:
    assert Verdict.BAD_SIGNATURE.value == "invalid_signature"
    assert Verdict.EXPIRED.value == "url_expired"
