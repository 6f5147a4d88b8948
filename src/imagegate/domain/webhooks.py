"""Webhook messages per the Standard Webhooks spec (https://www.standardwebhooks.com/): the body,
the secret, the signature, and the retry schedule.

The signing secret of a key is not stored anywhere: it is derived, with HMAC-SHA256, from the
gateway's signing secret (`IMAGEGATE_SIGNING_SECRET`), the key id and a version that grows each
time the key's URL is set. So a copy of the database reveals no webhook secret, every node derives
the same one, and setting the URL again rotates it. Changing the gateway's signing secret changes
every key's webhook secret (as it invalidates every download URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidRequest
from .text import check_text

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""The spec asks for 24 to 64 random bytes; an HMAC-SHA256 output is 32."""
JOB_EVENTS = {"completed": "image.job.completed", "failed": "image.job.failed"}
"""The job statuses that send a webhook, and the event type of each."""
MAX_JOB_ID_CHARS = 64
MAX_BODY_BYTES = 256 * 1024
"""A body past this (a job answered with `b64_json` images) is sent without the job's `result`;
the receiver reads it with `GET /v1/images/jobs/{id}`."""


def key_secret(master: bytes, key_id: str, version: int) -> bytes:
    """The HMAC key that signs `key_id`'s webhooks while its URL is at `version`."""
    return hmac.new(master, f"imagegate-webhook:v1:{key_id}:{version}".encode(), hashlib.sha256).digest()


def format_secret(secret: bytes) -> str:
    """`whsec_` + base64, as Standard Webhooks libraries read it."""
    return SECRET_PREFIX + base64.b64encode(secret).decode("ascii")


def signature(secret: bytes, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: `v1,` + base64(HMAC-SHA256(secret, "id.timestamp.body"))."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode("ascii")


def signed_headers(secret: bytes, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def message_id(job_id: str, status: str) -> str:
    """One message per (job, status), whoever reports it and however often: `msg_` + a digest."""
    digest = hashlib.sha256(f"{job_id}\x00{status}".encode()).digest()[:20]
    return "msg_" + base64.b32encode(digest).decode("ascii").lower()


def job_event(job: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(job id, event type, body) of a finished job's message; None for a status that sends none.

    `job` is the job's public JSON. The body is fixed once, so that every retry sends the same
    bytes; its `timestamp` is when the job finished.
    """
    job_id, status = job.get("id"), job.get("status")
    if not isinstance(job_id, str) or not job_id:
        raise InvalidRequest("A job needs an id.", param="id")
    check_text(job_id, "id", MAX_JOB_ID_CHARS)
    if status not in JOB_EVENTS:
        return None
    finished = job.get("completed_at")
    when = datetime.fromtimestamp(finished, UTC) if isinstance(finished, int) else datetime.now(UTC)
    event = JOB_EVENTS[str(status)]
    body = _body(event, when, dict(job))
    if len(body.encode()) > MAX_BODY_BYTES:
        body = _body(event, when, {k: v for k, v in job.items() if k != "result"})
    return job_id, event, body


def event_body(event: str, when: datetime, data: dict[str, Any]) -> str:
    """A message's body: the Standard Webhooks envelope of `event` at `when`, compact JSON."""
    return _body(event, when, data)


BATCH_EVENTS = {
    "completed": "batch.completed",
    "failed": "batch.failed",
    "cancelled": "batch.cancelled",
    "expired": "batch.expired",
}
"""The batch statuses that send a webhook (`POST /v1/batches`), and the event type of each."""


def batch_event(batch: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(batch id, event type, body) of an ended batch's message (its Batch object, as `GET
    /v1/batches/{id}` answers it); None for a status that sends none."""
    status = batch.get("status")
    if status not in BATCH_EVENTS:
        return None
    event = BATCH_EVENTS[str(status)]
    finished = batch.get(f"{status}_at")
    when = datetime.fromtimestamp(finished, UTC) if isinstance(finished, int) else datetime.now(UTC)
    return str(batch["id"]), event, _body(event, when, dict(batch))


def _body(event: str, when: datetime, data: dict[str, Any]) -> str:
    envelope = {"type": event, "timestamp": when.isoformat().replace("+00:00", "Z"), "data": data}
    return json.dumps(envelope, separators=(",", ":"))


def retry_delay(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones: `base` doubling per attempt, capped
    at `cap`, with jitter (between half and all of it) so that many receivers' retries spread out."""
    delay = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 40))
    jitter: float = (rng or random).uniform(0, delay / 2)
    return delay / 2 + jitter


__all__ = [
    "BATCH_EVENTS",
    "JOB_EVENTS",
    "MAX_BODY_BYTES",
    "SECRET_PREFIX",
    "batch_event",
    "event_body",
    "format_secret",
    "job_event",
    "key_secret",
    "message_id",
    "retry_delay",
    "signature",
    "signed_headers",
]
