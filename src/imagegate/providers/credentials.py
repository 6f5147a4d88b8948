"""The environment variables a provider reads its credentials from, declared by the provider itself.

A route's `credentials` names a section; each provider module declares the sections it understands
(`OPENAI_API_KEY` + `OPENAI_BASE_URL` for "openai", …), so adding an upstream touches no other module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config.setting import Setting
from ..domain.credentials import Credentials


@dataclass(frozen=True, slots=True)
class CredentialSection:
    name: str
    api_key: Setting | None = None
    base_url: Setting | None = None
    api_version: Setting | None = None

    def settings(self) -> tuple[Setting, ...]:
        return tuple(s for s in (self.api_key, self.base_url, self.api_version) if s is not None)

    def read(self, env: Mapping[str, str]) -> Credentials:
        def value(setting: Setting | None) -> str | None:
            if setting is None:
                return None
            return env.get(setting.name) or setting.default

        return Credentials(value(self.api_key), value(self.base_url), value(self.api_version))


def key_and_base_url(
    name: str, prefix: str, default_base_url: str, route: str, *, key_note: str = "", base_url_note: str = ""
) -> CredentialSection:
    """The usual section of a vendor's API: `{prefix}_API_KEY` (no default) and `{prefix}_BASE_URL`
    (the vendor's public endpoint unless set), each helped as the `route`'s."""
    return CredentialSection(
        name,
        api_key=Setting(f"{prefix}_API_KEY", None, f"key of the {route}{key_note} route"),
        base_url=Setting(f"{prefix}_BASE_URL", default_base_url, f"base URL of the {route} route{base_url_note}"),
    )


__all__ = ["CredentialSection", "key_and_base_url"]
