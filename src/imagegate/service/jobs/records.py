"""How an async job is kept and shown: its public body, its stored error and prices, the ticket a
worker runs it under, and its operation with its uploads (an edit's images) in the BlobStore (under
`jobs/<job id>/`, never served)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from ...db.jobs import FINISHED, JobRow
from ...domain.edit_request import Upload
from ...domain.errors import GatewayError, JobUploadsGone, StorageUnavailable
from ...domain.ports import BlobStore
from ...domain.pricing import PriceOverrides
from ...domain.principal import Principal
from ..images.admission import Ticket
from ..images.operations import OPERATIONS, Operation, operation_named

log = logging.getLogger("imagegate.jobs")


def public_body(row: JobRow) -> dict[str, Any]:
    """The job as `GET /v1/images/jobs/{id}` answers it (and as JobEvents is told)."""
    body: dict[str, Any] = {
        "id": row.id,
        "object": "image.job",
        "status": row.status,
        "created": int(row.created_at.timestamp()),
    }
    if row.status in FINISHED and row.finished_at is not None:
        body["completed_at"] = int(row.finished_at.timestamp())
    if row.status == "completed" and row.result is not None:
        body["result"] = json.loads(row.result)
    if row.status == "failed" and row.error is not None:
        body["error"] = json.loads(row.error)
    return body


def error_json(exc: BaseException) -> str:
    """The contract's error object of a failed job, as stored."""
    if isinstance(exc, GatewayError):
        return json.dumps(exc.body()["error"])
    return json.dumps(
        {
            "message": "The job failed inside the gateway. Nothing was charged.",
            "type": "server_error",
            "param": None,
            "code": "internal_error",
        }
    )


def overrides_json(overrides: PriceOverrides) -> str:
    return json.dumps([[*key, micros] for key, micros in overrides.items()])


def overrides_of(stored: str) -> PriceOverrides:
    return {(m, q, s): int(micros) for m, q, s, micros in json.loads(stored)}


def ticket_of(row: JobRow) -> Ticket:
    """The job's request as a worker runs it: its key and account as they were at submit, under the
    submit's request id (the hold's and the usage record's), on the `job` surface (`batch` for a
    batch's line)."""
    principal = Principal(row.key_id, row.account_id, row.key_mode, None, currency=row.currency)
    return Ticket(principal, row.request_id, time.monotonic(), surface="batch" if row.surface == "batch" else "job")


class JobUploads:
    """A job's uploads (an edit's images), kept where every node can read them until the job ends."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store

    @staticmethod
    def _key(job_id: str, index: int) -> str:
        return f"jobs/{job_id}/{index}"

    async def keep(self, job_id: str, files: Sequence[Upload]) -> None:
        for index, upload in enumerate(files):
            await self._store.put_private(self._key(job_id, index), upload.data)

    async def operation_of(self, row: JobRow) -> Operation:
        """The job's operation as it was submitted, its uploads read back; an operation the table
        does not know is refused (`operations.operation_named`), never run as another."""
        kind = operation_named(row.operation)
        return kind.restore(row.payload, await self.read(row.id, kind.stored_uploads(row.payload)))

    async def read(self, job_id: str, parts: list[tuple[str, str]]) -> list[Upload]:
        """The files back, from their stored (field, filename) parts."""
        files = []
        for index, (part, filename) in enumerate(parts):
            data = await self._store.get_private(self._key(job_id, index))
            if data is None:
                raise JobUploadsGone(
                    "The job's uploaded images are no longer in the image store; submit the edit again. "
                    "Nothing was charged."
                )
            files.append(Upload(part, filename, data))
        return files

    async def forget(self, job_id: str, count: int) -> None:
        for index in range(count):
            try:
                await self._store.delete_private(self._key(job_id, index))
            except StorageUnavailable:
                log.warning("job %s: its upload %d could not be deleted", job_id, index)

    async def forget_of(self, row: JobRow) -> None:
        kind = OPERATIONS.get(row.operation)
        if kind is None:  # its uploads cannot be known; nothing was read from them
            log.warning("job %s: operation %r is unknown, its uploads (if any) are left", row.id, row.operation[:40])
            return
        await self.forget(row.id, len(kind.stored_uploads(row.payload)))


__all__ = ["JobUploads", "error_json", "overrides_json", "overrides_of", "public_body", "ticket_of"]
