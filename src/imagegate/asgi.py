"""The served application, assembled: the API (`http.app.create_api`) around a node (`node.Node`, its
start and stop), with the pages (`web/`) mounted beside it, so neither edge imports the other.

`imagegate serve` runs `create_app(settings)`; `uvicorn --factory imagegate.asgi:app_from_env` (and
`serve --workers N`) builds it in each worker from the environment.
"""

from __future__ import annotations

from fastapi import FastAPI

from .config import Settings, load_settings
from .http.app import create_api
from .node import Node
from .observability.logs import configure_logging
from .web.pages import install_pages
from .wiring import configured_secrets


def create_app(settings: Settings) -> FastAPI:
    """The API and pages around a node that also runs the background work, unless
    `IMAGEGATE_NODE_ROLE=api` leaves it to `imagegate worker` nodes."""
    configure_logging(settings.logs.level, configured_secrets(settings))
    node = Node(settings, background=settings.node.role == "all")
    app = create_api(
        node, settings.http, settings.logs, settings.catalog, batch_max_file_bytes=settings.batches.max_file_bytes
    )
    install_pages(app)
    return app


def app_from_env() -> FastAPI:
    return create_app(load_settings())


__all__ = ["app_from_env", "create_app"]
