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


__all__ = ["CredentialSection"]
