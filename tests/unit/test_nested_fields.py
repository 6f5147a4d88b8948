"""The chat and Responses bodies are declared once: what their readers refuse is what the API
document (rendered from the same declarations) rules out, and each refusal names the nested field."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from imagegate.domain.chat_request import CHAT_RULES, chat_fields
from imagegate.domain.errors import InvalidRequest
from imagegate.domain.fields import read_fields
from imagegate.domain.responses_fields import RULES, responses_fields
from imagegate.http.openapi_schema import STORABLE_JSON, object_schema, storable_json

USER = {"role": "user", "content": "a kite"}
CHAT = {"model": "gpt-image-2", "messages": [USER]}
TOOL = {"type": "image_generation"}
RESPONSE = {"model": "gpt-image-2", "input": "a kite", "tools": [TOOL]}
PNG = "data:image/png;base64,iVBORw0KGgo="

CHAT_BODIES: list[tuple[dict[str, Any], str | None]] = [
    (CHAT, None),
    ({**CHAT, "messages": [{"role": "system", "content": "be brief"}, USER]}, None),
    (
        {
            **CHAT,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": PNG}]}
            ],
        },
        None,
    ),
    (
        {
            **CHAT,
            "messages": [
                {"role": "assistant", "content": None, "images": [{"type": "image_url", "image_url": {"url": PNG}}]},
                USER,
            ],
        },
        None,
    ),
    ({**CHAT, "response_format": {"type": "text"}, "modalities": ["image", "text"]}, None),
    ({**CHAT, "image_config": {"aspect_ratio": "16:9", "image_size": "2K"}}, None),
    ({**CHAT, "messages": []}, "messages"),
    ({**CHAT, "messages": [{"role": "system", "content": "hi"}]}, "messages"),
    ({**CHAT, "messages": [{"role": "user", "content": "  "}]}, "messages[0].content"),
    (
        {**CHAT, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": PNG}]}]},
        "messages[0].content",
    ),
    ({**CHAT, "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
    ({**CHAT, "messages": [{"role": "user", "content": "x", "colour": 1}]}, "messages[0].colour"),
    ({**CHAT, "modalities": ["text"]}, "modalities"),
    ({**CHAT, "response_format": "url", "stream": True}, "response_format"),
    ({**CHAT, "image_config": {"aspect_ratio": "16:9"}, "size": "1024x1024"}, "image_config"),
    ({**CHAT, "image_config": {"aspect_ratio": "wide"}}, "image_config.aspect_ratio"),
    ({**CHAT, "output_compression": 50}, "output_compression"),
]
RESPONSE_BODIES: list[tuple[dict[str, Any], str | None]] = [
    (RESPONSE, None),
    ({**RESPONSE, "tools": None, "tool_choice": {"type": "image_generation"}}, None),
    ({**RESPONSE, "input": [{"role": "developer", "content": {"any": ["thing"]}}, USER]}, None),
    (
        {
            **RESPONSE,
            "input": [{"type": "image_generation_call", "result": "aGk=", "id": "ig_1", "size": "1024x1024"}, USER],
        },
        None,
    ),
    (
        {
            **RESPONSE,
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": "x"}, {"type": "input_image", "image_url": PNG}],
                }
            ],
        },
        None,
    ),
    ({**RESPONSE, "metadata": {"k": "v"}, "temperature": 0.2, "background": False}, None),
    ({**RESPONSE, "tools": None}, "tools"),
    ({**RESPONSE, "tools": [TOOL, TOOL]}, "tools"),
    ({**RESPONSE, "input": [{"role": "system", "content": "x"}]}, "input"),
    ({**RESPONSE, "input": [{"type": "image_generation_call"}, USER]}, "input[0].result"),
    ({**RESPONSE, "tools": [{**TOOL, "output_compression": 50}]}, "tools[0].output_compression"),
    ({**RESPONSE, "metadata": {"k": 5}}, "metadata.k"),
    ({**RESPONSE, "temperature": {"deep": ["a\x00b"]}}, None),  # the reader's check; check_json refuses the NUL
]


def _refusal(body: dict[str, Any], fields: Any, rules: Any) -> str | None:
    try:
        read_fields(body, fields, rules)
    except InvalidRequest as exc:
        return exc.param
    return None


@pytest.mark.parametrize(("body", "param"), CHAT_BODIES)
def test_chat_refusals_name_the_nested_field_and_the_document_agrees(body: dict[str, Any], param: str | None) -> None:
    assert _refusal(body, chat_fields(), CHAT_RULES) == param
    schema = object_schema(chat_fields(), CHAT_RULES)
    assert jsonschema.Draft202012Validator(_resolved(schema)).is_valid(body) is (param is None)


@pytest.mark.parametrize(("body", "param"), RESPONSE_BODIES)
def test_responses_refusals_name_the_nested_field_and_the_document_agrees(
    body: dict[str, Any], param: str | None
) -> None:
    assert _refusal(body, responses_fields(), RULES) == param
    schema = object_schema(responses_fields(), RULES)
    valid = jsonschema.Draft202012Validator(_resolved(schema)).is_valid(body)
    assert valid is (param is None and body.get("temperature") != {"deep": ["a\x00b"]})


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """The body schema with the document's one shared component beside it."""
    return {**schema, "components": {"schemas": {STORABLE_JSON: storable_json()}}}
