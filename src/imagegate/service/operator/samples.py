"""The examples gallery an operator fills for the model pages (`imagegate samples add`, or "use as
sample" on a stored image in the admin pages): each sample is an image with the prompt and the
parameters that made it, checked as a request to its model would be, so the page never shows a
prompt or a parameter the model would refuse.

The bytes are kept in the BlobStore under `samples/<id>.<ext>` (not a signed file URL: samples are
public and stay until removed) and served by the pages at `/samples/<id>.<ext>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from ...db.clock import utcnow
from ...db.samples import RecentImage, Sample, SamplesRepo
from ...domain.catalog import Catalog
from ...domain.errors import InvalidRequest, NotFound, RequestTooLarge
from ...domain.ids import SUFFIX, new_id
from ...domain.ports import BlobStore
from ...domain.request import parse_image_request
from ...domain.text import check_id
from ...imaging.images import BadImage, ImageInfo, inspect
from ..blobs import read_blob

MAX_SAMPLE_BYTES = 20 * 1024 * 1024
"""A sample is shown on a public page: 20 MiB is more than any catalog size needs."""
MAX_SAMPLE_PIXELS = 40_000_000
"""As for input images: the header's pixel count is refused past this before anything is decoded."""
GALLERY_SIZE = 12
"""The most samples a model page shows (newest first)."""
LISTED = 500
RECENT_IMAGES = 24
"""Stored images the admin pages offer for "use as sample"."""
SAMPLE_NAME = re.compile(rf"^(smp_{SUFFIX})\.(png|jpeg|webp)$")
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
PARAMETERS = ("size", "quality", "style", "n", "output_format", "background")
"""What a sample may say about the request that made it (the rest of a body does not change the image)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored image an operator may use as a sample, with a URL signed until it expires."""

    image: RecentImage
    url: str


@dataclass(frozen=True, slots=True)
class SampleFile:
    data: bytes
    content_type: str


def blob_key(sample: Sample) -> str:
    return f"samples/{sample.name}"


def sample_json(sample: Sample) -> dict[str, Any]:
    return {
        "id": sample.id,
        "object": "model.sample",
        "model": sample.model,
        "prompt": sample.prompt,
        "params": sample.params,
        "url": f"/samples/{sample.name}",
        "width": sample.width,
        "height": sample.height,
        "source": sample.source,
        "created": int(sample.created_at.timestamp()),
    }


