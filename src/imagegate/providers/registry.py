"""Wire name -> provider entry. Built-in providers register exactly as an extension would.

A route's `provider` names one of these; its `credentials` name a section that some entry declares
(with the environment variables it is read from). A route's own `base_url`, `api_key` and
`api_version` win over the section's. Adding an upstream: one module, one line in `default_registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..config.setting import Setting
from ..domain.catalog import Route
from ..domain.credentials import Credentials
from ..domain.ports import Provider
from . import gemini, openai, preview, seedream
from .credentials import CredentialSection
from .http_client import UpstreamClient
from .probes import ProbeFactory, azure_probe, bearer_probe, gemini_probe

ProviderFactory = Callable[[Route, Credentials, UpstreamClient], Provider | None]
"""Builds a provider for a route, or returns None when the route's credentials are missing."""


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    build: ProviderFactory
    credentials: tuple[CredentialSection, ...] = ()
    probe: ProbeFactory | None = None
    """The cheapest authenticated call (a model list), for `imagegate doctor`; None: nothing to check."""


Registry = Mapping[str, ProviderEntry]


def default_registry() -> dict[str, ProviderEntry]:
    return {
        "openai": ProviderEntry(openai.build_openai, (openai.OPENAI_CREDENTIALS,), bearer_probe),
        "openai_compatible": ProviderEntry(openai.build_openai_compatible, probe=bearer_probe),
        "azure_openai": ProviderEntry(openai.build_azure, (openai.AZURE_CREDENTIALS,), azure_probe),
        "gemini": ProviderEntry(gemini.build, (gemini.CREDENTIALS,), gemini_probe),
        "seedream": ProviderEntry(seedream.build, (seedream.CREDENTIALS,), bearer_probe),
        "preview": ProviderEntry(preview.build),
    }


def credential_sections(registry: Registry) -> dict[str, CredentialSection]:
    return {section.name: section for entry in registry.values() for section in entry.credentials}


def read_credentials(registry: Registry, env: Mapping[str, str]) -> dict[str, Credentials]:
    """Every declared section's credentials, read from `env` (the settings' snapshot of it)."""
    return {name: section.read(env) for name, section in credential_sections(registry).items()}


def credential_settings(registry: Registry) -> tuple[Setting, ...]:
    """The environment variables of every section, for the settings table."""
    return tuple(s for section in credential_sections(registry).values() for s in section.settings())


__all__ = [
    "ProviderEntry",
    "ProviderFactory",
    "Registry",
    "credential_sections",
    "credential_settings",
    "default_registry",
    "read_credentials",
]
