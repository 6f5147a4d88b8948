"""Setting and clearing a key's webhook URL (operator actions), with the URL rules of
domain/webhook_url.py; setting one hands out the key's signing secret, once."""

from __future__ import annotations

import ipaddress
from typing import Any

from ...db.webhooks import WebhooksRepo
from ...domain.errors import InvalidRequest, NotFound
from ...domain.ports import WebhookTransport, WebhookUnreachable
from ...domain.webhook_url import PARAM, check_webhook_url, refused_address
from ...domain.webhooks import format_secret, key_secret


class WebhookEndpoints:
    def __init__(self, repo: WebhooksRepo, transport: WebhookTransport, signing_secret: bytes, *, public: bool) -> None:
        self._repo = repo
        self._transport = transport
        self._master = signing_secret
        self._public = public

    async def set_url(self, key_id: str, url: object) -> dict[str, Any]:
        """Point the key's webhooks at `url`; the answer carries the new signing secret (the previous one
        stops signing). The secret is derived, not stored: it is never shown again."""
        endpoint = await self._repo.set_url(key_id, await self.checked_url(url))
        if endpoint is None:
            raise NotFound(f"No key '{key_id}'.", param="key_id")
        return {"key_id": key_id, "webhook_url": endpoint.url, "secret": self.secret(key_id, endpoint.version)}

    async def checked_url(self, url: object) -> str:
        """`url` as a webhook may be sent to it (a public gateway also resolves its host), or a 400."""
        target = check_webhook_url(url, public=self._public)
        if self._public and target.literal is None:
            await self._check_resolved(target.host, target.port)
        return target.url

    def secret(self, subject: str, version: int) -> str:
        """The signing secret of a key's (or an account's alert) webhooks at `version`, as handed out."""
        return format_secret(key_secret(self._master, subject, version))

    async def clear_url(self, key_id: str) -> dict[str, Any]:
        if not await self._repo.clear_url(key_id):
            raise NotFound(f"No key '{key_id}'.", param="key_id")
        return {"key_id": key_id, "webhook_url": None}

    async def _check_resolved(self, host: str, port: int) -> None:
        try:
            addresses = await self._transport.resolve(host, port)
        except WebhookUnreachable as exc:
            raise InvalidRequest(f"The webhook URL's host does not resolve: {exc}.", param=PARAM) from exc
        for address in addresses:
            why = refused_address(ipaddress.ip_address(address))
            if why is not None:
                raise InvalidRequest(
                    f"The webhook URL's host {host} resolves to {why} ({address}), which a public gateway does not call.",
                    param=PARAM,
                )


__all__ = ["WebhookEndpoints"]
