"""A batch's input file, read: JSONL, one request a line (`{custom_id, method, url, body}`).

Two readings. `read_jsonl` is the file's (at upload and again at submit): bounded in lines before
anything is decoded, strict UTF-8, each non-blank line one JSON object whose text a database can
store. `request_lines` is the batch's: every line names a `custom_id` (unique), `method` POST and
the batch's `url`. Either refusal refuses the whole file or batch, naming the line (1-based, as an
editor counts). A line's `body` is not checked here: a body the request validator refuses becomes
that line's failure in the batch's error file, and the other lines run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest
from .text import check_json, check_text

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
ENDPOINTS = (GENERATIONS, EDITS)
COMPLETION_WINDOWS = {"24h": 86_400}
MAX_CUSTOM_ID_CHARS = 512
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512


@dataclass(frozen=True, slots=True)
class RequestLine:
    line: int
    """1-based, counting blank lines, as an editor shows the file."""
    custom_id: str
    body: dict[str, Any]


def _refuse(line: int, message: str, param: str) -> InvalidRequest:
    return InvalidRequest(f"Line {line} of the file: {message}", code="invalid_batch_file", param=param)


def read_jsonl(data: bytes, max_lines: int, param: str = "file") -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line; a 400 naming the first bad line."""
    if data.count(b"\n") + (0 if data.endswith(b"\n") else 1) > max_lines:
        raise InvalidRequest(
            f"The file has more than {max_lines} lines (this gateway's limit per batch).",
            code="invalid_batch_file",
            param=param,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _refuse(line, f"it is not UTF-8 (byte {exc.start} of the file).", param) from exc
    objects: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise _refuse(number, "it is not JSON (the file must be JSONL: one JSON object per line).", param) from exc
        try:
            check_json(value)
        except InvalidRequest as exc:
            raise _refuse(number, exc.message, param) from exc
        if not isinstance(value, dict):
            raise _refuse(number, "it is not a JSON object.", param)
        objects.append((number, value))
    if not objects:
        raise InvalidRequest("The file has no requests.", code="invalid_batch_file", param=param)
    return objects


def request_lines(objects: list[tuple[int, dict[str, Any]]], endpoint: str, param: str) -> list[RequestLine]:
    """The batch's requests; a 400 naming the first line without `custom_id`, `method` or `url`, with a
    `custom_id` seen before, or a `url` other than the batch's `endpoint`."""
    seen: dict[str, int] = {}
    lines = []
    for number, value in objects:
        custom_id = value.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise _refuse(number, "'custom_id' is missing (each request needs a non-empty string).", param)
        if len(custom_id) > MAX_CUSTOM_ID_CHARS:
            raise _refuse(number, f"'custom_id' is longer than {MAX_CUSTOM_ID_CHARS} characters.", param)
        if custom_id in seen:
            raise _refuse(number, f"'custom_id' repeats line {seen[custom_id]}'s; each must be unique.", param)
        seen[custom_id] = number
        method = value.get("method")
        if method is None:
            raise _refuse(number, "'method' is missing (it must be \"POST\").", param)
        if method != "POST":
            raise _refuse(number, "'method' must be \"POST\".", param)
        url = value.get("url")
        if url is None:
            raise _refuse(number, "'url' is missing.", param)
        if url != endpoint:
            raise _refuse(number, f"'url' must be the batch's endpoint, {endpoint}.", param)
        body = value.get("body")
        if not isinstance(body, dict):
            raise _refuse(number, "'body' must be a JSON object (the request's body).", param)
        lines.append(RequestLine(number, custom_id, body))
    return lines


def check_metadata(value: Any) -> dict[str, str] | None:
    """OpenAI's `metadata`: at most 16 string pairs, keys to 64 characters, values to 512."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_METADATA_PAIRS:
        raise InvalidRequest(f"'metadata' must be an object of at most {MAX_METADATA_PAIRS} pairs.", param="metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidRequest(f"'metadata' values must be strings ('{key[:64]}' is not).", param="metadata")
        check_text(key, "metadata", MAX_METADATA_KEY_CHARS)
        check_text(item, "metadata", MAX_METADATA_VALUE_CHARS)
    return dict(value)


__all__ = [
    "COMPLETION_WINDOWS",
    "EDITS",
    "ENDPOINTS",
    "GENERATIONS",
    "MAX_CUSTOM_ID_CHARS",
    "RequestLine",
    "check_metadata",
    "read_jsonl",
    "request_lines",
]
