"""The served application, assembled: the API (`http.app.create_api`) with the pages (`web/`) mounted
beside it, so neither edge imports the other.

`imagegate serve` runs `create_app(settings)`; `uvicorn --factory imagegate.asgi:app_from_env` (and
`serve --workers N`) builds it in each worker from the environment.
"""

from __future__ import annotations

from fastapi import FastAPI

from .config import Settings, load_settings
from .http.app import create_api
from .web.pages import install_pages


def create_app(settings: Settings) -> FastAPI:
    app = create_api(settings)
    install_pages(app)
    return app


def app_from_env() -> FastAPI:
    return create_app(load_settings())


__all__ = ["app_from_env", "create_app"]
