"""The operation table: every kind of image request the gateway runs, by the name a job stores.

A new operation (a variation, an upscale, …) is one module here implementing `Operation` plus one
entry in `OPERATIONS`; the pipeline, async jobs and every surface then run it unchanged. A job stored
under a name this table lacks (written by a newer release, or a corrupt row) is never guessed at: it
fails, its hold released (`operation_named`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ....domain.errors import GatewayError
from .base import Operation, Parsing, UpstreamCall
from .edit import Edit
from .generate import Generate

OPERATIONS: Mapping[str, type[Operation]] = {kind.name: kind for kind in (Generate, Edit)}


def operation_named(name: str) -> type[Operation]:
    """The table's entry for a stored operation name; a server error naming it for any other."""
    kind = OPERATIONS.get(name)
    if kind is None:
        raise GatewayError(
            f"The job's operation '{name[:40]}' is not one this gateway runs, so it was not run. Nothing was charged."
        )
    return kind


__all__ = ["OPERATIONS", "Edit", "Generate", "Operation", "Parsing", "UpstreamCall", "operation_named"]
