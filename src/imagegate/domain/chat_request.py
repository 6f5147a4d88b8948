"""A Chat Completions body (`POST /v1/chat/completions`) read as an image request: OpenAI's chat
shape with OpenRouter's conventions for image output.

- The prompt is the text of the last user message; its `image_url` parts are input images (an
  edit). On a model that edits, the images of the latest assistant message before it come first:
  that is how a client asks to refine the image it got (OpenRouter's multi-turn convention). On a
  model that does not edit, earlier assistant images are history and are left out.
- `modalities` may be left out; given, it must include `image`. OpenRouter's `image_config`
  (`aspect_ratio`, `image_size`) picks a catalog size. The Images API's own fields (`size`,
  `quality`, `output_format`, `background`, `n`, …) may be sent beside the chat fields.
- Sampling fields that chat clients send by habit (`IGNORED`) are accepted and have no effect: no
  text model runs. Fields that need one (`REFUSED`: tools, JSON output, audio) are refused, named.
- The answer carries each image as a data URL by default (inline: not stored, as the Images API's
  `b64_json`); `response_format: "url"` (the Images API's field, a string) asks for the gateway's
  signed URL instead (stored and listed like any other image).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .catalog import Catalog, Model
from .errors import InvalidRequest
from .image_config import size_for
from .image_url import ImageRef
from .text import check_text

MAX_MESSAGES = 1000
IMAGE_FIELDS = (
    "size",
    "quality",
    "style",
    "output_format",
    "output_compression",
    "background",
    "moderation",
    "safety_identifier",
    "complexity",
    "input_fidelity",
    "n",
    "user",
)
"""The Images API's fields a chat body may carry (`n`: images in the one answer); passed on as they are."""
IGNORED = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "seed",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "store",
        "metadata",
        "service_tier",
        "reasoning_effort",
        "parallel_tool_calls",
    }
)
"""Sampling and bookkeeping fields chat clients send by habit; accepted, without effect."""
_NO_TEXT_MODEL = "this gateway runs image models only, so there is no text model to {}"
REFUSED = {
    "tools": _NO_TEXT_MODEL.format("call tools"),
    "functions": _NO_TEXT_MODEL.format("call functions"),
    "function_call": _NO_TEXT_MODEL.format("call functions"),
    "tool_choice": _NO_TEXT_MODEL.format("call tools"),
    "audio": _NO_TEXT_MODEL.format("speak"),
    "prediction": _NO_TEXT_MODEL.format("predict text"),
    "web_search_options": _NO_TEXT_MODEL.format("search the web"),
    "partial_images": "a chat stream sends each image whole, so there are no partial images to send "
    "(POST /v1/images/generations streams them)",
}
"""Chat fields no image model can honour, and why."""
CHAT_FIELDS = frozenset(
    {"model", "messages", "modalities", "stream", "stream_options", "image_config", "response_format", "prompt"}
)
MODALITIES = ("image", "text")
RESPONSE_FORMATS = ("url", "b64_json")
INLINE = "b64_json"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    fields: dict[str, Any]
    """The Images API's body the chat body asks for (`model`, `prompt`, `size`, …, `stream`)."""
    images: tuple[ImageRef, ...]
    """Input images, in order (an earlier assistant image first); none for a generation."""
    model: str
    """The model as the client named it (the answer's `model`)."""
    stream: bool
    include_usage: bool
    """`stream_options.include_usage`: a stream's last chunk carries the usage and billing."""


