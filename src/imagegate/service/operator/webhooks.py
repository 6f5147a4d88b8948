"""The operator's webhooks: a key's URL set (its secret shown once) or cleared, and every account's
deliveries."""

from __future__ import annotations

from typing import Any

from ...domain.text import check_id
from ..webhooks.endpoints import WebhookEndpoints
from ..webhooks.webhooks import Webhooks


class WebhooksAdmin:
    def __init__(self, endpoints: WebhookEndpoints, log: Webhooks) -> None:
        self._webhooks = endpoints
        self._webhook_log = log

    async def set_url(self, key_id: str, url: object) -> dict[str, Any]:
        """Send the key's finished async jobs to `url`; the answer shows the signing secret, this once."""
        check_id(key_id, "key_id")
        return await self._webhooks.set_url(key_id, url)

    async def clear_url(self, key_id: str) -> dict[str, Any]:
        check_id(key_id, "key_id")
        return await self._webhooks.clear_url(key_id)

    async def deliveries(
        self,
        *,
        account_id: str | None = None,
        status: str | None = None,
        limit: str | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """Webhook messages of every account (or one), newest first, each with its attempts."""
        return await self._webhook_log.operator_deliveries(account_id, status, limit, after)


__all__ = ["WebhooksAdmin"]
