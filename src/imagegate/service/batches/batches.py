"""The Batch API (`/v1/batches`): submit a JSONL file of image requests, follow it, cancel it.

At submit the file is read again and the whole batch is refused (400, naming the line) when it is
not JSONL, a line lacks `custom_id`, `method` or `url`, repeats a `custom_id`, or names another
endpoint. Each line's body is validated as its request would be: a valid one is priced at the
model's batch price (`batch_price_percent` of the live price) and the batch's price cards are
fixed then, so that the quote is what the lines are charged; an invalid one will fail alone, in
the error file. An account whose available balance is below the quote is refused (402). The lines
then run as async jobs (`service.batch_runner`), each held and billed as a job is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ...db.accounts import AccountsRepo
from ...db.batches import BatchesRepo, BatchRow
from ...db.clock import utcnow
from ...db.prices import PricesRepo
from ...domain.batch_edits import edit_line_request
from ...domain.batch_input import (
    COMPLETION_WINDOWS,
    EDITS,
    ENDPOINTS,
    MAX_METADATA_PAIRS,
    RequestLine,
    check_metadata,
    read_jsonl,
    request_lines,
)
from ...domain.batch_output import batch_card, cards_json
from ...domain.catalog import Catalog
from ...domain.errors import GatewayError, InsufficientBalance, InvalidRequest, JobNotCancellable, NotFound
from ...domain.fields import Field, read_fields
from ...domain.ids import is_id, new_id
from ...domain.money import format_usd
from ...domain.paging import page_cursor, page_size
from ...domain.pricing import PriceOverrides, held_unit_price
from ...domain.principal import Principal
from ...domain.request import ImageRequest, parse_image_request
from ...domain.text import check_id
from .files import FILE_ID, BatchFiles

MAX_PAGE = 100
NEW_BATCH = (
    Field(
        "input_file_id",
        "string",
        "a file uploaded with purpose `batch` (`file-…`)",
        required=True,
        pattern=FILE_ID.pattern.strip("^$"),
    ),
    Field(
        "endpoint",
        "string",
        "every line's `url` (an edit line names its images by `image_url`: data or https URLs)",
        required=True,
        choices=ENDPOINTS,
    ),
    Field(
        "completion_window",
        "string",
        "unfinished lines end (unbilled) when it has passed",
        required=True,
        choices=tuple(COMPLETION_WINDOWS),
    ),
    Field("metadata", "object", f"at most {MAX_METADATA_PAIRS} string pairs (keys to 64 characters, values to 512)"),
)


def _valid_requests(lines: list[RequestLine], catalog: Catalog, endpoint: str) -> list[ImageRequest | None]:
    """Each line's request as its job will validate it (a generation's body, or an edit's before its
    images are read), or None where the validator refuses it (that line will fail alone)."""
    read = edit_line_request if endpoint == EDITS else parse_image_request
    requests: list[ImageRequest | None] = []
    for line in lines:
        try:
            requests.append(read(line.body, catalog))
        except GatewayError:
            requests.append(None)
    return requests


def batch_json(row: BatchRow, counts: dict[str, int]) -> dict[str, Any]:
    """OpenAI's Batch object, with the gateway's `billing` (the quote fixed at submit)."""

    def at(value: Any) -> int | None:
        return int(value.timestamp()) if value is not None else None

    errors = None
    if row.status == "failed":
        errors = {
            "object": "list",
            "data": [
                {
                    "code": "all_requests_failed",
                    "message": "Every request of the batch failed: see error_file_id.",
                    "param": None,
                    "line": None,
                }
            ],
        }
    return {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "errors": errors,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": row.status,
        "output_file_id": row.output_file_id,
        "error_file_id": row.error_file_id,
        "created_at": at(row.created_at),
        "in_progress_at": at(row.in_progress_at),
        "expires_at": at(row.expires_at),
        "finalizing_at": at(row.finalizing_at),
        "completed_at": at(row.completed_at),
        "failed_at": at(row.failed_at),
        "expired_at": at(row.expired_at),
        "cancelling_at": at(row.cancelling_at),
        "cancelled_at": at(row.cancelled_at),
        "request_counts": {
            "total": row.total,
            "completed": counts.get("completed", 0),
            "failed": counts.get("failed", 0),
        },
        "metadata": json.loads(row.metadata) if row.metadata is not None else None,
        "billing": {"quote_micros": row.quote_micros, "currency": row.currency},
    }


class Batches:
    def __init__(
        self,
        repo: BatchesRepo,
        files: BatchFiles,
        catalog: Catalog,
        prices: PricesRepo,
        accounts: AccountsRepo,
        wake: Callable[[], None],
    ) -> None:
        self._repo = repo
        self._files = files
        self._catalog = catalog
        self._prices = prices
        self._accounts = accounts
        self._wake = wake

    async def create(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        values = read_fields(body, NEW_BATCH)
        input_file_id, endpoint, window = values["input_file_id"], values["endpoint"], values["completion_window"]
        metadata = check_metadata(values.get("metadata"))
        row = await self._files.owned(principal.account_id, input_file_id, "input_file_id")
        if row.purpose != "batch":
            raise InvalidRequest('The input file must have purpose "batch".', param="input_file_id")
        data = await self._files.read(row)  # CPU-bound reading below runs off the event loop
        objects = await asyncio.to_thread(read_jsonl, data, self._files.max_lines, "input_file_id")
        lines = request_lines(objects, str(endpoint), "input_file_id")
        cards, quote = await self._quote(principal, lines, str(endpoint))
        await self._check_balance(principal, quote)
        now = utcnow()
        batch = BatchRow(
            id=new_id("batch"),
            account_id=principal.account_id,
            key_id=principal.key_id,
            key_mode=principal.mode,
            currency=principal.currency,
            endpoint=str(endpoint),
            input_file_id=row.id,
            completion_window=str(window),
            status="validating",
            metadata=json.dumps(metadata, ensure_ascii=False) if metadata is not None else None,
            prices=cards_json(cards),
            quote_micros=quote,
            total=len(lines),
            output_file_id=None,
            error_file_id=None,
            created_at=now,
            in_progress_at=None,
            expires_at=now + timedelta(seconds=COMPLETION_WINDOWS[str(window)]),
            finalizing_at=None,
            completed_at=None,
            failed_at=None,
            expired_at=None,
            cancelling_at=None,
            cancelled_at=None,
            notified_at=None,
        )
        stored = [(line.line, line.custom_id, json.dumps(line.body, ensure_ascii=False)) for line in lines]
        await self._repo.create(batch, stored)
        self._wake()
        return batch_json(batch, {})

    async def _quote(self, principal: Principal, lines: list[RequestLine], endpoint: str) -> tuple[PriceOverrides, int]:
        """The batch price cards of every model its valid lines name, and the sum of those lines'
        holds at them (a test key's quote is 0, as its charges are)."""
        cards: dict[tuple[str, str, str], int] = {}
        priced_models: set[str] = set()
        quote = 0
        for request in await asyncio.to_thread(_valid_requests, lines, self._catalog, endpoint):
            if request is None:
                continue
            model = request.model
            if model.id not in priced_models:
                priced_models.add(model.id)
                cards.update(batch_card(model, await self._prices.overrides(model.id)))
            if principal.is_test or model.free:
                continue
            quote += held_unit_price(model, request.quality, request.size, cards) * request.n
        return cards, quote

    async def _check_balance(self, principal: Principal, quote: int) -> None:
        if quote == 0:
            return
        account = await self._accounts.get_account(principal.account_id)
        if account is not None and account.available_micros < quote:
            raise InsufficientBalance(
                f"The batch is quoted at {format_usd(quote)} {principal.currency}; the account has "
                f"{format_usd(max(account.available_micros, 0))} available.",
                code="insufficient_balance",
            )

    async def get(self, principal: Principal, batch_id: str) -> dict[str, Any]:
        row = await self._owned(principal, batch_id)
        return batch_json(row, await self._repo.counts(row.id))

    async def page(self, principal: Principal, after: str | None, limit: str | None) -> dict[str, Any]:
        size = page_size(limit, default=20, maximum=MAX_PAGE)
        cursor = page_cursor(after, "batch", "a batch id (`batch_…`)")
        rows = await self._repo.page(principal.account_id, cursor, size + 1)
        data = [batch_json(row, await self._repo.counts(row.id)) for row in rows[:size]]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(rows) > size,
        }

    async def cancel(self, principal: Principal, batch_id: str) -> dict[str, Any]:
        """Ask the runner to cancel: lines not started end unbilled (their holds released), running
        ones finish. A batch already ended: 409."""
        row = await self._owned(principal, batch_id)
        if row.status in ("validating", "in_progress"):
            await self._repo.move(row.id, ("validating", "in_progress"), "cancelling")
            self._wake()
        elif row.status not in ("cancelling", "cancelled"):
            raise JobNotCancellable(
                f"The batch is {row.status}; it can no longer be cancelled.", code="batch_not_cancellable"
            )
        return await self.get(principal, row.id)

    async def _owned(self, principal: Principal, batch_id: str) -> BatchRow:
        check_id(batch_id, "batch_id")
        row = await self._repo.get(batch_id, principal.account_id) if is_id(batch_id, "batch") else None
        if row is None:
            raise NotFound(f"No batch '{batch_id[:64]}' for this account.", code="batch_not_found")
        return row


__all__ = ["MAX_PAGE", "NEW_BATCH", "Batches", "batch_json"]
