"""A generation: a prompt and the Images API's options to new images (`POST /v1/images/generations`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ....domain.edit_request import Upload
from ....domain.json_body import parse_json_object
from ....domain.request import ImageRequest, parse_image_request
from ....routing.router import Router
from .base import Parsing, UpstreamCall


@dataclass(frozen=True, slots=True)
class Generate:
    body: dict[str, Any]
    """The Images API's JSON object (`model`, `prompt`, `size`, …): what a surface asks for, in its fields."""

    name: ClassVar[str] = "generate"
    event_prefix: ClassVar[str] = "image_generation"

    @classmethod
    def from_json(cls, raw: bytes) -> Generate:
        """A body as a client sent it; 400 `invalid_json` when it is not a JSON object."""
        return cls(parse_json_object(raw))

    async def parse(self, parsing: Parsing) -> tuple[dict[str, Any], ImageRequest]:
        return self.body, parse_image_request(self.body, parsing.catalog)

    def upstream(self, router: Router) -> UpstreamCall:
        return router.generate

    def uploads(self) -> Sequence[Upload]:
        return ()

    def job_payload(self) -> str:
        return json.dumps(self.body)

    @staticmethod
    def stored_uploads(payload: str) -> list[tuple[str, str]]:
        return []

    @classmethod
    def restore(cls, payload: str, uploads: Sequence[Upload]) -> Generate:
        return cls(json.loads(payload))


__all__ = ["Generate"]
