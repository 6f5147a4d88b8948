"""The OpenAPI description of the Responses API surface (`POST /v1/responses` with the
image_generation tool, `GET` and `DELETE /v1/responses/{response_id}`), merged into
`openapi.document`. The shapes are the subset of OpenAI's `CreateResponse` and `Response` this
gateway reads and answers."""

from __future__ import annotations

from typing import Any

from ..domain.responses_request import IGNORED

Schema = dict[str, Any]
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_NULLABLE_NUMBER: Schema = {"type": ["number", "null"]}
_ANY: Schema = {}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Schema]:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _choice(*values: str) -> Schema:
    return {"type": ["string", "null"], "enum": [*values, None]}


def responses_schemas() -> dict[str, Schema]:
    tool = {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "description": "OpenAI's image generation tool; its options are the Images API's fields of the same names",
        "properties": {
            "type": {"const": "image_generation"},
            "model": {**_NULLABLE_STRING, "description": "the image model (else the request's `model`)"},
            "size": _NULLABLE_STRING,
            "quality": _choice("low", "medium", "high", "auto"),
            "background": _choice("transparent", "opaque", "auto"),
            "output_format": _choice("png", "webp", "jpeg"),
            "output_compression": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
            "moderation": _choice("low", "auto"),
            "partial_images": {"type": ["integer", "null"], "minimum": 0, "maximum": 3},
            "input_fidelity": _choice("high", "low"),
            "complexity": _choice("low", "medium", "high"),
            "action": _choice("auto", "generate", "edit"),
            "input_image_mask": {
                "type": ["object", "null"],
                "properties": {"image_url": {"type": "string", "description": "a data URL or an https URL"}},
            },
        },
    }
    call = {
        "type": "object",
        "required": ["id", "type", "status", "result"],
        "properties": {
            "id": {"type": "string", "description": "`ig_…`"},
            "type": {"const": "image_generation_call"},
            "status": {"type": "string", "enum": ["in_progress", "generating", "completed", "failed"]},
            "result": {**_NULLABLE_STRING, "description": "the image in base64"},
            "revised_prompt": _NULLABLE_STRING,
            "background": _NULLABLE_STRING,
            "output_format": _NULLABLE_STRING,
            "quality": _NULLABLE_STRING,
            "size": _NULLABLE_STRING,
        },
    }
    request = {
        "type": "object",
        "additionalProperties": False,
        "description": "No text model runs: the prompt is the text of the last user message, its `input_image`s "
        "(data or https URLs), an `image_generation_call` sent back with its `result` and `previous_response_id`'s "
        "image make an edit. Fields only a text model reads are accepted and ignored.",
        "properties": {
            "model": {**_NULLABLE_STRING, "description": "an image model, unless the tool names one"},
            "input": {
                "description": "a string, or input items (messages; image_generation_call items)",
                "oneOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "object"}}],
            },
            "tools": {"type": ["array", "null"], "items": _ref("ImageGenerationTool"), "maxItems": 1},
            "tool_choice": {"description": '`"auto"`, `"required"` or `{"type": "image_generation"}`', **_ANY},
            "stream": {"type": ["boolean", "null"]},
            "store": {"type": ["boolean", "null"], "description": "keep the answer 24 hours (default true)"},
            "previous_response_id": {**_NULLABLE_STRING, "description": "its image is the input of an edit"},
            "metadata": {
                "type": ["object", "null"],
                "maxProperties": 16,
                "additionalProperties": {"type": "string", "maxLength": 512},
            },
            "user": {"type": ["string", "null"], "maxLength": 256},
            "safety_identifier": {"type": ["string", "null"], "maxLength": 256},
            "background": {"type": ["boolean", "null"], "enum": [False, None]},
            **dict.fromkeys(sorted(IGNORED), _ANY),
        },
        "example": {
            "model": "gpt-5",
            "input": "a lighthouse at dusk",
            "tools": [{"type": "image_generation", "model": "gpt-image-2", "quality": "low"}],
        },
    }
    response = {
        "type": "object",
        "required": ["id", "object", "created_at", "status", "model", "output", "tools", "tool_choice"],
        "properties": {
            "id": {"type": "string", "description": "`resp_…`"},
            "object": {"const": "response"},
            "created_at": {"type": "integer"},
            "completed_at": {"type": ["integer", "null"]},
            "status": {"type": "string", "enum": ["completed", "in_progress"]},
            "error": {"type": "null"},
            "incomplete_details": {"type": "null"},
            "model": {"type": "string", "description": "the image model"},
            "output": {"type": "array", "items": _ref("ImageGenerationCall")},
            "previous_response_id": _NULLABLE_STRING,
            "store": {"type": "boolean"},
            "usage": {"type": ["object", "null"], "description": "OpenAI's token counts: all 0 (no text model runs)"},
            "billing": _ref("Billing"),
            "instructions": _NULLABLE_STRING,
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "parallel_tool_calls": {"type": "boolean"},
            "temperature": _NULLABLE_NUMBER,
            "top_p": _NULLABLE_NUMBER,
            "max_output_tokens": _NULLABLE_NUMBER,
            "tool_choice": _ANY,
            "tools": {"type": "array", "items": _ref("ImageGenerationTool")},
            "user": _NULLABLE_STRING,
            "safety_identifier": _NULLABLE_STRING,
        },
    }
    deleted = {
        "type": "object",
        "required": ["id", "object", "deleted"],
        "properties": {"id": {"type": "string"}, "object": {"const": "response"}, "deleted": {"const": True}},
    }
    return {
        "ImageGenerationTool": tool,
        "ImageGenerationCall": call,
        "CreateResponseRequest": request,
        "Response": response,
        "DeletedResponse": deleted,
    }


