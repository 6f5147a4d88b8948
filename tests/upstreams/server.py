"""A base for fake upstreams: a real HTTP/1.1 server on loopback with scripted behaviours.

It reuses the raw asyncio + httptools transport of ``fake_openai`` (so a fake can hang, drop a
connection or send half a body) and adds what every fake shares: a queue of scripted behaviours
taken one per request in order of arrival, a request log, and waiting helpers. A subclass names
its ``BEHAVIOURS``, says which requests take a behaviour (``takes_behaviour``) and answers them
(``answer``). Transport kinds are handled here for every fake:

``hang`` (``seconds``: hold the request, then close without answering), ``drop`` (close the
connection at once; ``rst``: with a reset), ``delay`` (``seconds``: answer late), ``status``
(``status``, ``body``: any status with a JSON or raw body).

Every kind also takes ``times`` (how many consecutive requests it applies to) and ``headers``.
"""

from __future__ import annotations

import base64
import io
import threading
import uuid
from typing import Any, ClassVar

from PIL import Image

from tests.upstreams.loopback import LoopbackServer, RecordedRequest
from tests.upstreams.transport import Connection, Incoming, Response, json_response

TRANSPORT_BEHAVIOURS: dict[str, tuple[str, ...]] = {
    "ok": (),
    "hang": ("seconds",),
    "drop": ("rst",),
    "delay": ("seconds",),
    "status": ("status", "body"),
}
COMMON_OPTIONS = ("kind", "headers", "times")

_image_cache: dict[tuple[int, int, str, int], bytes] = {}
_image_lock = threading.Lock()


def solid_image(width: int, height: int, fmt: str, index: int = 0) -> bytes:
    """A cheap solid-colour image (colour by `index`), encoded fast; cached."""
    key = (width, height, fmt, index)
    with _image_lock:
        hit = _image_cache.get(key)
    if hit is not None:
        return hit
    colour = ((40 + index * 67) % 256, (90 + index * 31) % 256, (200 - index * 53) % 256)
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), colour)
    if fmt == "png":
        image.save(out, "PNG", compress_level=1)
    elif fmt == "jpeg":
        image.save(out, "JPEG", quality=85)
    else:
        image.save(out, "WEBP", quality=80, method=0)
    data = out.getvalue()
    with _image_lock:
        _image_cache[key] = data
    return data


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def truncated(data: bytes) -> bytes:
    return data[: max(16, len(data) // 2)]


class FakeUpstream(LoopbackServer):
    """Scripting and transport behaviours shared by the fake upstreams (lifecycle: LoopbackServer)."""

    PROTOCOL = Connection
    BEHAVIOURS: ClassVar[dict[str, tuple[str, ...]]] = TRANSPORT_BEHAVIOURS

    # -- to override
    def takes_behaviour(self, inc: Incoming) -> bool:
        """Whether this request is one the script applies to (the generation endpoint)."""
        raise NotImplementedError

    async def answer(self, inc: Incoming, behaviour: dict[str, Any], request_id: str) -> Response:
        raise NotImplementedError

    def _validate(self, b: Any) -> dict[str, Any]:
        if not isinstance(b, dict) or not isinstance(b.get("kind"), str):
            raise ValueError(f"behaviour must be a dict with a 'kind': {b!r}")
        known = {**TRANSPORT_BEHAVIOURS, **self.BEHAVIOURS}
        if b["kind"] not in known:
            raise ValueError(f"unknown behaviour kind {b['kind']!r}; known: {sorted(known)}")
        unknown = set(b) - set(known[b["kind"]]) - set(COMMON_OPTIONS)
        if unknown:
            raise ValueError(f"unknown options for {b['kind']!r}: {sorted(unknown)}")
        return dict(b)

    # -- called by the transport, on the loop thread
    def _record(self, inc: Incoming) -> None:
        rec = RecordedRequest(inc.received, inc.method, inc.path, dict(inc.headers), inc.json, inc.body, inc.query)
        with self._cond:
            self._requests.append(rec)
            if self.takes_behaviour(inc):
                inc.behaviour = self._queue.popleft() if self._queue else {"kind": "ok"}
            self._cond.notify_all()

    async def _handle(self, conn: Connection, inc: Incoming) -> bool:
        """Answer one request; False when the connection must be closed."""
        request_id = uuid.uuid4().hex
        b = inc.behaviour or {"kind": "ok"}
        if not await self._transport_behaviour(conn, b):  # hang, drop, delay (drop takes no partial_bytes here)
            return False
        if b["kind"] == "status":
            resp = _scripted_status(b)
        else:
            resp = await self.answer(inc, b, request_id)
        resp.headers += [(str(k).lower(), str(v)) for k, v in (b.get("headers") or {}).items()]
        conn._write(resp, inc.keep_alive)
        return True


def _scripted_status(b: dict[str, Any]) -> Response:
    body = b.get("body")
    if isinstance(body, (bytes, str)):
        raw = body.encode() if isinstance(body, str) else body
        return Response(int(b["status"]), raw, [("content-type", "application/json")])
    return json_response(int(b["status"]), body if body is not None else {"error": {"message": "scripted"}})


json_response = json_response
Response = Response
Incoming = Incoming

__all__ = [
    "FakeUpstream",
    "Incoming",
    "RecordedRequest",
    "Response",
    "b64",
    "json_response",
    "solid_image",
    "truncated",
]
