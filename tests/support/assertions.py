"""Assertions on the gateway's OpenAI-shaped error responses, shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

import httpx

_ANY_CODE: Any = object()  # any non-empty string
_UNCHECKED: Any = object()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The contract's error: status, a JSON body that is exactly the OpenAI error, and a request id.

    Returns the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_")
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    return error


def assert_error(
    response: httpx.Response, status: int, type_: str, code: str | None = _ANY_CODE, param: str | None = _UNCHECKED
) -> dict[str, Any]:
    """`error_of`, with exactly this type and code (by default any non-empty string) and, when given, this
    param (None included). Returns the error object."""
    error = error_of(response, status)
    assert error["type"] == type_, error
    if code is _ANY_CODE:
        assert isinstance(error["code"], str) and error["code"], error
    else:
        assert error["code"] == code, error
    if param is not _UNCHECKED:
        assert error["param"] == param, error
    return error