def responses_operations(security: list[dict[str, list[str]]]) -> dict[str, Schema]:
    response_id = {
        "name": "response_id",
        "in": "path",
        "required": True,
        "description": "a response id (`resp_…`); another account's, an expired or a deleted one is 404",
        "schema": {"type": "string"},
    }
    idem = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "as on the Images API (not with `stream: true`)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    }
    answered = {
        "description": "The Response, its one image_generation_call billed at the catalog's price; with "
        "`stream: true`, OpenAI's `response.*` server-sent events",
        "content": {
            "application/json": {"schema": _ref("Response")},
            "text/event-stream": {"schema": {"type": "string"}},
        },
        "headers": {
            "x-imagegate-cost-micros": {"schema": {"type": "string"}, "description": "what was charged"},
            "idempotent-replayed": {"schema": {"type": "string"}, "description": "`true` on a replay"},
        },
    }
    return {
        "/v1/responses": {
            "post": {
                "operationId": "createResponse",
                "summary": "Make an image with OpenAI's Responses API and its image_generation tool",
                "tags": ["responses"],
                "security": security,
                "parameters": [idem],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CreateResponseRequest")}},
                },
                "responses": {
                    "200": answered,
                    **_errors(400, 401, 402, 403, 404, 409, 413, 429, 451, 502, 503, 504),
                },
            }
        },
        "/v1/responses/{response_id}": {
            "get": {
                "operationId": "getResponse",
                "summary": "A response kept 24 hours, with its image",
                "tags": ["responses"],
                "security": security,
                "parameters": [response_id],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": _ref("Response")}}},
                    **_errors(400, 401, 403, 404, 503),
                },
            },
            "delete": {
                "operationId": "deleteResponse",
                "summary": "Delete a kept response and its image now",
                "tags": ["responses"],
                "security": security,
                "parameters": [response_id],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": _ref("DeletedResponse")}}},
                    **_errors(400, 401, 403, 404, 503),
                },
            },
        },
    }


__all__ = ["responses_operations", "responses_schemas"]
