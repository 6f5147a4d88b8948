"""Local services the tests use (Redis on 127.0.0.1:6379): skipped with the reason when they are
not running, except under CI=true, where a missing service fails the test."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

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
