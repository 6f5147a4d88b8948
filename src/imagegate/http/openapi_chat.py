"""The Chat Completions surface's request body (`POST /v1/chat/completions`) as JSON Schema: data
written beside its reader (`domain/chat_request.py`), whose nested messages are not (yet) declared
field by field; the operation, its answer and its stream are rows and shapes like any other
(`http/api_operations.py`, `domain/shapes.py`)."""

from __future__ import annotations

from typing import Any

from ..domain.catalog import Catalog
from ..domain.chat_request import IGNORED
from ..domain.image_config import TIERS

Schema = dict[str, Any]


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


def chat_request_schema(catalog: Catalog) -> Schema:
    """OpenAI's chat body with OpenRouter's image conventions, as image models read it."""
    names = sorted({name for model in catalog for name in (model.id, *model.aliases)})
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
    return {
        "type": "object",
        "required": ["model", "messages"],
        "description": "The prompt is the text of the last user message. The Images API's fields (`size`, "
        "`quality`, `n`, `output_format`, `background`, …) may be sent too. `tools`, `functions`, `tool_choice`, "
        "`audio` and a JSON `response_format` are `400 unsupported_parameter`; any other unknown field is "
        "`400 unknown_parameter`.",
        "properties": {
            "model": {"type": "string", "enum": names, "description": "a catalog image model"},
            "messages": {"type": "array", "minItems": 1, "maxItems": 1000, "items": message},
            "modalities": {
                "type": ["array", "null"],
                "items": {"enum": ["image", "text"]},
                "contains": {"const": "image"},
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
                    "aspect_ratio": {"type": ["string", "null"], "description": 'e.g. "16:9"'},
                    "image_size": {"enum": [*TIERS, None]},
                },
            },
            "response_format": {
                "description": '`{"type": "text"}`, or the Images API\'s `"b64_json"` (the default: data '
                'URLs, not stored) or `"url"` (the gateway\'s signed URLs, stored and listed; not with a stream)',
                "oneOf": [
                    {"enum": ["url", "b64_json"]},
                    {"type": "object", "required": ["type"], "properties": {"type": {"const": "text"}}},
                    {"type": "null"},
                ],
            },
            **ignored,
        },
        "example": {
            "model": "gpt-image-2",
            "messages": [{"role": "user", "content": "a red kite over the sea, watercolor"}],
            "modalities": ["image", "text"],
        },
    }


__all__ = ["chat_request_schema"]
