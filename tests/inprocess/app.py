"""The gateway's app in this process: `imagegate.asgi.create_app` with its lifespan (so the
wiring is a serving node's), on a SQLite file in a temporary folder, driven through httpx's
ASGITransport. For endpoint -> service behaviour that needs no process of its own; upstreams are
the catalog's routes (point them at the offline `preview` provider to pay real prices offline)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp

from imagegate.asgi import create_app
from imagegate.config import Settings, load_settings
from imagegate.wiring import Gateway


def offline_routes(*models: str, editing: tuple[str, ...] = ()) -> str:
    """A catalog overlay that gives each of `models` one route on the offline `preview` provider (real
    prices, no upstream); `editing`: models (of those) the overlay also lets edit (`img2img`)."""
    overlay = [f"[models.{model}]\nimg2img = true\n" for model in editing]
    overlay += [
        f'[[models.{model}.routes]]\nname = "offline"\nprovider = "preview"\ncredentials = "none"\n'
        'upstream_model = "preview"\n'
        for model in models
    ]
    return "\n" + "\n".join(overlay)


def app_settings(data_dir: Path, catalog_toml: str | None = None, **env: str) -> Settings:
    """Settings as an operator's environment gives them; `catalog_toml` is merged over the shipped catalog."""
    values = {"IMAGEGATE_DATA_DIR": str(data_dir), "IMAGEGATE_SIGNING_SECRET": "in-process-test-secret", **env}
    if catalog_toml is not None:
        path = data_dir.parent / f"{data_dir.name}-catalog.toml"
        path.write_text(catalog_toml, "utf-8")
        values["IMAGEGATE_CONFIG"] = str(path)
    return load_settings(values)


class AccessLines(logging.Handler):
    """The access log's lines (`imagegate.access`), as the operator reads them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def of(self, request_id: str) -> str:
        (line,) = [line for line in self.lines if line.startswith(f"{request_id} ")]
        return line


@dataclass
class InProcess:
    http: httpx.AsyncClient
    gateway: Gateway
    app: ASGIApp
    settings: Settings
    access: AccessLines = field(default_factory=AccessLines)

    def client_from(self, address: str, **kwargs: Any) -> httpx.AsyncClient:
        """Another client of this app whose requests come from `address`, as a socket's peer would."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 50_000))
        return httpx.AsyncClient(transport=transport, base_url=self.http.base_url, timeout=60, **kwargs)

    async def new_key(self, usd: str = "10", *, test: bool = False) -> str:
        admin = self.gateway.admin
        account = await admin.accounts.create("in-process")
        if usd != "0":
            await admin.ledger.add_credit(account["id"], usd, "funding")
        return str((await admin.keys.create(account["id"], test=test, models=None, rpm=None))["key"])


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[InProcess]:
    app = create_app(settings)
    access = AccessLines()
    logger = logging.getLogger("imagegate.access")
    logger.addHandler(access)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=settings.node.base_url(), timeout=60) as http:
                yield InProcess(http, app.state.gateway, app, settings, access)
    finally:
        logger.removeHandler(access)


__all__ = ["AccessLines", "InProcess", "app_settings", "open_app"]
