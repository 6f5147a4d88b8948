"""Files of the Batch API (`/v1/files`, ids `file-…`): a batch's JSONL input, uploaded by the caller,
and the output and error files a batch writes. Each belongs to one account (another account's is
404); the bytes live in the BlobStore under `batch_files/<id>` (never served by URL), the row says
whose they are. An upload is checked whole before anything is kept: bounded in bytes and lines,
UTF-8, one JSON object a line; a refused one leaves nothing behind."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from ...db.batches import BatchesRepo, FileRow
from ...db.clock import utcnow
from ...domain.batch_input import read_jsonl
from ...domain.errors import InvalidRequest, NotFound, RequestTooLarge, StorageUnavailable
from ...domain.fields import Field
from ...domain.ids import SUFFIX, new_id
from ...domain.ports import BlobStore
from ...domain.principal import Principal
from ...domain.text import check_id, check_text

log = logging.getLogger("imagegate.batches")

FILE_ID = re.compile(f"^file-{SUFFIX}$")
PURPOSES = ("batch",)
MAX_FILENAME_CHARS = 255
UPLOAD = (
    Field(
        "file",
        "file",
        "JSONL: one request a line, `{custom_id, method, url, body}`",
        required=True,
        choices=("application/jsonl", "application/octet-stream"),
    ),
    Field("purpose", "string", "what the file is for: only batch input is kept", required=True, choices=PURPOSES),
)


def new_file_id() -> str:
    return "file-" + new_id("f").removeprefix("f_")


def file_json(row: FileRow) -> dict[str, Any]:
    """OpenAI's File object."""
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": int(row.created_at.timestamp()),
        "filename": row.filename,
        "purpose": row.purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


class BatchFiles:
    def __init__(self, repo: BatchesRepo, store: BlobStore, max_bytes: int, max_lines: int) -> None:
        self._repo = repo
        self._store = store
        self.max_bytes = max_bytes
        self.max_lines = max_lines

    @staticmethod
    def _key(file_id: str) -> str:
        return f"batch_files/{file_id}"

    async def upload(self, principal: Principal, purpose: str | None, filename: str, data: bytes) -> dict[str, Any]:
        """Keep a batch input file: its File object, or the 400 / 413 naming what is wrong (a line's number)."""
        if purpose is None:
            raise InvalidRequest(
                "'purpose' is required: \"batch\".", code="missing_required_parameter", param="purpose"
            )
        if purpose not in PURPOSES:
            raise InvalidRequest(
                "'purpose' must be \"batch\" (this gateway keeps batch input files only).", param="purpose"
            )
        name = check_text(filename or "input.jsonl", "file", MAX_FILENAME_CHARS)
        if len(data) > self.max_bytes:
            raise RequestTooLarge(f"The file is larger than this gateway's limit of {self.max_bytes} bytes.")
        lines = len(await asyncio.to_thread(read_jsonl, data, self.max_lines))  # CPU-bound: off the event loop
        return file_json(await self.keep(principal.account_id, purpose, name, data, lines))

    async def keep(self, account_id: str, purpose: str, filename: str, data: bytes, lines: int) -> FileRow:
        """Store the bytes, then the row (a row never names bytes that are not there)."""
        row = FileRow(new_file_id(), account_id, purpose, filename, len(data), lines, utcnow())
        await self._store.put_private(self._key(row.id), data)
        try:
            await self._repo.add_file(row)
        except BaseException:
            await self._forget(row.id)
            raise
        return row

    async def get(self, principal: Principal, file_id: str) -> dict[str, Any]:
        return file_json(await self.owned(principal.account_id, file_id))

    async def owned(self, account_id: str, file_id: str, param: str = "file_id") -> FileRow:
        """The file of this account; any other id (another account's, unknown, malformed): 404."""
        check_id(file_id, param)
        row = await self._repo.get_file(file_id, account_id) if FILE_ID.match(file_id) else None
        if row is None:
            raise NotFound(f"No file '{file_id[:64]}' for this account.", code="file_not_found", param=param)
        return row

    async def content(self, principal: Principal, file_id: str) -> bytes:
        return await self.read(await self.owned(principal.account_id, file_id))

    async def read(self, row: FileRow) -> bytes:
        data = await self._store.get_private(self._key(row.id))
        if data is None:
            raise StorageUnavailable(f"The bytes of file '{row.id}' are missing from the store.")
        return data

    async def delete(self, principal: Principal, file_id: str) -> dict[str, Any]:
        row = await self.owned(principal.account_id, file_id)
        if await self._repo.delete_file(row.id, principal.account_id):
            await self._forget(row.id)
        return {"id": row.id, "object": "file", "deleted": True}

    async def _forget(self, file_id: str) -> None:
        try:
            await self._store.delete_private(self._key(file_id))
        except StorageUnavailable:
            log.warning("batch file %s: its bytes could not be deleted", file_id)


__all__ = ["FILE_ID", "UPLOAD", "BatchFiles", "file_json"]
