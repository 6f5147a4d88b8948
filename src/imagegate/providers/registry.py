"""Wire name -> provider factory. Built-in providers register exactly as an extension would."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ..domain.catalog import Route
from ..domain.credentials import Credentials
from ..domain.ports import Provider
from .openai import OpenAIImages
from .preview import PreviewProvider

ProviderFactory = Callable[[Route, Credentials, httpx.AsyncClient], Provider | None]
"""Builds a provider for a route, or returns None when the route's credentials are missing."""


def _openai(route: Route, credentials: Credentials, client: httpx.AsyncClient) -> Provider | None:
    if not credentials.api_key or not credentials.base_url:
        return None
    return OpenAIImages(client, route, credentials.api_key, credentials.base_url)


def _preview(route: Route, credentials: Credentials, client: httpx.AsyncClient) -> Provider | None:
    return PreviewProvider()


def default_registry() -> dict[str, ProviderFactory]:
    return {"openai": _openai, "preview": _preview}


__all__ = ["ProviderFactory", "default_registry"]
