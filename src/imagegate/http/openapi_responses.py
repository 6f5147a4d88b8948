"""The Responses surface's request body (`POST /v1/responses` with the image_generation tool) as JSON
Schema: data written beside its reader (`domain/responses_request.py`), whose input items are not (yet)
declared field by field; the operations and the answers are rows and shapes like any other
(`http/api_operations.py`, `domain/shapes.py`). The subset of OpenAI's `CreateResponse` this gateway reads."""

from __future__ import annotations

from typing import Any

from ..domain.responses_request import IGNORED

Schema = dict[str, Any]
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_ANY: Schema = {}


def _choice(*values: str) -> Schema:
    return {"type": ["string", "null"], "enum": [*values, None]}


def responses_request_schema() -> Schema:
    """`CreateResponseRequest`: the body of POST /v1/responses."""
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
            "tools": {"type": ["array", "null"], "items": tool, "maxItems": 1},
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
    return request


__all__ = ["responses_request_schema"]
