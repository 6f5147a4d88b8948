"""`create_api(settings)`: the FastAPI application of the JSON API and its lifespan (`imagegate.asgi` mounts
the pages beside it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..observability.logs import configure_logging
from ..wiring import Gateway, configured_secrets, open_gateway
from .access_log import AccessLogMiddleware
from .body_limit import BodySizeLimitMiddleware
from .endpoints import API_ROUTERS, batch_files, chat, images, responses
from .errors import install_error_handlers
from .middleware import RequestIdMiddleware
from .openapi import install_openapi
from .unavailable import install_database_unavailable

MULTIPART_OVERHEAD = 64 * 1024
"""Room for a multipart body's boundaries, headers and text fields beside its file."""
log = logging.getLogger("imagegate.sweeper")


async def _sweep_forever(gateway: Gateway) -> None:
    """Release the holds of requests that died with their node, on every node, now and then."""
    interval = gateway.settings.sweep_interval_seconds
    while True:
        try:
            swept = await gateway.admin.ledger.sweep_holds()
            if swept["released"]:
                log.warning("released %d expired hold(s)", swept["released"])
        except Exception:  # a bad sweep must not stop the next one
            log.exception("hold sweep failed")
        await gateway.retention.sweep_logged()
        await gateway.job_workers.sweep_logged()
        await gateway.responses.sweep_logged()
        await asyncio.sleep(interval)


def create_api(settings: Settings) -> FastAPI:
    configure_logging(settings.log_level, configured_secrets(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_gateway(settings) as gateway:
            await gateway.files.check_store()  # a missing bucket stops the start, naming it
            await gateway.recovery.start()  # release what this node's dead previous run held
            app.state.gateway = gateway
            loops = [
                asyncio.create_task(_sweep_forever(gateway)),
                asyncio.create_task(gateway.webhook_delivery.run_forever()),  # every node sends due webhooks
                asyncio.create_task(gateway.batch_runner.run_forever()),  # every node advances batches
            ]
            await gateway.job_workers.start()  # this node's job workers (IMAGEGATE_JOB_WORKERS)
            try:
                yield
            finally:
                await gateway.job_workers.stop()  # a job still running is queued again, its hold kept
                for loop in loops:
                    loop.cancel()
                for loop in loops:
                    with contextlib.suppress(asyncio.CancelledError):
                        await loop
                with contextlib.suppress(Exception):
                    await gateway.recovery.stop()

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
    install_openapi(app, settings.catalog)
    install_database_unavailable(app)
    uploads = dict.fromkeys(images.UPLOAD_PATHS, settings.edit_max_body_bytes)
    uploads[batch_files.UPLOAD_PATH] = settings.batch_max_file_bytes + MULTIPART_OVERHEAD  # a batch's JSONL
    # their JSON may carry images as data URLs (or base64)
    inline_images = dict.fromkeys((chat.PATH, *responses.IMAGE_BODY_PATHS), settings.edit_max_body_bytes)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        multipart_limits=uploads,
        any_body_limits=inline_images,
    )
    if settings.access_log:
        app.add_middleware(AccessLogMiddleware, json_lines=settings.log_format == "json")
    app.add_middleware(RequestIdMiddleware)
    for router in API_ROUTERS:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


__all__ = ["create_api"]
