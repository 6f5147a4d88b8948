"""An edit: input images (and a mask), a prompt and the Images API's options to new images
(`POST /v1/images/edits`). Its parts are read in order of cost: names, the model's img2img, counts,
bytes (413), decoding (Pillow, in a thread), then the fields; no image is decoded before the cheap
refusals. A job keeps its files in the BlobStore (`service.jobs.records.JobUploads`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ....domain.edit_request import Upload, check_counts, check_field_names, edit_model, parse_edit_request
from ....domain.request import ImageRequest
from ....imaging.inputs import check_bytes, decode_all
from ....routing.router import Router
from .base import Parsing, UpstreamCall


@dataclass(frozen=True, slots=True)
class Edit:
    fields: dict[str, str]
    """The text fields, as multipart sends them (`n` as "2", `stream` as "true")."""
    files: list[Upload]
    """The `image` parts (one or more) and at most one `mask`, not yet checked."""

    name: ClassVar[str] = "edit"
    event_prefix: ClassVar[str] = "image_edit"

    async def parse(self, parsing: Parsing) -> tuple[dict[str, Any], ImageRequest]:
        fields, files = self.fields, self.files
        check_field_names(fields, files)
        model = edit_model(fields, parsing.catalog)
        check_counts(model, files)
        check_bytes(files, min(parsing.max_input_image_bytes, model.capabilities.extra.max_input_image_bytes))
        decoded = await decode_all(files)
        inputs = tuple(image for image, upload in zip(decoded, files, strict=True) if upload.field == "image")
        mask = next((image for image, upload in zip(decoded, files, strict=True) if upload.field == "mask"), None)
        return self._idempotency_body(), parse_edit_request(fields, inputs, mask, parsing.catalog)

    def _idempotency_body(self) -> dict[str, Any]:
        """The fields, and each file by its SHA-256."""
        return {**self.fields, "files": [[f.field, hashlib.sha256(f.data).hexdigest()] for f in self.files]}

    def upstream(self, router: Router) -> UpstreamCall:
        return router.edit

    def uploads(self) -> Sequence[Upload]:
        return self.files

    def job_payload(self) -> str:
        return json.dumps({"fields": self.fields, "files": [[f.field, f.filename] for f in self.files]})

    @staticmethod
    def stored_uploads(payload: str) -> list[tuple[str, str]]:
        return [(field, filename) for field, filename in json.loads(payload)["files"]]

    @classmethod
    def restore(cls, payload: str, uploads: Sequence[Upload]) -> Edit:
        return cls(json.loads(payload)["fields"], list(uploads))


__all__ = ["Edit"]
