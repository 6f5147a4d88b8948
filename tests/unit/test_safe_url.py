"""`safe_url`: the one place a URL is made fit to print (`serve`'s banner, `status`, `doctor`)."""

from __future__ import annotations

import pytest

from imagegate.domain.safe_url import safe_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+asyncpg://app:pa55w0rd@db:5432/imagegate", "postgresql+asyncpg://app:***@db:5432/imagegate"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://app:p@ss:w0rd@db/x", "postgresql://app:***@db/x"),
        ("redis://app@cache:6379", "redis://app@cache:6379"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("sqlite+aiosqlite:////var/lib/imagegate/gateway.db", "sqlite+aiosqlite:////var/lib/imagegate/gateway.db"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert safe_url(url) == shown
