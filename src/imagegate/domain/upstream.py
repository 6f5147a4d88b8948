"""What a provider hands back, and how it says an upstream call went wrong.

    UpstreamProblem                 raised by providers; routing decides what happens next
    ├── RetryableUpstreamError      5xx, 429, dropped connections, malformed bodies, bad bytes
    │   └── UpstreamTimedOut        the upstream did not answer within the route's timeout
    ├── UpstreamRejected            not retryable: the gateway's own key or parameters were refused
    └── RouteUnavailable            not tried: the route's circuit breaker is open

Safety refusals are not here: providers raise `errors.ContentBlocked` directly, on a branch of
its own, so that retry and failover never see them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .provenance import Marking
from .upstream_usage import UpstreamUsage


@dataclass(frozen=True, slots=True)
class ScreeningImage:
    """A delivered image as output screening reads it: RGB pixels, row by row, reduced in size."""

    width: int
    height: int
    rgb: bytes


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One image as an upstream delivered it: raw bytes, not yet checked."""

    data: bytes
    revised_prompt: str | None = None
    quality: str | None = None  # the quality the upstream reports it used (resolves `auto`)
    b64: str | None = None
    """The upstream's base64 text of exactly `data`, in canonical form, kept only for a b64_json answer
    so it can be passed through instead of re-encoded. Whoever changes `data` must drop it."""
    size: str | None = None
    """"WxH" as delivered, once checked (set for `size: "auto"`, where the upstream picked it)."""
    view: ScreeningImage | None = None
    """Output screening's reduced view of `data`, made where the gateway decoded the pixels anyway
    (re-encoding, upscaling), so the screen need not decode them again. Whoever changes `data`'s pixels
    must drop it (embedding a C2PA manifest does not change them)."""
    provenance: Marking | None = None
    """What its C2PA manifest will say, once checked and made what the client asked for; the router
    embeds the manifest when a route has delivered (`routing.marking`)."""
    usage: UpstreamUsage | None = None
    """What the upstream reported the call that made it consumed (the same object on every image of
    that call); None where it reported nothing. Routing meters it (`routing/spend.py`)."""


@dataclass(frozen=True, slots=True)
class PartialImage:
    """A streaming upstream's preview of an image still being drawn (passed through, not checked)."""

    b64: str
    index: int  # OpenAI's partial_image_index: 0, 1, 2


class UpstreamProblem(Exception):
    """An upstream call failed for a reason that is not the client's."""

    retryable: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class RetryableUpstreamError(UpstreamProblem):
    retryable = True


class UpstreamTimedOut(RetryableUpstreamError):
    pass


class UpstreamRejected(UpstreamProblem):
    """The upstream refused something the gateway sent (its key, a parameter): an operator problem."""


class RouteUnavailable(UpstreamProblem):
    """The route was not called at all (its circuit is open): fail over, and never count it as a failure."""


__all__ = [
    "GeneratedImage",
    "PartialImage",
    "RetryableUpstreamError",
    "RouteUnavailable",
    "ScreeningImage",
    "UpstreamProblem",
    "UpstreamRejected",
    "UpstreamTimedOut",
]