class Samples:
    def __init__(self, catalog: Catalog, repo: SamplesRepo, store: BlobStore) -> None:
        self._catalog = catalog
        self._repo = repo
        self._store = store

    async def add(
        self, model: str, data: bytes, prompt: str, params: dict[str, Any], *, source: str | None = None
    ) -> dict[str, Any]:
        """Keep `data` as a sample of `model`: a PNG, JPEG or WEBP within the limits, whose prompt and
        parameters are a valid request to that model (400 otherwise; nothing is kept)."""
        if len(data) > MAX_SAMPLE_BYTES:
            raise RequestTooLarge(f"A sample may be at most {MAX_SAMPLE_BYTES} bytes; this one is {len(data)}.")
        info = await anyio.to_thread.run_sync(_inspect, data)
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise InvalidRequest(
                f"A sample's parameters are {', '.join(PARAMETERS)}; {', '.join(unknown)} is not one of them.",
                code="unknown_parameter",
                param=unknown[0],
            )
        found = self._catalog.find(model)
        if found is None:
            raise NotFound(f"The model '{model}' does not exist.", code="model_not_found", param="model")
        size = f"{info.width}x{info.height}"
        if "size" not in params and size in found.capabilities.sizes:
            params = {"size": size, **params}
        parse_image_request({"model": found.id, "prompt": prompt, **params}, self._catalog)  # a body it would take
        sample = Sample(new_id("smp"), found.id, prompt, params, info.format, info.width, info.height, source, utcnow())
        await self._store.put_private(blob_key(sample), data)
        try:
            await self._repo.add(sample)
        except BaseException:
            await self._store.delete_private(blob_key(sample))  # no bytes left without their row
            raise
        return sample_json(sample)

    async def add_from_image(self, image_id: str, prompt: str, params: dict[str, Any]) -> dict[str, Any]:
        """A stored image (`img_…`) copied into the gallery of the model that made it."""
        image = await self._stored(image_id)
        if image.model is None:
            raise InvalidRequest(f"The image '{image_id}' does not say which model made it.", param="image")
        data = await self._read(f"{image.id}.{image.ext}")
        if data is None:
            raise NotFound(f"The image '{image_id}' is no longer stored.", code="image_not_found", param="image")
        params = {"size": image.size, **params} if image.size else params
        return await self.add(image.model, data, prompt, params, source=image.id)

    async def _read(self, name: str) -> bytes | None:
        """A stored image's bytes (a file on disk, or a remote store's body), at most the sample limit."""
        blob = await self._store.open(name)
        if blob is None:
            return None
        if blob.size > MAX_SAMPLE_BYTES:
            raise RequestTooLarge(f"A sample may be at most {MAX_SAMPLE_BYTES} bytes; this image is {blob.size}.")
        return await read_blob(blob)

    async def _stored(self, image_id: str) -> RecentImage:
        check_id(image_id, "image")
        image = await self._repo.image(image_id)
        if image is None:
            raise NotFound(f"No stored image '{image_id}'.", code="image_not_found", param="image")
        return image

    async def gallery(self, model_id: str) -> list[dict[str, Any]]:
        """A model page's gallery, newest first; empty when the operator has added none."""
        return [sample_json(s) for s in await self._repo.of_model(model_id, GALLERY_SIZE)]

    async def listing(self, model: str | None = None) -> dict[str, Any]:
        if model is not None:
            found = self._catalog.find(model)
            if found is None:
                raise NotFound(f"The model '{model}' does not exist.", code="model_not_found", param="model")
            rows = await self._repo.of_model(found.id, LISTED)
        else:
            rows = await self._repo.all(LISTED)
        return {"object": "list", "data": [sample_json(s) for s in rows]}

    async def remove(self, sample_id: str) -> dict[str, Any]:
        check_id(sample_id, "sample")
        removed = await self._repo.remove(sample_id)
        if removed is None:
            raise NotFound(f"No sample '{sample_id}'.", code="sample_not_found", param="sample")
        await self._store.delete_private(blob_key(removed))
        return {"id": removed.id, "object": "model.sample", "deleted": True}

    async def file(self, name: str) -> SampleFile | None:
        """The bytes of `/samples/<name>`, or None for a name that is not a kept sample's."""
        match = SAMPLE_NAME.match(name)
        if match is None:
            return None
        sample = await self._repo.get(match.group(1))
        if sample is None or sample.name != name:
            return None
        data = await self._store.get_private(blob_key(sample))
        return SampleFile(data, CONTENT_TYPES[sample.ext]) if data is not None else None

    async def recent_images(self, now: int) -> list[Candidate]:
        recent = await self._repo.recent_images(now, RECENT_IMAGES)
        return [Candidate(i, self._store.url_for(i.id, i.ext, i.expires)) for i in recent]


def _inspect(data: bytes) -> ImageInfo:
    """Format and size from the header (bounded before any decode), then a full decode check."""
    try:
        info = inspect(data)
    except BadImage as exc:
        raise InvalidRequest(
            "A sample must be a PNG, JPEG or WEBP image: " + str(exc).replace("upstream returned ", ""),
            param="file",
        ) from None
    if info.width * info.height > MAX_SAMPLE_PIXELS:
        raise InvalidRequest(
            f"A sample may have at most {MAX_SAMPLE_PIXELS} pixels; this one is {info.width}x{info.height}.",
            param="file",
        )
    return info


__all__ = ["GALLERY_SIZE", "MAX_SAMPLE_BYTES", "PARAMETERS", "Candidate", "SampleFile", "Samples", "sample_json"]
