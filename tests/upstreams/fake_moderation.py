"""A fake OpenAI moderations endpoint (`POST /v1/moderations`) on loopback.

Answers in the real response shape (`id`, `model`, `results[].flagged`, `categories`,
`category_scores`, `category_applied_input_types`; checked against the openai SDK's types in
test_fake_moderation.py). A prompt is flagged when it contains one of `flag_words` (word ->
category); an image input (`[{"type": "image_url", "image_url": {"url": "data:..."}}]`) is flagged
as `image_category` when it carries the mark of tests/upstreams/marked_images.py, by its pixels,
whatever the prompt was. Scripted behaviours, taken one per request in arrival order:

    {"kind": "delay", "seconds": 3}     answer correctly, but late
    {"kind": "status", "status": 500}   an error status with OpenAI's error body
    {"kind": "malformed"}               200 with a body that is not a moderation result
"""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid
from collections import deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.processes import free_port
from tests.upstreams.marked_images import is_marked

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_AND_TEXT = {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic"}


def moderation_body(text: str, flag_words: dict[str, str], model: str) -> dict[str, Any]:
    lowered = text.lower()
    return result_body({category for word, category in flag_words.items() if word in lowered}, model)


def image_hits(parts: list[Any], image_category: str) -> set[str]:
    """The categories of an image input: `image_category` when one of its images is marked."""
    for part in parts:
        url = part["image_url"]["url"] if part.get("type") == "image_url" else ""
        if url.startswith("data:") and is_marked(base64.b64decode(url.split(",", 1)[1])):
            return {image_category}
    return set()


def result_body(hits: set[str], model: str) -> dict[str, Any]:
    return {
        "id": f"modr-{uuid.uuid4().hex[:24]}",
        "model": model,
        "results": [
            {
                "flagged": bool(hits),
                "categories": {c: c in hits for c in CATEGORIES},
                "category_scores": {c: (0.93 if c in hits else 0.0004) for c in CATEGORIES},
                "category_applied_input_types": {
                    c: (["text", "image"] if c in _IMAGE_AND_TEXT else ["text"]) for c in CATEGORIES
                },
            }
        ],
    }


class FakeModeration:
    def __init__(self, api_key: str = "sk-fake-moderation") -> None:
        self.api_key = api_key
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.url = f"{self.base_url}/moderations"
        self.flag_words: dict[str, str] = {"forbidden-ocelot": "violence/graphic", "banned-lemur": "sexual/minors"}
        self.image_category = "sexual"
        self.requests: list[dict[str, Any]] = []
        self._script: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/v1/moderations", self._moderations, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        config.timeout_graceful_shutdown = 1
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def script(self, *behaviours: dict[str, Any]) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    def start(self) -> None:
        self._thread.start()
        for _ in range(500):  # bounded: up to 10 s
            if self._server.started:
                return
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.02)
        raise RuntimeError("the fake moderation server did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def __enter__(self) -> FakeModeration:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _moderations(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.requests.append({"headers": dict(request.headers), "json": body})
            behaviour = self._script.popleft() if self._script else {"kind": "ok"}
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        kind = behaviour["kind"]
        if kind == "delay":
            await asyncio.sleep(float(behaviour["seconds"]))  # a slow upstream, not synchronisation
        elif kind == "status":
            return _error(int(behaviour["status"]), "The server had an error while processing your request.", None)
        elif kind == "malformed":
            return JSONResponse({"object": "not-a-moderation"})
        moderation_input, model = body.get("input", ""), body.get("model", "")
        if isinstance(moderation_input, list):
            return JSONResponse(result_body(image_hits(moderation_input, self.image_category), model))
        return JSONResponse(moderation_body(str(moderation_input), self.flag_words, model))


def _error(status: int, message: str, code: str | None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}},
        status_code=status,
    )
