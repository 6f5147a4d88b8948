"""The CLI refuses what the admin API refuses, with a one-line error and no traceback: text that
cannot be stored (argv bytes that are not UTF-8 arrive as lone surrogates) and unbounded amounts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, Gateway, _clean_environ


def run_cli(gateway: Gateway, *args: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"imagegate", *args],
        env={**_clean_environ(), **gateway.env},
        capture_output=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((b"accounts", b"show", b"acct_\xff"), id="id-not-utf8"),
        pytest.param((b"accounts", b"create", b"name-\xff"), id="name-not-utf8"),
        pytest.param((b"credit", b"add", b"{account}", b"9000000000000", b"--reason", b"x"), id="top-up-9e12"),
        pytest.param((b"credit", b"add", b"{account}", b"1", b"--reason", b"\xed\xa0\x80"), id="reason-surrogate"),
        pytest.param((b"credit", b"adjust", b"{account}", b"-1e999999999", b"--reason", b"x"), id="adjust-huge"),
        pytest.param(
            (b"prices", b"set", b"gpt-image-2", b"--quality", b"low", b"--size", b"1024x1024", b"--usd", b"5.29e16"),
            id="price",
        ),
    ],
)
def test_the_cli_refuses_cleanly(gateway: Gateway, args: tuple[bytes, ...]) -> None:
    account = gateway.new_account("1")
    result = run_cli(gateway, *(a.replace(b"{account}", account.id.encode()) for a in args))
    assert result.returncode != 0, result.stdout
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert b"error:" in result.stderr.lower(), result.stderr
    assert gateway.balance(account.id) == (1_000_000, 0)
