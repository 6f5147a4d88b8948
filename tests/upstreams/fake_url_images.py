"""A fake OpenAI-compatible server that answers only URLs (as dall-e did, and many self-hosted servers do).

It validates generations as `FakeOpenAI` does (so it refuses `response_format` like a GPT model),
then answers each image as ``{"url": ...}`` pointing at its own ``GET /files/{id}.{ext}``, which
serves the bytes without a key. Behaviours (besides FakeOpenAI's): ``url_404`` (the file URL
answers 404), ``url_slow`` (``seconds``: the file URL answers late), ``url_relative`` (the URL is
relative to the server), ``url_ftp`` (an ``ftp://`` URL).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.transport import Incoming, Response, json_response

URL_BEHAVIOURS: dict[str, tuple[str, ...]] = {
    "url_404": (),
    "url_slow": ("seconds",),
    "url_relative": (),
    "url_ftp": (),
}


class FakeURLImages(FakeOpenAI):
    NAME = "fake-url-images"

    def __init__(self, api_key: str = "sk-url-upstream", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)
        self._files: dict[str, tuple[bytes, str, dict[str, Any]]] = {}

    def _validate(self, b: Any) -> dict[str, Any]:
        if isinstance(b, dict) and b.get("kind") in URL_BEHAVIOURS:
            unknown = set(b) - {"kind", "times", "headers", *URL_BEHAVIOURS[b["kind"]]}
            if unknown:
                raise ValueError(f"unknown options for {b['kind']!r}: {sorted(unknown)}")
            return dict(b)
        return super()._validate(b)

    @property
    def file_requests(self) -> list[Any]:
        return [r for r in self.requests if r.path.startswith("/files/")]

    async def _answer(self, inc: Incoming, b: dict[str, Any], request_id: str) -> Response:
        if inc.method == "GET" and inc.path.startswith("/files/"):
            return await self._file(inc.path.removeprefix("/files/"))
        kind = b["kind"]
        response = await super()._answer(inc, {"kind": "ok"} if kind in URL_BEHAVIOURS else b, request_id)
        if response.status != 200:
            return response
        body = json.loads(response.body)
        fmt = body.get("output_format", "png")
        data = []
        for item in body["data"]:
            name = f"{uuid.uuid4().hex}.{fmt}"
            self._files[name] = (base64.b64decode(item["b64_json"]), fmt, b)
            url = f"/files/{name}" if kind == "url_relative" else f"{self.url}/files/{name}"
            data.append({"url": url.replace("http://", "ftp://") if kind == "url_ftp" else url})
        body["data"] = data
        return json_response(200, body)

    async def _file(self, name: str) -> Response:
        found = self._files.get(name)
        if found is None:
            return json_response(404, {"error": "no such file"})
        data, fmt, b = found
        if b["kind"] == "url_404":
            return json_response(404, {"error": "expired"})
        if b["kind"] == "url_slow":
            await asyncio.sleep(float(b.get("seconds", 5)))
        return Response(200, data, [("content-type", f"image/{fmt}")])


__all__ = ["FakeURLImages"]
