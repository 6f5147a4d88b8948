"""The OpenAPI description of the Chat Completions surface (`POST /v1/chat/completions`), merged into
`openapi.document`: the chat body as image models read it, the answer, its stream's chunks, and the
`architecture` every `/v1/models` entry carries."""

from __future__ import annotations

from typing import Any

from ..domain.catalog import Catalog
from ..domain.chat_request import IGNORED
from ..domain.image_config import TIERS

Schema = dict[str, Any]
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Schema]:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _image_part() -> Schema:
    return {
        "type": "object",
        "required": ["type", "image_url"],
        "properties": {
            "type": {"const": "image_url"},
            "image_url": {
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string"}, "detail": {"type": "string"}},
            },
            "index": {"type": "integer"},
        },
    }


def chat_schemas(catalog: Catalog) -> dict[str, Schema]:
    models = list(catalog)
    names = sorted({m.id for m in models} | {alias for m in models for alias in m.aliases})
    text_part = {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
    }
    message = {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"enum": ["system", "developer", "user", "assistant"]},
            "content": {
                "description": "text, or parts: `text` and `image_url` (a data: or https: URL; in the last "
                "user message, on a model that edits, the images to edit)",
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"oneOf": [text_part, _image_part()]}},
                    {"type": "null"},
                ],
            },
            "images": {
                "type": "array",
                "items": _image_part(),
                "description": "an assistant message's images, sent back: the image a model that edits refines",
            },
        },
    }
    ignored = {name: {"description": "accepted and ignored: no text model runs"} for name in sorted(IGNORED)}
    choice_message = {
        "type": "object",
        "required": ["role", "content", "images"],
        "properties": {
            "role": {"const": "assistant"},
            "content": {**_NULLABLE_STRING, "description": "the revised prompt, where there is one"},
            "images": {"type": "array", "items": _image_part()},
        },
    }
    usage = {
        "type": "object",
        "description": "always 0 tokens: images are billed per image (`billing`)",
        "properties": {
            "prompt_tokens": {"type": "integer"},
            "completion_tokens": {"type": "integer"},
            "total_tokens": {"type": "integer"},
        },
    }
    return {
        "ChatImageRequest": {
            "type": "object",
            "required": ["model", "messages"],
            "description": "OpenAI's chat body with OpenRouter's image conventions. The prompt is the text of "
            "the last user message. The Images API's fields (`size`, `quality`, `n`, `output_format`, "
            "`background`, …) may be sent too. `tools`, `functions`, `tool_choice`, `audio` and a JSON "
            "`response_format` are `400 unsupported_parameter`; any other unknown field is "
            "`400 unknown_parameter`.",
            "properties": {
                "model": {"type": "string", "enum": names, "description": "a catalog image model"},
                "messages": {"type": "array", "minItems": 1, "maxItems": 1000, "items": message},
                "modalities": {
                    "type": "array",
                    "items": {"enum": ["image", "text"]},
                    "description": "optional; given, it must include `image`",
                },
                "stream": {"type": ["boolean", "null"]},
                "stream_options": {
                    "type": ["object", "null"],
                    "properties": {"include_usage": {"type": ["boolean", "null"]}},
                },
                "image_config": {
                    "type": ["object", "null"],
                    "description": "OpenRouter's: picks one of the model's sizes (not with `size`)",
                    "properties": {
                        "aspect_ratio": {"type": "string", "description": 'e.g. "16:9"'},
                        "image_size": {"enum": list(TIERS)},
                    },
                },
                "response_format": {
                    "description": '`{"type": "text"}`, or the Images API\'s `"b64_json"` (the default: data '
                    'URLs, not stored) or `"url"` (the gateway\'s signed URLs, stored and listed; not with a stream)',
                    "oneOf": [
                        {"enum": ["url", "b64_json"]},
                        {"type": "object", "properties": {"type": {"const": "text"}}},
                        {"type": "null"},
                    ],
                },
                **ignored,
            },
        },
        "ChatImageCompletion": {
            "type": "object",
            "required": ["id", "object", "created", "model", "choices", "usage", "billing"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "chat.completion"},
                "created": {"type": "integer"},
                "model": {"type": "string"},
                "choices": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "message", "finish_reason"],
                        "properties": {
                            "index": {"type": "integer"},
                            "message": choice_message,
                            "finish_reason": {"const": "stop"},
                        },
                    },
                },
                "usage": usage,
                "billing": _ref("Billing"),
            },
        },
        "ModelArchitecture": {
            "type": "object",
            "description": "OpenRouter's: how chat clients find image models",
            "properties": {
                "modality": {"type": "string"},
                "input_modalities": {"type": "array", "items": {"enum": ["text", "image"]}},
                "output_modalities": {"type": "array", "items": {"const": "image"}},
            },
        },
    }


def chat_operations(security: list[dict[str, list[str]]]) -> dict[str, Schema]:
    stream = (
        "`stream: true`: `data:` lines of `chat.completion.chunk` objects (the role; each image in "
        "`delta.images`; `finish_reason: stop`; with `stream_options.include_usage` a chunk with `usage` and "
        "`billing`), then `data: [DONE]`; SSE comments keep the connection open while the image is made"
    )
    return {
        "/v1/chat/completions": {
            "post": {
                "operationId": "createChatImage",
                "summary": "Images through Chat Completions (catalog image models)",
                "tags": ["chat"],
                "security": security,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "as on /v1/images/generations (not with `stream: true`)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("ChatImageRequest"),
                            "example": {
                                "model": "gpt-image-2",
                                "messages": [{"role": "user", "content": "a red kite over the sea, watercolor"}],
                                "modalities": ["image", "text"],
                            },
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "One assistant message whose `images` hold the images delivered (only they "
                        "are billed). " + stream,
                        "content": {
                            "application/json": {"schema": _ref("ChatImageCompletion")},
                            "text/event-stream": {"schema": {"type": "string"}},
                        },
                        "headers": {
                            "x-imagegate-cost-micros": {
                                "schema": {"type": "string"},
                                "description": "what was charged",
                            },
                        },
                    },
                    **_errors(400, 401, 402, 403, 409, 413, 429, 451, 502, 503, 504),
                },
            }
        }
    }


__all__ = ["chat_operations", "chat_schemas"]