def parse_chat_request(body: dict[str, Any], catalog: Catalog) -> ChatRequest:
    """The chat body as an image request; the contract's 400, naming the field, for anything else."""
    for name, value in body.items():
        _check_field(name, value)
    model_name = body.get("model")
    if not isinstance(model_name, str):
        if model_name is None:
            raise InvalidRequest(
                "Missing required parameter: 'model'.", code="missing_required_parameter", param="model"
            )
        raise InvalidRequest("'model' must be a string.", code="invalid_type", param="model")
    model = catalog.find(model_name)
    _check_modalities(body.get("modalities"))
    stream = _boolean(body, "stream")
    include_usage = _include_usage(body.get("stream_options"))
    messages = _messages(body.get("messages"))
    last_user = _last_user(messages)
    prompt = _prompt(messages[last_user], last_user, model)
    images = list(_images_of(messages[last_user], last_user, "content"))
    if model is not None and model.capabilities.img2img:
        images = _refined(messages, last_user) + images
    fields: dict[str, Any] = {"model": model_name, "prompt": prompt}
    fields.update((name, body[name]) for name in IMAGE_FIELDS if body.get(name) is not None)
    fields["response_format"] = _response_format(body.get("response_format"), stream)
    if body.get("image_config") is not None and model is not None:
        if "size" in fields:
            raise InvalidRequest(
                "Give either 'size' or 'image_config', not both: each picks the image's size.", param="image_config"
            )
        fields["size"] = size_for(body["image_config"], model)
    if stream:
        fields["stream"] = True
    return ChatRequest(fields, tuple(images), model_name, stream, include_usage)


def _check_field(name: str, value: Any) -> None:
    if name in CHAT_FIELDS or name in IGNORED or name in IMAGE_FIELDS:
        if name == "prompt":
            raise InvalidRequest(
                "Unknown parameter: 'prompt'. In a chat request the prompt is the text of the last user message.",
                code="unknown_parameter",
                param="prompt",
            )
        return
    if name in REFUSED:
        if name == "tool_choice" and value in (None, "none"):
            return
        raise InvalidRequest(f"'{name}' is not supported: {REFUSED[name]}.", code="unsupported_parameter", param=name)
    check_text(name, None)
    raise InvalidRequest(f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)


