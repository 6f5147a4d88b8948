"""`create_api(node, ...)`: the FastAPI application of the JSON API, whose lifespan starts and stops its
node (`imagegate.asgi` mounts the pages beside it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from .. import __version__
from ..config.sections import HttpSettings, LogSettings
from ..domain.catalog import Catalog
from ..wiring import Gateway
from .access_log import AccessLogMiddleware
from .body_limit import BodySizeLimitMiddleware
from .endpoints import API_ROUTERS, batch_files, chat, images, responses
from .errors import install_error_handlers
from .middleware import RequestIdMiddleware
from .openapi import install_openapi
from .unavailable import install_database_unavailable

MULTIPART_OVERHEAD = 64 * 1024
"""Room for a multipart body's boundaries, headers and text fields beside its file."""


class NodeLife(Protocol):
    """What the lifespan starts and stops (`node.Node`): the gateway and its background work."""

    async def start(self) -> Gateway: ...

    async def stop(self) -> None: ...


def create_api(
    node: NodeLife, http: HttpSettings, logs: LogSettings, catalog: Catalog, *, batch_max_file_bytes: int
) -> FastAPI:
    """The app around `node`, bounded by the HTTP edge's settings (and `IMAGEGATE_BATCH_MAX_FILE_BYTES`
    for a batch's input file); `catalog` is what the API document describes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.gateway = await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(
        title="imagegate",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry looks up providers on every request: off unless wanted.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_openapi(app, catalog)
    install_database_unavailable(app)
    uploads = dict.fromkeys(images.UPLOAD_PATHS, http.edit_max_body_bytes)
    uploads[batch_files.UPLOAD_PATH] = batch_max_file_bytes + MULTIPART_OVERHEAD  # a batch's JSONL
    # their JSON may carry images as data URLs (or base64)
    inline_images = dict.fromkeys((chat.PATH, *responses.IMAGE_BODY_PATHS), http.edit_max_body_bytes)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=http.max_body_bytes,
        multipart_limits=uploads,
        any_body_limits=inline_images,
    )
    if logs.access_log:
        app.add_middleware(AccessLogMiddleware, json_lines=logs.format == "json")
    app.add_middleware(RequestIdMiddleware)
    for router in API_ROUTERS:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


__all__ = ["NodeLife", "create_api"]
