"""Local services the tests use (Redis on 127.0.0.1:6379): skipped with the reason when they are
not running, except under CI=true, where a missing service fails the test."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import ManagedProcess, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: required, not skipped)", pytrace=False)
    pytest.skip(reason)


def require_redis() -> str:
    """The local Redis URL, or skip (fail under CI) when nothing listens on 127.0.0.1:6379."""
    if not port_open(6379):
        _missing("Redis is not reachable on 127.0.0.1:6379; start it with scripts/services")
    return REDIS_URL


def require_redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        _missing("redis-server is not installed (apt-get install redis-server)")
    assert path is not None
    return path


@contextmanager
def private_redis_server(directory: Path) -> Iterator[tuple[ManagedProcess, str]]:
    """A Redis of the test's own on a free loopback port, so that the test may stop it (never the shared
    one); (its process, its URL)."""
    binary = require_redis_server_binary()
    port = free_port()
    args = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]
    process = ManagedProcess(args, env={}, log_path=directory / "redis.log")
    process.start(ready_port=port, timeout=20)
    try:
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        process.stop()