def _check_modalities(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(
            '\'modalities\' must be a list of strings, e.g. ["image", "text"].', code="invalid_type", param="modalities"
        )
    unknown = [item for item in value if item not in MODALITIES]
    if unknown:
        raise InvalidRequest(
            f"'modalities' may hold 'image' and 'text'; this gateway does not answer '{unknown[0][:20]}'.",
            param="modalities",
        )
    if "image" not in value:
        raise InvalidRequest(
            "'modalities' must include 'image': this gateway's models answer with images "
            '(send ["image"] or ["image", "text"]).',
            param="modalities",
        )


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be a boolean.", code="invalid_type", param=name)
    return value


def _include_usage(options: Any) -> bool:
    if options is None:
        return False
    if not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", code="invalid_type", param="stream_options")
    usage = options.get("include_usage")
    if usage is not None and not isinstance(usage, bool):
        where = "stream_options.include_usage"
        raise InvalidRequest(f"'{where}' must be a boolean.", code="invalid_type", param=where)
    return bool(usage)


def _response_format(value: Any, stream: bool) -> str:
    """Chat's `{"type": "text"}` (the default), or the Images API's string: the data URL (`b64_json`,
    the default) or the gateway's signed URL (`url`, not with a stream: a stream sends images inline)."""
    if value is None:
        return INLINE
    if isinstance(value, str):
        if value not in RESPONSE_FORMATS:
            raise InvalidRequest(
                f"Invalid value for 'response_format': '{value[:20]}'. Supported values are: url, b64_json "
                '(or chat\'s {"type": "text"}).',
                param="response_format",
            )
        if value == "url" and stream:
            raise InvalidRequest(
                "'response_format': 'url' cannot be used with 'stream': true; a stream sends each image inline "
                "as a data URL.",
                param="response_format",
            )
        return value
    if not isinstance(value, dict):
        raise InvalidRequest(
            "'response_format' must be an object or a string.", code="invalid_type", param="response_format"
        )
    kind = value.get("type")
    if kind in ("json_object", "json_schema"):
        raise InvalidRequest(
            f"'response_format' of type '{kind}' is not supported: the answer is images, not JSON text.",
            code="unsupported_parameter",
            param="response_format",
        )
    if kind != "text":
        raise InvalidRequest(
            "'response_format.type' must be 'text' (the images come in message.images).", param="response_format.type"
        )
    return INLINE


def _messages(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise InvalidRequest(
            "Missing required parameter: 'messages'.", code="missing_required_parameter", param="messages"
        )
    if not isinstance(value, list):
        raise InvalidRequest("'messages' must be an array of messages.", code="invalid_type", param="messages")
    if not 1 <= len(value) <= MAX_MESSAGES:
        raise InvalidRequest(f"'messages' must hold 1 to {MAX_MESSAGES} messages.", param="messages")
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{where}' must be an object.", code="invalid_type", param=where)
        role = message.get("role")
        if role in ("tool", "function"):
            raise InvalidRequest(
                f"'{where}.role' is '{role}': {_NO_TEXT_MODEL.format('call tools')}.",
                code="unsupported_parameter",
                param=f"{where}.role",
            )
        if role not in ("system", "developer", "user", "assistant"):
            raise InvalidRequest(f"'{where}.role' must be system, developer, user or assistant.", param=f"{where}.role")
    return value


def _last_user(messages: list[dict[str, Any]]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            return index
    raise InvalidRequest("'messages' holds no user message; the text of the last one is the prompt.", param="messages")


def _parts(message: dict[str, Any], index: int) -> list[tuple[str, Any]]:
    """(param, part) of each content part; a string content is one text part."""
    where = f"messages[{index}].content"
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [(where, {"type": "text", "text": content})]
    if not isinstance(content, list):
        raise InvalidRequest(f"'{where}' must be a string or an array of parts.", code="invalid_type", param=where)
    parts = []
    for number, part in enumerate(content):
        param = f"{where}[{number}]"
        if not isinstance(part, dict):
            raise InvalidRequest(f"'{param}' must be an object.", code="invalid_type", param=param)
        parts.append((param, part))
    return parts


def _prompt(message: dict[str, Any], index: int, model: Model | None) -> str:
    texts = []
    for param, part in _parts(message, index):
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequest(f"'{param}.text' must be a string.", code="invalid_type", param=f"{param}.text")
            texts.append(text)
        elif kind != "image_url":
            raise InvalidRequest(
                f"'{param}.type' is '{str(kind)[:20]}'; a message to an image model may hold text and image_url parts.",
                code="unsupported_parameter",
                param=f"{param}.type",
            )
    where = f"messages[{index}].content"
    prompt = "\n".join(texts)
    if not prompt.strip():
        raise InvalidRequest(f"'{where}' has no text; the text of the last user message is the prompt.", param=where)
    limit = model.capabilities.max_prompt_chars if model is not None else None
    if limit is not None and len(prompt) > limit:
        raise InvalidRequest(
            f"The prompt ('{where}') is {len(prompt)} characters long; this model accepts at most {limit}.",
            param=where,
        )
    return prompt


def _images_of(message: dict[str, Any], index: int, key: str) -> Iterator[ImageRef]:
    """The `image_url` parts of a message's content (`key` "content") or of an assistant's `images`."""
    if key == "content":
        entries = _parts(message, index)
    else:
        listed = message.get(key)
        if listed is None:
            return
        where = f"messages[{index}].{key}"
        if not isinstance(listed, list):
            raise InvalidRequest(f"'{where}' must be an array.", code="invalid_type", param=where)
        entries = [(f"{where}[{number}]", entry) for number, entry in enumerate(listed)]
    for param, part in entries:
        if key == "content" and part.get("type") != "image_url":
            continue
        if not isinstance(part, dict):
            raise InvalidRequest(f"'{param}' must be an object.", code="invalid_type", param=param)
        image = part.get("image_url")
        if isinstance(image, dict):  # OpenAI's {"url": …, "detail": …}
            yield ImageRef(image.get("url"), f"{param}.image_url.url")
        else:  # some clients send the URL itself
            yield ImageRef(image, f"{param}.image_url")


def _refined(messages: list[dict[str, Any]], last_user: int) -> list[ImageRef]:
    """The images of the latest assistant message before the last user message: the image to refine."""
    for index in range(last_user - 1, -1, -1):
        message = messages[index]
        if message["role"] != "assistant":
            continue
        found = [*_images_of(message, index, "images"), *_images_of(message, index, "content")]
        if found:
            return found
    return []


__all__ = ["IGNORED", "IMAGE_FIELDS", "REFUSED", "ChatRequest", "parse_chat_request"]
