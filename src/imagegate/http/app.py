"""`create_app(settings)`: the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..logs import configure_logging
from .components import Components, build_components
from .errors import install_error_handlers
from .limits import BodySizeLimitMiddleware
from .middleware import RequestIdMiddleware
from .openapi import install_openapi
from .unavailable import install_database_unavailable
from .routes import account, admin, files, images, models, usage


log = logging.getLogger("imagegate.sweeper")


async def _sweep_forever(components: Components) -> None:
    """Release the holds of requests that died with their node, on every node, now and then."""
    interval = components.settings.sweep_interval_seconds
    while True:
        try:
            released = await components.ledger.sweep_expired()
            if released:
                log.warning("released %d expired hold(s)", len(released))
        except Exception:  # a bad sweep must not stop the next one
            log.exception("hold sweep failed")
        await asyncio.sleep(interval)


def create_app(settings: Settings) -> FastAPI:
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.components = await build_components(settings)
        if app.state.components.recovery is not None:
            await app.state.components.recovery.start()  # release what this node's dead previous run held
        sweeper = asyncio.create_task(_sweep_forever(app.state.components))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if app.state.components.recovery is not None:
                with contextlib.suppress(Exception):
                    await app.state.components.recovery.stop()
            await app.state.components.aclose()

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
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    for module in (images, models, files, account, usage, admin):
        app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


__all__ = ["create_app"]
