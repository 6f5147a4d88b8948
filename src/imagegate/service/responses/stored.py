"""Responses API answers kept for 24 hours, per account: `GET` and `DELETE /v1/responses/{id}` read
and delete them, and `previous_response_id` makes a kept response's image the input of an edit.

The body is kept in the database (`db/responses.py`), the image in the BlobStore under a private key
(`responses/<id>/<item id>`, never served by URL), the row first so the sweep never misses an image.
Another account's response, an expired or a deleted one are all "no such response" (404).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pybase64

from ...db.responses import KeptResponse, ResponsesRepo
from ...domain.edit_request import Upload
from ...domain.errors import NotFound
from ...domain.ids import is_id
from ...domain.ports import BlobStore
from ...domain.principal import Principal
from ...domain.responses_answer import with_images, without_images
from ..sweeping import delete_all, sweep_in_batches, sweep_logged

log = logging.getLogger("imagegate.responses")

KEEP_SECONDS = 86400
"""How long a response is kept (OpenAI keeps them 30 days; a gateway keeps images a day)."""


class StoredResponses:
    def __init__(
        self,
        repo: ResponsesRepo,
        store: BlobStore,
        keep_seconds: int = KEEP_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._store = store
        self._keep_seconds = keep_seconds
        self._clock = clock

    @staticmethod
    def _key(response_id: str, item_id: str) -> str:
        return f"responses/{response_id}/{item_id}"

    async def keep(self, principal: Principal, body: dict[str, Any]) -> None:
        """Keep a completed Response (one image_generation_call, its image as `result`). The images
        are billed by now: a failure is logged and the client still gets its answer."""
        (item,) = body["output"]
        now = int(self._clock())
        kept = KeptResponse(
            body["id"],
            principal.account_id,
            item["id"],
            json.dumps(without_images(body)),
            now,
            now + self._keep_seconds,
        )
        try:
            await self._repo.keep(kept)
        except Exception:
            log.exception("response %s was answered but could not be kept", kept.id)
            return
        try:
            await self._store.put_private(self._key(kept.id, kept.item_id), pybase64.b64decode(item["result"]))
        except Exception:
            log.exception("response %s was answered but its image could not be kept", kept.id)
            await self._forget_quietly(kept.id)

    async def get(self, principal: Principal, response_id: str) -> dict[str, Any]:
        """The kept Response with its image, as it was answered."""
        kept = await self._find(principal, response_id, "response_id")
        data = await self._image(kept, "response_id")
        return with_images(json.loads(kept.body), {kept.item_id: pybase64.b64encode_as_string(data)})

    async def image_of(self, principal: Principal, response_id: str) -> Upload:
        """`previous_response_id`'s image, as an edit's first input image."""
        kept = await self._find(principal, response_id, "previous_response_id")
        output_format = json.loads(kept.body)["output"][0].get("output_format") or "png"
        return Upload("image", f"{kept.item_id}.{output_format}", await self._image(kept, "previous_response_id"))

    async def delete(self, principal: Principal, response_id: str) -> dict[str, Any]:
        """Delete it now (its image first: a store that fails leaves the row, so a retry can finish)."""
        kept = await self._find(principal, response_id, "response_id")
        await self._store.delete_private(self._key(kept.id, kept.item_id))
        await self._repo.forget(kept.id)
        return {"id": kept.id, "object": "response", "deleted": True}

    async def _find(self, principal: Principal, response_id: str, param: str) -> KeptResponse:
        kept = None
        if is_id(response_id, "resp"):
            kept = await self._repo.find(response_id, principal.account_id, int(self._clock()))
        if kept is None:
            raise _not_found(response_id, param)
        return kept

    async def _image(self, kept: KeptResponse, param: str) -> bytes:
        data = await self._store.get_private(self._key(kept.id, kept.item_id))
        if data is None:  # its image was never kept (the store failed) or is being deleted
            raise _not_found(kept.id, param)
        return data

    async def _forget_quietly(self, response_id: str) -> None:
        try:
            await self._repo.forget(response_id)
        except Exception:  # the sweep deletes it when it expires
            log.exception("response %s: its row could not be deleted", response_id)

    async def sweep(self, now: float | None = None) -> int:
        """Delete every expired response and its image; how many went."""
        cutoff = int(self._clock() if now is None else now)
        return await sweep_in_batches(lambda: self._repo.sweep(cutoff, self._remove))

    async def sweep_logged(self) -> None:
        await sweep_logged(self.sweep, "response", log)

    async def _remove(self, found: list[tuple[str, str]]) -> None:
        await delete_all(
            self._store.delete_private, [self._key(response_id, item_id) for response_id, item_id in found]
        )


def _not_found(response_id: str, param: str) -> NotFound:
    code = "previous_response_not_found" if param == "previous_response_id" else "response_not_found"
    return NotFound(f"No response with id '{response_id[:64]}' is kept for this account.", code=code, param=param)


__all__ = ["KEEP_SECONDS", "StoredResponses"]
