"""The interfaces the service is written against; adapters outside `domain` implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from .blobs import Blob
from .circuits import CircuitHealth, CircuitPermit
from .provenance import Marking
from .ratelimit import Decision, Limit
from .request import ImageRequest
from .upstream import GeneratedImage, PartialImage, ScreeningImage

PartialSink = Callable[[PartialImage], Awaitable[None]]
"""Where a streaming upstream's partial images go (to the client's event stream)."""


class Provider(Protocol):
    """One upstream wire format, bound to one route's base URL, credentials and model id."""

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """Ask the upstream for `request.n` images at `request.upstream_size` (a provider that can
        draw any size, like the preview, may answer at `request.size` directly).

        Returns the images delivered (possibly fewer than asked). Raises `ContentBlocked` for a
        safety refusal and an `UpstreamProblem` for any other failure; never retries by itself.
        """
        ...

    async def edit(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """Like `generate`, from `request.inputs` (and `request.mask`), on the upstream's own edit wire
        (only called for models whose catalog entry says img2img)."""
        ...

    async def stream(self, request: ImageRequest, *, timeout: float, partial: PartialSink) -> list[GeneratedImage]:
        """Like `generate` (or `edit`, for a request with inputs), handing each partial image the
        upstream streams to `partial` as it arrives; an upstream that does not stream sends none."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class BlobStore(Protocol):
    """Where delivered images live, and how a client is handed a URL to one.

    Every method raises `StorageUnavailable` (and nothing else) when the store cannot be reached
    or refuses; an image that is not there is `None`, never an error.
    """

    async def put(self, image_id: str, ext: str, data: bytes) -> None:
        """Store the bytes under `image_id.ext` with its content type; complete when this returns
        (`ext` is the format, or `thumb.webp` for the image's thumbnail)."""
        ...

    def url_for(self, image_id: str, ext: str, expires: int) -> str:
        """A URL that fetches the image without a key until `expires` (unix seconds)."""
        ...

    async def open(self, name: str, *, body: bool = True) -> Blob | None:
        """The image `img_….ext`, or None when there is none; `body=False` reads only its size and type."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the image `img_….ext`; removing one that is not there is harmless."""
        ...

    async def put_private(self, key: str, data: bytes) -> None:
        """Keep bytes that are never served by URL (an async job's uploads) under `key`, a path such
        as `jobs/<job id>/0`; complete when this returns."""
        ...

    async def get_private(self, key: str) -> bytes | None:
        """The bytes kept under `key`, or None when there are none."""
        ...

    async def delete_private(self, key: str) -> None:
        """Remove what is kept under `key`; removing nothing is harmless."""
        ...

    async def check(self) -> None:
        """Raise `StorageUnavailable`, naming the bucket or folder, when the store cannot be used."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class CircuitStore(Protocol):
    """Where the routes' circuit breakers and recent calls live (in process, or shared in Redis).

    Applies the rules of `domain.circuits`. A store that cannot reach its backend lets calls
    through (`closed`) rather than failing requests.
    """

    async def admit(self, key: str, *, lease_seconds: float) -> CircuitPermit:
        """May the route `key` be called now? `probe` reserves the one probe for `lease_seconds`."""
        ...

    async def record(self, key: str, *, ok: bool, latency_ms: int, probe: bool) -> CircuitHealth:
        """Record how a call went and return the route's health after it."""
        ...

    async def health(self, keys: Sequence[str]) -> dict[str, CircuitHealth]:
        """The health of each route in `keys` (routes never recorded are absent)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class CircuitHealthSource(Protocol):
    """Where the routes' recorded health can be read (a `CircuitStore`, or what processes published)."""

    async def health(self, keys: Sequence[str]) -> dict[str, CircuitHealth]:
        """The health of each route in `keys` (routes never recorded are absent)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class LimiterState(Protocol):
    """Where rate-limit buckets and in-flight counts live: in process, or Redis shared by nodes.

    Every method raises `StateUnavailable` (and nothing else) when the store cannot answer.
    """

    async def take(self, key: str, limits: Sequence[Limit]) -> Decision:
        """Take each limit's `cost` from `key`'s buckets, all or none, atomically across nodes."""
        ...

    async def enter(self, scope: str, token: str, cap: int, ttl_seconds: float) -> bool:
        """Count `token` in flight for `scope` unless `cap` are already; False when full. An entry
        not left within `ttl_seconds` (its node died) stops counting."""
        ...

    async def leave(self, scope: str, token: str) -> None:
        """Stop counting `token`; leaving twice is harmless."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class Moderator(Protocol):
    """An external moderation check of a prompt (OpenAI's moderations endpoint)."""

    async def flagged_category(self, prompt: str) -> str | None:
        """The category the service flags the prompt for, or None when it passes.

        Raises `ModerationUnavailable` when the service is down, slow or answers nonsense.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ModerationUnavailable(Exception):
    """The moderation service gave no usable verdict; the caller decides open or closed."""


class ImageClassifier(Protocol):
    """Reads a delivered image for output screening: NudeNet on this node (`local`) or OpenAI's
    moderations endpoint (`moderation`); `kind` names the policy's signal table it scores."""

    kind: str
    view_side: int
    """The longest side, in pixels, of the view it is given (larger images are reduced to it)."""

    async def scores(self, image: ScreeningImage) -> Mapping[str, float]:
        """Scores from 0 to 1 by signal name (a detector class, a moderation category).

        Raises `ModerationUnavailable` when no verdict can be had (down, slow, nonsense).
        """
        ...


class WebhookTransport(Protocol):
    """How webhooks leave the gateway: name resolution and one POST, under the node's address rules."""

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to now. Raises `WebhookUnreachable` when it does not resolve."""
        ...

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST `body` once, without following redirects, within the sender's timeouts; the status code.

        On a public node a host that resolves to a refused address (see `domain.webhook_url`) is not
        connected to. Raises `WebhookUnreachable` when there is no answer (refused, unresolvable,
        connection failed, timed out).
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class WebhookUnreachable(Exception):
    """A webhook got no HTTP answer; the message says why (recorded with the attempt)."""


class ImageUrlReader(Protocol):
    """How the gateway fetches an input image a client named by an `https://` URL (a chat message's
    `image_url`), under the webhook address rules (`domain.image_url`)."""

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """The body of one GET of `url` (already checked by `domain.image_url.check_image_url`), never
        following a redirect, within the reader's time limit.

        On a public node a host that is or resolves to a refused address is not connected to. Raises
        `ImageUrlTooLarge` once the body passes `max_bytes` (nothing more is read) and
        `ImageUrlUnreadable` for any other failure: refused address, unresolvable, no answer in
        time, a status other than 200 (a redirect included), an empty body.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ImageUrlUnreadable(Exception):
    """No image could be read from the URL; the message says why (the client is told)."""


class ImageUrlTooLarge(Exception):
    """The URL's body is larger than the image limit."""


class ImageMarker(Protocol):
    """Embeds the gateway's signed provenance (a C2PA manifest) in an image it is about to hand out."""

    async def mark(self, data: bytes, marking: Marking) -> bytes:
        """`data` (already encoded as `marking.format`) with the manifest embedded; the pixels are not
        re-encoded. The work runs off the event loop, within the pixel budget. Raises `MarkingFailed`
        when these bytes cannot carry a manifest."""
        ...


class MarkingFailed(Exception):
    """The image could not be marked (bytes the C2PA library refuses); it is not handed out."""


__all__ = [
    "BlobStore",
    "CircuitHealthSource",
    "CircuitStore",
    "ImageClassifier",
    "ImageMarker",
    "ImageUrlReader",
    "ImageUrlTooLarge",
    "ImageUrlUnreadable",
    "LimiterState",
    "MarkingFailed",
    "ModerationUnavailable",
    "Moderator",
    "PartialSink",
    "Provider",
    "WebhookTransport",
    "WebhookUnreachable",
]
