"""Finished async jobs become webhook messages; accounts and the operator read what was sent.

`Webhooks.job_finished` is the `JobEvents` seam the jobs worker calls when a job completes or fails.
It may be called more than once for the same job and status (the worker delivers at least once):
the message id is derived from (job id, status), so there is one message whatever the repeats.
A key without a webhook URL gets no message. Sending is `webhook_delivery.WebhookDelivery`'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ...db.clock import utcnow
from ...db.webhooks import Attempt, MessageRecord, NewMessage, WebhooksRepo
from ...domain.errors import InvalidRequest
from ...domain.paging import page_size
from ...domain.principal import Principal
from ...domain.text import check_id
from ...domain.webhooks import batch_event, job_event, message_id
from .delivery import NO_ANSWER

log = logging.getLogger("imagegate.webhooks")
MAX_PAGE = 100
STATUSES = ("pending", "delivered", "failed")


class Webhooks:
    def __init__(self, repo: WebhooksRepo, wake: Callable[[], None] | None = None) -> None:
        self._repo = repo
        self._wake = wake or (lambda: None)

    async def job_finished(self, account_id: str, key_id: str, job: dict[str, Any]) -> None:
        """Queue the webhook of a completed or failed job (once per job and status) for its key's URL.

        Returns once the message is stored (the delivery loop sends it); a database failure raises, so
        the caller may report the job again. Other statuses, and keys without a URL, queue nothing.
        """
        await self._enqueue(account_id, key_id, job_event(job))

    async def batch_finished(self, account_id: str, key_id: str, batch: dict[str, Any]) -> None:
        """Queue the webhook of an ended batch (`batch.completed`, `.failed`, `.cancelled`,
        `.expired`; once per batch and status) for the URL of the key that submitted it."""
        await self._enqueue(account_id, key_id, batch_event(batch))

    async def _enqueue(self, account_id: str, key_id: str, event: tuple[str, str, str] | None) -> None:
        if event is None:
            return
        job_id, event_type, body = event
        endpoint = await self._repo.endpoint(key_id)
        if endpoint is None or endpoint.url is None or endpoint.account_id != account_id:
            return
        status = event_type.rsplit(".", 1)[1]
        message = NewMessage(message_id(job_id, status), account_id, key_id, job_id, event_type, body)
        if await self._repo.enqueue(message, utcnow()):
            self._wake()

    async def deliveries(self, principal: Principal, limit: str | None, after: str | None) -> dict[str, Any]:
        """The caller's account's messages, newest first, with every attempt (`after`: the last id seen).
        A failed attempt says why in coarse words only; the detail is the operator's."""
        return await self._page(principal.account_id, None, limit, after, operator=False)

    async def operator_deliveries(
        self, account_id: str | None, status: str | None, limit: str | None, after: str | None
    ) -> dict[str, Any]:
        """Every account's messages (or one account's), optionally only those in `status`."""
        if account_id is not None:
            check_id(account_id, "account_id")
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.", param="status")
        return await self._page(account_id, status, limit, after, operator=True)

    async def _page(
        self, account_id: str | None, status: str | None, limit: str | None, after: str | None, *, operator: bool
    ) -> dict[str, Any]:
        size = _limit(limit)
        if after is not None:
            check_id(after, "after")
        records = await self._repo.messages(account_id=account_id, status=status, before=after, limit=size + 1)
        page = records[:size]
        return {
            "object": "list",
            "data": [message_json(r, operator=operator) for r in page],
            "has_more": len(records) > size,
            "last_id": page[-1].id if page else None,
        }


def _limit(value: str | None) -> int:
    """`"²".isdigit()` is true and `int("²")` raises: the shared reading refuses both as a 400."""
    return page_size(value, default=20, maximum=MAX_PAGE)


def message_json(record: MessageRecord, *, operator: bool = False) -> dict[str, Any]:
    """The message as shown; `operator` adds each attempt's `error_detail`."""
    return {
        "id": record.id,
        "object": "webhook.message",
        "type": record.event_type,
        "job_id": record.job_id,
        "account_id": record.account_id,
        "key_id": record.key_id,
        "status": record.status,
        "created_at": record.created_at.isoformat(),
        "next_attempt_at": record.next_attempt_at.isoformat() if record.status == "pending" else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "attempts": [_attempt_json(a, operator) for a in record.history],
    }


def _attempt_json(attempt: Attempt, operator: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "attempt": attempt.attempt,
        "attempted_at": attempt.attempted_at.isoformat(),
        "url": attempt.url,
        "status_code": attempt.status_code,
        "error": _reason(attempt),
        "duration_ms": attempt.duration_ms,
    }
    if operator:
        shown["error_detail"] = attempt.error
    return shown


def _reason(attempt: Attempt) -> str | None:
    """The coarse reason (an attempt recorded before reasons were kept: "no answer", its likeliest)."""
    if attempt.error is None:
        return None
    return attempt.reason or NO_ANSWER


__all__ = ["Webhooks", "message_json"]
