"""The one place error bodies are written: every refusal in the OpenAI error shape."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

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


async def _on_http_error(_request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "invalid_request")
    message = "No such endpoint." if exc.status_code == 404 else str(exc.detail)
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return FastJSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


__all__ = ["error_body", "gateway_error_response", "install_error_handlers"]
