"""Input images a surface names by URL (chat's `image_url` parts, the Responses API's `input_image`),
made into the operation they ask for: no image, a generation; images, an edit of them, on a model
that edits (`unsupported_operation` elsewhere).

Cheap refusals come first (the model, the count), then each URL is read: a data URL decoded within
the image limit (413 naming where it was), an https URL fetched under the webhook address rules
(`ports.ImageUrlReader`). The bytes then become the edit's uploads, checked and decoded (Pillow,
with its pixel guard) exactly as a multipart edit's files are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...domain.catalog import Catalog
from ...domain.edit_request import Upload, edit_model, text_fields
from ...domain.errors import InvalidRequest, RequestTooLarge
from ...domain.image_url import ImageRef, check_image_url, decode_data_url, image_url_text, is_data_url
from ...domain.ports import ImageUrlReader, ImageUrlTooLarge, ImageUrlUnreadable
from .operations import Edit, Generate, Operation

UNREADABLE = "invalid_image_url"
"""The code of a URL the gateway could not read an image from (OpenAI's, for the same failure)."""


class ImageInputs:
    """`max_image_bytes`: the gateway's limit on one input image (`IMAGEGATE_EDIT_MAX_IMAGE_BYTES`; a
    model's own may be lower); `public`: this node's address rules apply to fetched URLs."""

    def __init__(self, reader: ImageUrlReader, catalog: Catalog, *, max_image_bytes: int, public: bool) -> None:
        self._reader = reader
        self._catalog = catalog
        self._max_bytes = max_image_bytes
        self._public = public

    async def operation(self, fields: Mapping[str, Any], images: Sequence[ImageRef]) -> Operation:
        """`fields` (the Images API's: `model`, `prompt`, `size`, …, typed as JSON) and the input
        images: a `Generate`, or an `Edit` of the images."""
        if not images:
            return Generate(dict(fields))
        name = fields.get("model")
        if not isinstance(name, str):  # a generation's checks would say so; an edit needs the model first
            raise InvalidRequest("'model' must be a string.", code="invalid_type", param="model")
        model = edit_model({"model": name}, self._catalog)
        limit = model.capabilities.extra.max_input_images
        if len(images) > limit:
            raise InvalidRequest(
                f"The model '{model.id}' takes at most {limit} input images; this request has {len(images)}.",
                param=images[limit].param,
            )
        text = text_fields(fields)
        max_bytes = min(self._max_bytes, model.capabilities.extra.max_input_image_bytes)
        uploads = [Upload("image", ref.param, await self.read(ref, max_bytes)) for ref in images]
        return Edit(text, uploads)

    async def read(self, ref: ImageRef, max_bytes: int | None = None) -> bytes:
        """The image's bytes (not yet decoded); the contract's 400 or 413 naming `ref.param`."""
        limit = self._max_bytes if max_bytes is None else max_bytes
        url = image_url_text(ref.url, ref.param)
        if is_data_url(url):
            return decode_data_url(url, param=ref.param, max_bytes=limit)
        check_image_url(url, public=self._public, param=ref.param)
        try:
            return await self._reader.fetch(url, max_bytes=limit)
        except ImageUrlTooLarge as exc:
            raise RequestTooLarge(
                f"The image at '{ref.param}' is too large ({exc}); each image may be at most {limit} bytes for this model.",
                param=ref.param,
            ) from None
        except ImageUrlUnreadable as exc:
            raise InvalidRequest(
                f"No image could be read from the URL in '{ref.param}': {exc}.", code=UNREADABLE, param=ref.param
            ) from None


__all__ = ["UNREADABLE", "ImageInputs"]
