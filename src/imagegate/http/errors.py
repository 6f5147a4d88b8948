"""The one place error bodies are written: every refusal in the OpenAI error shape."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from ..domain.errors import GatewayError
from .responses import FastJSONResponse

log = logging.getLogger("imagegate.http")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_body(message: str, type_: str, code: str, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


def gateway_error_response(exc: GatewayError) -> FastJSONResponse:
    return FastJSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _on_gateway_error(_request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, GatewayError)
    return gateway_error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "invalid_request")
    message = "No such endpoint." if exc.status_code == 404 else str(exc.detail)
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return FastJSONResponse(body, status_code=exc.status_code, headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette's own 405 names only the first route's,
    and a path served by two routes (GET and DELETE of a job) would seem to take one method."""
    methods: set[str] = set()
    for route in _routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, the included routers' too (FastAPI keeps an included router as one route)."""
    for route in routes:
        router = getattr(route, "original_router", None)
        yield from _routes(router.routes) if router is not None else (route,)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


__all__ = ["error_body", "gateway_error_response", "install_error_handlers"]
