"""A provider wrapper that checks every delivered image, so bad bytes are retried like a 5xx, and says
what each one's provenance (C2PA) manifest will record; partial images are marked as they stream."""

from __future__ import annotations

import logging
from dataclasses import replace

import pybase64

from ..domain.catalog import Route, parse_size
from ..domain.ports import ImageMarker, MarkingFailed, PartialSink, Provider
from ..domain.provenance import Change, Edit, Marking, Origin, carries_manifest, sniff_format
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, PartialImage, RetryableUpstreamError
from ..imaging.images import BadImage, Conformed, Wanted, conform_image_async, inspect
from .wrapper import ProviderWrapper, UpstreamCall

log = logging.getLogger("imagegate.routing")


class ConformingProvider(ProviderWrapper):
    """Hands back only images of exactly the requested size, format and compression.

    Re-encodes when the route could not honour the format or the compression, and upscales sizes
    the route marks `upscaled_from`. An image that is anything else (wrong size, undecodable bytes)
    is dropped; when no image is left, that is a `BadImage`, a retryable upstream problem, and an
    upstream that delivered nothing at all is one too. Never returns an empty list.

    With a `marker`, each image it hands back says in `provenance` what its manifest will record
    (who made it: the model and its vendor, or the offline preview; what the gateway changed; the
    upstream's own manifest as its parent), for the router to embed once the route has delivered
    (`routing.marking`). Each partial image a stream sends is marked here, as it arrives; one that
    cannot be marked is not sent.
    """

    def __init__(
        self, inner: Provider, route: Route, marker: ImageMarker | None = None, *, view_side: int | None = None
    ) -> None:
        """`view_side`: output screening is on; where an image is decoded anyway, keep its view that size."""
        super().__init__(inner)
        self._route = route
        self._marker = marker
        self._view_side = view_side

    async def stream(self, request: ImageRequest, *, timeout: float, partial: PartialSink) -> list[GeneratedImage]:
        sink = partial if self._marker is None else self._marking_partials(request, partial)
        return await super().stream(request, timeout=timeout, partial=sink)

    async def around(self, call: UpstreamCall, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        images = await call()
        if not images:
            raise RetryableUpstreamError(f"route {self._route.name}: upstream delivered no images")
        native = None if request.auto_size else parse_size(request.upstream_size)
        compression = request.output_compression
        reencode = not self._route.native_compression and compression is not None and compression < 100
        conformed: list[GeneratedImage] = []
        bad: list[BadImage] = []
        for image in images:
            upstream = image.data
            try:
                want = self._auto_size(image, request) if request.auto_size else (request.width, request.height)
                made = await conform_image_async(
                    image.data,
                    Wanted(request.output_format, want, compression, native, reencode, self._view_side),
                )
            except BadImage as exc:
                bad.append(exc)
                continue
            if made.changed:
                image = replace(image, data=made.data, b64=None, view=made.view)
            if request.auto_size:
                image = replace(image, size=f"{want[0]}x{want[1]}")
            if self._marker is not None:
                image = replace(image, provenance=self._marking(request, upstream, made, want))
            conformed.append(image)
        if bad:
            log.warning("route %s: %d of %d image(s) unusable: %s", self._route.name, len(bad), len(images), bad[0])
            if not conformed:
                raise BadImage(f"route {self._route.name}: {bad[0].message}")
        return conformed

    def _origin(self, request: ImageRequest) -> Origin:
        model = request.model
        return Origin(model.id, model.vendor, preview=self._route.provider == "preview")

    def _marking(self, request: ImageRequest, upstream: bytes, made: Conformed, want: tuple[int, int]) -> Marking:
        """What the manifest of one conformed image says: `upstream` is the image as delivered."""
        fmt, source = request.output_format, made.source
        edits: list[Edit] = []
        if made.changed and source.format != fmt:
            edits.append(Edit(Change.CONVERTED, f"re-encoded from {source.format.upper()} to {fmt.upper()}"))
        elif made.changed and source.size == want:
            edits.append(Edit(Change.CONVERTED, f"re-encoded as {fmt.upper()} at quality {request.output_compression}"))
        if made.changed and source.size != want:
            edits.append(
                Edit(Change.RESIZED, f"upscaled from {source.width}x{source.height} to {want[0]}x{want[1]} (Lanczos)")
            )
        parent = upstream if carries_manifest(upstream) else None
        return Marking(self._origin(request), fmt, tuple(edits), parent)

    def _marking_partials(self, request: ImageRequest, partial: PartialSink) -> PartialSink:
        """`partial`, behind a step that marks each partial image (one that cannot be marked is not sent)."""
        marker = self._marker
        assert marker is not None
        origin = self._origin(request)

        async def send(image: PartialImage) -> None:
            try:
                data = pybase64.b64decode(image.b64, validate=True)
            except ValueError:
                log.warning("route %s: a partial image that is not base64 was not sent", self._route.name)
                return
            fmt = sniff_format(data)
            if fmt is None:
                log.warning("route %s: a partial image that is not PNG, JPEG or WEBP was not sent", self._route.name)
                return
            try:
                marked = await marker.mark(data, Marking(origin, fmt, (), data if carries_manifest(data) else None))
            except MarkingFailed as exc:
                log.warning("route %s: a partial image was not sent: %s", self._route.name, exc)
                return
            await partial(replace(image, b64=pybase64.b64encode_as_string(marked)))

        return send

    @staticmethod
    def _auto_size(image: GeneratedImage, request: ImageRequest) -> tuple[int, int]:
        """For `size: "auto"`: the size the upstream drew, when it is one the model may pick."""
        info = inspect(image.data)
        if f"{info.width}x{info.height}" not in request.model.capabilities.extra.auto_sizes:
            raise BadImage(
                f"upstream returned {info.width}x{info.height} for size auto, not one of the model's auto sizes"
            )
        return info.size


__all__ = ["ConformingProvider"]
