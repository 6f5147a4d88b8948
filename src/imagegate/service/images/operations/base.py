"""What an image operation is: one kind of request (a generation, an edit, …) as a value.

An operation holds its input as a surface read it, and knows everything that differs between kinds:
how that input is read into the validated `ImageRequest` and the body an Idempotency-Key's hash
covers, which router call runs it, how its Images API stream events are named, and how it is kept
as an async job and rebuilt from one (its uploads kept in the BlobStore). Everything else (admission,
delivery, settlement, jobs, streams) runs any operation alike; the table of kinds, by the name a job
stores, is `service.images.operations.OPERATIONS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ....domain.catalog import Catalog
from ....domain.edit_request import Upload
from ....domain.principal import Principal
from ....domain.request import ImageRequest
from ....routing.router import Routed, Router

UpstreamCall = Callable[[ImageRequest, Principal], Awaitable[Routed]]


@dataclass(frozen=True, slots=True)
class Parsing:
    """What an operation's input is read against."""

    catalog: Catalog
    max_input_image_bytes: int
    """The gateway's limit on one input image (`IMAGEGATE_EDIT_MAX_IMAGE_BYTES`); a model's may be lower."""


class Operation(Protocol):
    name: ClassVar[str]
    """Its entry in the table, and what a job stores as its operation (`jobs.operation`)."""
    event_prefix: ClassVar[str]
    """The Images API's stream event names: `<prefix>.partial_image`, `<prefix>.completed`."""

    async def parse(self, parsing: Parsing) -> tuple[dict[str, Any], ImageRequest]:
        """(the body the Idempotency-Key's hash covers, the validated request); the contract's 400 or
        413, naming the field, for bad input."""
        ...

    def upstream(self, router: Router) -> UpstreamCall:
        """The router's call that runs it (unstreamed; a stream runs `Router.stream`)."""
        ...

    def uploads(self) -> Sequence[Upload]:
        """The files a job keeps in the BlobStore while it waits (none for a generation)."""
        ...

    def job_payload(self) -> str:
        """The input as a job stores it (`jobs.payload`), the uploads' bytes left out."""
        ...

    @staticmethod
    def stored_uploads(payload: str) -> list[tuple[str, str]]:
        """The (field, filename) of each upload a stored job kept, in order."""
        ...

    @classmethod
    def restore(cls, payload: str, uploads: Sequence[Upload]) -> Operation:
        """The operation again, from its stored payload and its uploads read back."""
        ...


__all__ = ["Operation", "Parsing", "UpstreamCall"]
