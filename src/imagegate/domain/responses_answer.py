"""The Responses API's answer to an image request: OpenAI's Response object whose output is one
`image_generation_call` (its image in base64 as `result`), the same object at each stage of a stream,
and what is kept of it (everything but the image, which is kept apart).

`usage` is OpenAI's token count, all zero: no text model runs, and the image is billed per image at
the catalog's price, as on the Images API (`billing`, the Images API's object).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .responses_request import ResponsesRequest

NO_TOKENS: dict[str, Any] = {
    "input_tokens": 0,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 0,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 0,
}
CALL_TYPE = "image_generation_call"
SHAPE_FIELDS = ("background", "output_format", "quality", "size")
"""What an image_generation_call says of its image (OpenAI's `ImageGenerationCall`)."""


def image_call(
    item_id: str, status: str, shape: Mapping[str, Any], result: str | None = None, revised_prompt: str | None = None
) -> dict[str, Any]:
    """One output item; `shape` gives its background, output_format, quality and size."""
    item: dict[str, Any] = {"id": item_id, "type": CALL_TYPE, "status": status, "result": result}
    if status == "completed":
        item["revised_prompt"] = revised_prompt
        item.update({name: shape.get(name) for name in SHAPE_FIELDS})
    return item


def response_object(
    response_id: str,
    wire: ResponsesRequest,
    model: str,
    created_at: int,
    output: list[dict[str, Any]],
    billing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Response: `in_progress` until `billing` (the images delivered and billed) is known."""
    done = billing is not None
    body: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "completed" if done else "in_progress",
        "completed_at": created_at if done else None,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": output,
        "previous_response_id": wire.previous_response_id,
        "store": wire.store,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "usage": NO_TOKENS if done else None,
        **wire.echo,
    }
    if billing is not None:
        body["billing"] = dict(billing)
    return body


def from_images_body(
    response_id: str, item_id: str, wire: ResponsesRequest, model: str, images_body: Mapping[str, Any]
) -> dict[str, Any]:
    """The completed Response of an Images API answer (`data[0].b64_json`, its top-level
    `output_format`, `size`, `quality`, `background`, and `billing`)."""
    image = images_body["data"][0]
    shape = {"background": "auto", **{name: images_body.get(name) for name in SHAPE_FIELDS if name in images_body}}
    call = image_call(item_id, "completed", shape, image["b64_json"], image.get("revised_prompt"))
    return response_object(response_id, wire, model, images_body["created"], [call], images_body["billing"])


def without_images(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Response as kept: each image's `result` left out (the images are kept apart, by item id)."""
    return {**body, "output": [{**item, "result": None} for item in body["output"]]}


def with_images(body: Mapping[str, Any], results: Mapping[str, str]) -> dict[str, Any]:
    """A kept Response with its images back (`results`: base64 by item id)."""
    return {**body, "output": [{**item, "result": results.get(item["id"])} for item in body["output"]]}


__all__ = ["NO_TOKENS", "from_images_body", "image_call", "response_object", "with_images", "without_images"]
