"""ASGI entry point for `uvicorn --factory imagegate.http.asgi:app_from_env` (and `serve --workers N`)."""

from __future__ import annotations

from fastapi import FastAPI

from ..config import load_settings
from .app import create_app


def app_from_env() -> FastAPI:
    return create_app(load_settings())
