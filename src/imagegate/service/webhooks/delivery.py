"""The delivery loop every node runs: claim due webhook messages, sign, send once, record, reschedule.

Claims are exclusive (see db/webhooks.py), so two nodes never send the same attempt. A 2xx answer
delivers the message. Anything else (another status, no answer, a URL the node's rules now refuse)
is recorded and retried after `retry_delay` (doubling from the base, capped, with jitter) until the
retry window after the first attempt has passed; then the message is `failed`. A message whose key
no longer has a URL fails at once.

Each failed attempt is recorded twice over: a coarse `reason` the account sees (one of `REASONS`:
"no answer" whether the port was closed, TLS failed or time ran out, so an account cannot map the
network behind a URL by the errors it gets) and the `error` detail only the operator sees.

An idle sender waits for a wake-up (`domain/wakeups.py`: a message queued on this node, or on any node
while PostgreSQL's notices arrive), the first pending message's due time (a retry), or its poll
interval (only a safety net, 30 s or more, while notices arrive), whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from ...db.clock import utcnow
from ...db.webhooks import Attempt, Claimed, Outcome, WebhooksRepo
from ...domain.errors import InvalidRequest
from ...domain.ports import WebhookTransport, WebhookUnreachable
from ...domain.wakeups import LocalWakeups, Wakeups
from ...domain.webhook_url import check_webhook_url
from ...domain.webhooks import key_secret, retry_delay, signed_headers

log = logging.getLogger("imagegate.webhooks")
NO_URL = "the key has no webhook URL any more"
NO_ANSWER = "no answer from the webhook URL"
URL_REFUSED = "the webhook URL is not allowed by this gateway's address rules"
NOT_SENT = "the gateway could not send it"
REASONS = (NO_URL, NO_ANSWER, URL_REFUSED, NOT_SENT)
"""The reasons an account may see for an attempt without an HTTP answer."""


@dataclass(frozen=True, slots=True)
class _Sent:
    status_code: int | None
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    public: bool
    """This node is public: webhooks go only to global addresses (domain/webhook_url.py)."""
    retry_base_seconds: float
    retry_max_seconds: float
    retry_window_seconds: float
    send_timeout_seconds: float
    poll_seconds: float
    batch: int = 16

    @property
    def lease_seconds(self) -> float:
        """How long a claim lasts: past any attempt's own timeout, so a live sender never loses it."""
        return self.send_timeout_seconds + 60


class WebhookDelivery:
    def __init__(
        self,
        repo: WebhooksRepo,
        transport: WebhookTransport,
        signing_secret: bytes,
        policy: DeliveryPolicy,
        wakeups: Wakeups | None = None,
    ) -> None:
        """`wakeups`: what tells the sender that messages were queued (it subscribes to `webhooks`)."""
        self._repo = repo
        self._transport = transport
        self._master = signing_secret
        self._policy = policy
        self._wakeup = asyncio.Event()
        self._wakeups = wakeups or LocalWakeups()
        self._wakeups.subscribe("webhooks", self.wake)
        self._next_due: datetime | None = None
        """When the first pending message falls due, as the last idle round read it."""

    def wake(self) -> None:
        """A message was queued (here, or on another node that said so): look now, not at the next poll."""
        self._wakeup.set()

    async def deliver_due(self, now: datetime | None = None) -> int:
        """One round: claim up to a batch of due messages and make one attempt at each; how many."""
        now = now or utcnow()
        self._next_due = None  # (a failed read must not leave a past time: the loop would spin)
        due = await self._repo.next_due()
        if due is None or due > now:  # idle (the usual case): one read, no write lock taken
            self._next_due = due
            return 0
        lease_until = now + timedelta(seconds=self._policy.lease_seconds)
        claimed = await self._repo.claim_due(now, lease_until, self._policy.batch)
        await asyncio.gather(*(self._attempt(message) for message in claimed))
        return len(claimed)

    async def run_forever(self) -> None:
        """`deliver_due` again and again: at once after a round that sent, else on a wake-up, when the
        first pending message falls due, or at the next poll."""
        while True:
            self._wakeup.clear()
            try:
                sent = await self.deliver_due()
            except Exception:  # a failed round (database down) must not stop the next one
                log.exception("webhook delivery round failed")
                sent = 0
            if not sent:  # after a round that sent, the next one reads when the retries fall due
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._idle_seconds())

    def _idle_seconds(self) -> float:
        """Until the next poll, or sooner the first pending message's due time (a retry is not late)."""
        wait = self._wakeups.idle_seconds(self._policy.poll_seconds)
        if self._next_due is not None:
            wait = min(wait, max((self._next_due - utcnow()).total_seconds(), 0.0))
        return wait

    async def _attempt(self, message: Claimed) -> None:
        attempted_at = utcnow()
        started = time.monotonic()
        sent = await self._send(message)
        attempt = Attempt(
            attempt=message.attempts + 1,
            url=message.url,
            status_code=sent.status_code,
            error=sent.detail,
            duration_ms=int((time.monotonic() - started) * 1000),
            attempted_at=attempted_at,
            reason=sent.reason,
        )
        outcome = self._outcome(message, attempt)
        try:
            if not await self._repo.record(message, attempt, outcome):
                log.warning("webhook %s: the claim ended before attempt %d was recorded", message.id, attempt.attempt)
        except Exception:
            log.exception("webhook %s: attempt %d could not be recorded", message.id, attempt.attempt)

    async def _send(self, message: Claimed) -> _Sent:
        if message.url is None:
            return _Sent(None, NO_URL, NO_URL)
        try:
            check_webhook_url(message.url, public=self._policy.public)
            timestamp = int(time.time())
            secret = key_secret(self._master, message.key_id, message.version)
            headers = signed_headers(secret, message.id, timestamp, message.body)
            return _Sent(await self._transport.post(message.url, message.body.encode(), headers))
        except InvalidRequest as exc:
            return _Sent(None, URL_REFUSED, exc.message)
        except WebhookUnreachable as exc:
            return _Sent(None, NO_ANSWER, str(exc))
        except Exception as exc:  # a bug must cost one attempt, not the loop
            log.exception("webhook %s: sending failed", message.id)
            return _Sent(None, NOT_SENT, f"{type(exc).__name__}")

    def _outcome(self, message: Claimed, attempt: Attempt) -> Outcome:
        now = attempt.attempted_at
        if attempt.status_code is not None and 200 <= attempt.status_code < 300:
            return Outcome("delivered", now)
        if attempt.reason == NO_URL:
            return Outcome("failed", now)
        policy = self._policy
        first = message.first_attempt_at or now
        delay = retry_delay(attempt.attempt, policy.retry_base_seconds, policy.retry_max_seconds)
        next_at = now + timedelta(seconds=delay)
        if next_at > first + timedelta(seconds=policy.retry_window_seconds):
            return Outcome("failed", now)
        return Outcome("pending", next_at)


__all__ = ["NOT_SENT", "NO_ANSWER", "NO_URL", "REASONS", "URL_REFUSED", "DeliveryPolicy", "WebhookDelivery"]
