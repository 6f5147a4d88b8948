"""One HTTP path for every image operation on every surface: authenticate, then run the operation
the surface read from its wire body, answered as the client asked: a 202 job (`Prefer:
respond-async`), an event stream (`stream: true`), or the JSON answer, each shaped by the surface's
`SurfaceAnswers`. Price, hold, rate limits, screening, idempotency, the usage record (with the
surface) and the access log's summary are the same whichever surface and operation.
"""

from __future__ import annotations

import time
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from ..domain.budgets import check_end_user
from ..service.images.admission import Surface, Ticket
from ..service.images.generation import Read
from ..service.images.settlement import GenerationResult
from ..service.images.streaming import ImageStream
from ..service.jobs.jobs import JobAccepted
from .auth import authenticate
from .gateway import gateway
from .prefer import prefers_async


class SurfaceAnswers(Protocol):
    """How a surface answers each outcome of an operation, in its wire shape."""

    def result(self, result: GenerationResult) -> Response:
        """The images, delivered and billed (`result.body` is the Images API's body, as replays keep it)."""
        ...

    def accepted(self, accepted: JobAccepted) -> Response:
        """The job was queued (or its Idempotency-Key replayed)."""
        ...

    def stream(self, stream: ImageStream) -> Response:
        """`stream: true`: the admitted stream, run while the response is sent (`EventStreamResponse`)."""
        ...


async def run_operation(
    request: Request, read: Read, surface: Surface, answers: SurfaceAnswers, *, async_jobs: bool = True
) -> Response:
    """Authenticate, then run what `read` makes of the body (inside the request's record keeping, so
    a body it refuses is recorded like any refusal) and answer it in the surface's shape.
    `async_jobs=False`: a surface without jobs answers at once even to `Prefer: respond-async` (a
    preference a server may decline, RFC 7240)."""
    principal = await authenticate(request)
    key = request.headers.get("idempotency-key")
    end_user = _end_user(request)
    ticket = Ticket(principal, request.state.request_id, time.monotonic(), key, surface=surface, end_user=end_user)
    summary = getattr(request.state, "summary", None)  # the access log's; absent when it is off
    if async_jobs and prefers_async(request):
        return answers.accepted(await gateway(request).jobs.submit(read, ticket, summary))
    result = await gateway(request).images.run(read, ticket, summary)
    if isinstance(result, ImageStream):
        return answers.stream(result)
    response = answers.result(result)
    response.headers["server-timing"] = server_timing(ticket.started)
    return response


def _end_user(request: Request) -> str | None:
    """The end user named by the operator's header (IMAGEGATE_END_USER_HEADER), checked as hostile
    text (a 400 naming the header); None when the header is not configured or not sent."""
    header = gateway(request).end_user_header
    value = request.headers.get(header) if header else None
    return check_end_user(value, header) if value is not None and header else None


def server_timing(started: float) -> str:
    """`Server-Timing: gateway;dur=…`: the milliseconds this request took inside the gateway (upstream
    included, the network to the client not), the figure its usage record keeps; the playground shows it."""
    return f"gateway;dur={(time.monotonic() - started) * 1000:.0f}"


__all__ = ["SurfaceAnswers", "run_operation", "server_timing"]
