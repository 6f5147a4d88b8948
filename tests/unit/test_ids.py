"""new_id keeps its layout: 26 Crockford base32 digits of (milliseconds << 80 | 80 random bits)."""

from __future__ import annotations

import random
import re
import time

import pytest

from imagegate.domain import ids

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _reference(value: int) -> str:  # the original digit-by-digit encoder
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


_RANDOM = random.Random(6)
VALUES = [0, 1, 31, 32, 1023, 1024, 2**80 - 1, 2**127, 2**128 - 1, *(_RANDOM.getrandbits(128) for _ in range(200))]


@pytest.mark.parametrize("value", VALUES)
def test_same_digits_as_the_reference_encoder(value: int, monkeypatch: pytest.MonkeyPatch) -> None:
    now = (value >> 80) / 1000
    monkeypatch.setattr(ids.time, "time", lambda: now)
    monkeypatch.setattr(ids.os, "urandom", lambda n: (value & (2**80 - 1)).to_bytes(n, "big"))
    expected = (int(now * 1000) << 80) | (value & (2**80 - 1))
    assert ids.new_id("img") == f"img_{_reference(expected)}"


def test_ids_sort_by_creation_time() -> None:
    first = ids.new_id("req")
    time.sleep(0.002)
    second = ids.new_id("req")
    assert re.fullmatch(r"req_[0-9a-hjkmnp-tv-z]{26}", first) and first < second


def test_one_check_of_an_id_a_client_sends() -> None:
    made = ids.new_id("job")
    assert ids.is_id(made, "job")
    assert not ids.is_id(made, "img")  # another resource's id
    assert not ids.is_id(made + "\n", "job")  # `$` would let a trailing newline through
    assert not ids.is_id(made[:-1], "job")
    assert not ids.is_id("job_" + "A" * 26, "job")
    assert not ids.is_id("job_../../../etc/passwd", "job")
