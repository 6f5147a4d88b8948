"""The real ASGI app (`create_app`, its lifespan and all) in this process, reached through httpx's
ASGI transport: for endpoint-to-service behaviour that needs no process of its own. Each client can
come from its own address, as a socket's peer would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from imagegate.config import load_settings
from imagegate.http.app import create_app


@asynccontextmanager
async def serving(env: Mapping[str, str]) -> AsyncIterator[FastAPI]:
    """A node built from `env` (IMAGEGATE_* settings), started and, on exit, stopped."""
    app = create_app(load_settings(dict(env)))
    async with app.router.lifespan_context(app):
        yield app


def client_of(app: FastAPI, address: str = "127.0.0.1", **kwargs: object) -> httpx.AsyncClient:
    """A client whose requests reach `app` from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway.test", **kwargs)  # type: ignore[arg-type]
