"""Wire name -> provider factory. Built-in providers register exactly as an extension would.

A route's `provider` names one of these; its `credentials` name the settings section whose key and
base URL it uses (a route's own `base_url`, `api_key` and `api_version` win over the section's).
"""

from __future__ import annotations

from collections.abc import Callable


from ..domain.catalog import Route
from ..domain.credentials import Credentials
from ..domain.ports import Provider
from .gemini import GeminiImages
from .http_client import UpstreamClient
from .openai import OpenAIImages
from .preview import PreviewProvider
from .seedream import SeedreamImages

ProviderFactory = Callable[[Route, Credentials, UpstreamClient], Provider | None]
"""Builds a provider for a route, or returns None when the route's credentials are missing."""


def _openai(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
    if not credentials.api_key or not credentials.base_url:
        return None
    return OpenAIImages.openai(client, route, credentials.api_key, credentials.base_url)


def _openai_compatible(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
    """An operator's own server (a GPU worker, another imagegate): a base URL, and a key if it wants one."""
    if not credentials.base_url:
        return None
    return OpenAIImages.openai(client, route, credentials.api_key, credentials.base_url)


def _azure_openai(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
    if not credentials.api_key or not credentials.base_url or not credentials.api_version:
        return None
    return OpenAIImages.azure(client, route, credentials.api_key, credentials.base_url, credentials.api_version)


def _gemini(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
    if not credentials.api_key or not credentials.base_url:
        return None
    return GeminiImages(client, route, credentials.api_key, credentials.base_url)


def _seedream(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
    if not credentials.api_key or not credentials.base_url:
        return None
    return SeedreamImages(client, route, credentials.api_key, credentials.base_url)


def _preview(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
    return PreviewProvider()


def default_registry() -> dict[str, ProviderFactory]:
    return {
        "openai": _openai,
        "openai_compatible": _openai_compatible,
        "azure_openai": _azure_openai,
        "gemini": _gemini,
        "seedream": _seedream,
        "preview": _preview,
    }


__all__ = ["ProviderFactory", "default_registry"]
