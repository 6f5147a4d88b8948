"""ASGI entry point for `uvicorn --factory imagegate.http.asgi:app_from_env` (and `serve --workers N`)."""

from __future__ import annotations

from ..node import app_from_env

__all__ = ["app_from_env"]
