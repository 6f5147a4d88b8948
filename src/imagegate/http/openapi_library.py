"""The OpenAPI description of the image library (`GET /v1/images`), joined into `openapi.document`'s
paths by one line; its schemas are inline, so it needs nothing else of the document."""

from __future__ import annotations

from typing import Any

from ..domain.image_library import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS, MAX_QUERY_WORDS

Schema = dict[str, Any]
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_NULLABLE_INT: Schema = {"type": ["integer", "null"]}

LIBRARY_IMAGE: Schema = {
    "type": "object",
    "required": ["id", "object", "url", "thumbnail_url", "prompt", "model", "size", "output_format", "expires"],
    "properties": {
        "id": {"type": "string", "pattern": "^img_[0-9a-z]{26}$"},
        "object": {"const": "image"},
        "url": {"type": "string", "description": "signed until `expires`, as first handed out"},
        "thumbnail_url": {**_NULLABLE_STRING, "description": "a WebP at most 256 px on its longer side"},
        "prompt": {**_NULLABLE_STRING, "description": "null when not kept (IMAGEGATE_LIBRARY_PROMPTS=false)"},
        "revised_prompt": _NULLABLE_STRING,
        "model": _NULLABLE_STRING,
        "size": _NULLABLE_STRING,
        "quality": _NULLABLE_STRING,
        "output_format": {"enum": ["png", "jpeg", "webp"]},
        "cost_micros": {**_NULLABLE_INT, "description": "what this one image cost"},
        "currency": {"type": "string"},
        "created": _NULLABLE_INT,
        "expires": {"type": "integer", "description": "Unix time the URLs expire; the image is deleted after"},
        "request_id": _NULLABLE_STRING,
        "surface": {**_NULLABLE_STRING, "description": "`images`, `chat`, `job` or `batch`"},
    },
}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def library_operations(live: list[dict[str, list[str]]]) -> dict[str, Schema]:
    errors = {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in (400, 401, 403)}
    page = {
        "type": "object",
        "required": ["object", "data", "first_id", "last_id", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": LIBRARY_IMAGE},
            "first_id": _NULLABLE_STRING,
            "last_id": {**_NULLABLE_STRING, "description": "pass as `after` for the next page"},
            "has_more": {"type": "boolean"},
        },
    }
    return {
        "/v1/images": {
            "get": {
                "operationId": "listImages",
                "summary": "The caller's stored images (delivered as URLs), newest first, searched by prompt",
                "tags": ["images"],
                "security": live,
                "parameters": [
                    _query(
                        "query",
                        f"plain words (at most {MAX_QUERY_WORDS}, {MAX_QUERY_CHARS} characters): each must begin a "
                        "word of the prompt or revised prompt; punctuation and operators are not syntax",
                    ),
                    _query("model", "only this model's images (an id or alias)"),
                    _query("after", "the `last_id` of the previous page"),
                    _query(
                        "limit",
                        f"images per page, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT})",
                        {"type": "string", "pattern": "^[0-9]{1,3}$"},
                    ),
                ],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": page}}},
                    **errors,
                },
            }
        }
    }


__all__ = ["LIBRARY_IMAGE", "library_operations"]
