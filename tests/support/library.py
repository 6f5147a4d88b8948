"""Waiting for the image library's thumbnails, which a gateway makes after the answer has gone."""

from __future__ import annotations

import time
from typing import Any, Protocol

import httpx


class HasHttp(Protocol):
    def http(self) -> httpx.Client: ...


def library_with_thumbnails(gateway: HasHttp, key: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The caller's library once every image on its first page has a thumbnail (bounded poll)."""
    deadline = time.monotonic() + timeout
    with gateway.http() as http:
        while True:
            response = http.get("/v1/images", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            listed: list[dict[str, Any]] = response.json()["data"]
            if all(item["thumbnail_url"] for item in listed) or time.monotonic() > deadline:
                assert all(item["thumbnail_url"] for item in listed), listed
                return listed
            time.sleep(0.05)


__all__ = ["library_with_thumbnails"]
