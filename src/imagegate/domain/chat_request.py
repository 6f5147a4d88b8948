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
from dataclasses import dataclass, replace
from typing import Any

from .catalog import Catalog, Model
from .errors import InvalidRequest
from .fields import Excludes, Field, Requires, Rule, read_fields
from .image_config import image_config_field, size_for
from .image_url import ImageRef
from .openai_fields import INPUT_FIDELITY, model_rules
from .request import RULES, generation_fields
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
MODALITIES = ("image", "text")
RESPONSE_FORMATS = ("url", "b64_json")
INLINE = "b64_json"
ROLES = ("system", "developer", "user", "assistant")
PART_TYPES = ("text", "image_url")


def _type(name: str) -> Field:
    return Field("type", "string", required=True, choices=(name,))


IMAGE_URL = Field(
    "image_url",
    "object",
    "a data: URL (base64) or an https: URL",
    required=True,
    variants=(
        Field("image_url", "object", fields=(Field("url", "string", required=True), Field("detail", "string"))),
        Field("image_url", "string", "the URL itself (some clients send it so)"),
    ),
)
IMAGE_PART = Field("part", "object", fields=(_type("image_url"), IMAGE_URL, Field("index", "integer")))
TEXT_PART = Field("part", "object", fields=(_type("text"), Field("text", "string", required=True)))
PARTS = Field("content", "array", items=Field("part", "object", variants=(TEXT_PART, IMAGE_PART)))
_TEXT = Field("text", "string", non_blank=True, required=True)
USER_CONTENT = Field(
    "content",
    "string",
    "text, or parts: `text` and `image_url` (in the last user message, on a model that edits, the images to "
    "edit); the text (of the last user message: the prompt) is not blank",
    required=True,
    variants=(
        Field("content", "string", non_blank=True),
        replace(PARTS, contains=(Field("part", "object", "a text part", fields=(_type("text"), _TEXT)),)),
    ),
)
_MESSAGE_EXTRAS = ("name", "refusal", "annotations", "audio", "tool_calls", "function_call", "reasoning")
_HISTORY = tuple(Field(name, "any", "history: not read") for name in _MESSAGE_EXTRAS)
USER_MESSAGE = Field(
    "message", "object", fields=(Field("role", "string", required=True, choices=("user",)), USER_CONTENT, *_HISTORY)
)
OTHER_MESSAGE = Field(
    "message",
    "object",
    fields=(
        Field("role", "string", required=True, choices=ROLES[:2] + ROLES[3:]),
        Field("content", "array", "text, or parts", variants=(Field("content", "string"), PARTS)),
        Field(
            "images",
            "array",
            "an assistant message's images, sent back: the image a model that edits refines",
            items=IMAGE_PART,
        ),
        *_HISTORY,
    ),
)
MESSAGE = Field("message", "object", variants=(USER_MESSAGE, OTHER_MESSAGE))
MESSAGES = Field(
    "messages",
    "array",
    "the conversation; the text of the last user message is the prompt",
    required=True,
    items=MESSAGE,
    contains=(replace(USER_MESSAGE, doc="a user message"),),
    min_items=1,
    max_items=MAX_MESSAGES,
)
MODALITIES_FIELD = Field(
    "modalities",
    "array",
    "optional; given, it must include `image`",
    items=Field("modality", "string", choices=MODALITIES),
    contains=("image",),
)
STREAM = Field("stream", "boolean", default=False)
STREAM_OPTIONS = Field(
    "stream_options", "object", fields=(Field("include_usage", "boolean", "a stream's last chunk carries the usage"),)
)
RESPONSE_FORMAT = Field(
    "response_format",
    "string",
    '`{"type": "text"}`, or the Images API\'s `"b64_json"` (the default: data URLs, not stored) or `"url"` '
    "(the gateway's signed URLs, stored and listed; not with a stream)",
    variants=(
        Field("response_format", "string", choices=RESPONSE_FORMATS),
        Field("response_format", "object", fields=(_type("text"),)),
    ),
)
CHAT_FIELDS = (
    Field("model", "string", "a catalog image model", required=True),
    MESSAGES,
    MODALITIES_FIELD,
    STREAM,
    STREAM_OPTIONS,
    image_config_field(None),
    RESPONSE_FORMAT,
    *(Field(name, "any", "accepted and ignored: no text model runs") for name in sorted(IGNORED)),
    *(Field(name, "any", reason, offered=False) for name, reason in REFUSED.items() if name != "tool_choice"),
    Field("tool_choice", "string", "only `none`: no text model runs to call tools", choices=("none",)),
)
RESPONSE_FORMAT_RULE = Requires(
    "response_format",
    "stream",
    (False,),
    "'response_format': 'url' cannot be used with 'stream': true; a stream sends each image inline as a data URL.",
    when="url",
    default=False,
)
SIZE_OR_CONFIG = Excludes(
    "image_config", "size", "Give either 'size' or 'image_config', not both: each picks the image's size."
)
DOCUMENTED_RULES: tuple[Rule, ...] = (*(rule for rule in RULES if rule.field != "partial_images"), RESPONSE_FORMAT_RULE)
"""The chat body's rules as the document states them (`partial_images` is refused outright here; each
model's variants say `SIZE_OR_CONFIG`)."""
CHAT_RULES: tuple[Rule, ...] = (*DOCUMENTED_RULES, SIZE_OR_CONFIG)
"""The chat body's rules: the Images API's (compression needs its format, …), and its own."""


def chat_fields(model: Model | None = None) -> tuple[Field, ...]:
    """The chat body's fields; with `model`, as that model takes them (its names, its image fields,
    the `image_config` values it draws): what the reader checks and what the API document shows."""
    images = {field.name: field for field in generation_fields(model)}
    images["input_fidelity"] = INPUT_FIDELITY  # read only by an edit, which checks it against the model
    own = {field.name: field for field in CHAT_FIELDS}
    if model is not None:
        own["model"] = replace(own["model"], choices=(model.id, *model.aliases))
        own["image_config"] = image_config_field(model)
    return (*own.values(), *(images[name] for name in IMAGE_FIELDS))


def chat_variants(model: Model) -> tuple[tuple[tuple[Field, ...], tuple[Rule, ...]], ...]:
    """The bodies that run `model`: its size given as `size`, or picked by `image_config` (not both)."""
    fields = {field.name: field for field in chat_fields(model)}
    by_size = {**fields, "image_config": replace(fields["image_config"], offered=False)}
    by_config = {
        **fields,
        "size": replace(fields["size"], offered=False),
        "image_config": replace(fields["image_config"], required=True),
    }
    return tuple((tuple(chosen.values()), model_rules(model)) for chosen in (by_size, by_config))


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
    """The chat body as an image request; the contract's 400, naming the field, for anything else.
    Its shape is checked against `chat_fields` (what the API document shows); some refusals are
    worded first, saying why (a tool role, an audio part, a JSON answer)."""
    _explain_refusals(body)
    values = read_fields(body, chat_fields(), CHAT_RULES)
    model_name: str = values["model"]
    model = catalog.find(model_name)
    stream = bool(values.get("stream"))
    include_usage = bool(values.get("stream_options", {}).get("include_usage"))
    messages: list[dict[str, Any]] = values["messages"]
    last_user = _last_user(messages)
    prompt = _prompt(messages[last_user], last_user, model)
    images = list(_images_of(messages[last_user], last_user, "content"))
    if model is not None and model.capabilities.img2img:
        images = _refined(messages, last_user) + images
    fields: dict[str, Any] = {"model": model_name, "prompt": prompt}
    fields.update((name, values[name]) for name in IMAGE_FIELDS if name in values)
    response_format = values.get("response_format")
    fields["response_format"] = response_format if isinstance(response_format, str) else INLINE
    if "image_config" in values and model is not None:
        fields["size"] = size_for(values["image_config"], model)
    if stream:
        fields["stream"] = True
    return ChatRequest(fields, tuple(images), model_name, stream, include_usage)


def _explain_refusals(body: dict[str, Any]) -> None:
    """Refusals that say more than the declarations' "unknown" or "invalid value"."""
    for name, value in body.items():
        if name == "prompt":
            raise InvalidRequest(
                "Unknown parameter: 'prompt'. In a chat request the prompt is the text of the last user message.",
                code="unknown_parameter",
                param="prompt",
            )
        if name in REFUSED and value is not None and not (name == "tool_choice" and value == "none"):
            raise InvalidRequest(
                f"'{name}' is not supported: {REFUSED[name]}.", code="unsupported_parameter", param=name
            )
        check_text(name, None)
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("json_object", "json_schema"):
        raise InvalidRequest(
            f"'response_format' of type '{kind}' is not supported: the answer is images, not JSON text.",
            code="unsupported_parameter",
            param="response_format",
        )
    messages = body.get("messages")
    for index, message in enumerate(messages if isinstance(messages, list) else ()):
        if not isinstance(message, dict):
            continue
        where = f"messages[{index}]"
        role = message.get("role")
        if role in ("tool", "function"):
            raise InvalidRequest(
                f"'{where}.role' is '{role}': {_NO_TEXT_MODEL.format('call tools')}.",
                code="unsupported_parameter",
                param=f"{where}.role",
            )
        content = message.get("content")
        for number, part in enumerate(content if isinstance(content, list) else ()):
            kind = part.get("type") if isinstance(part, dict) else "text"
            if kind not in PART_TYPES:
                param = f"{where}.content[{number}].type"
                raise InvalidRequest(
                    f"'{param}' is '{str(kind)[:20]}'; a message to an image model may hold text and image_url parts.",
                    code="unsupported_parameter",
                    param=param,
                )


def _last_user(messages: list[dict[str, Any]]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            return index
    raise InvalidRequest("'messages' holds no user message; the text of the last one is the prompt.", param="messages")


def _parts(message: dict[str, Any], index: int) -> list[tuple[str, dict[str, Any]]]:
    """(param, part) of each content part (checked by `MESSAGE`); a string content is one text part."""
    where = f"messages[{index}].content"
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [(where, {"type": "text", "text": content})]
    return [(f"{where}[{number}]", part) for number, part in enumerate(content)]


def _prompt(message: dict[str, Any], index: int, model: Model | None) -> str:
    where = f"messages[{index}].content"
    prompt = "\n".join(part["text"] for _, part in _parts(message, index) if part["type"] == "text")
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
        entries = [(f"messages[{index}].{key}[{number}]", entry) for number, entry in enumerate(message.get(key, ()))]
    for param, part in entries:
        if part["type"] != "image_url":
            continue
        image = part["image_url"]
        if isinstance(image, dict):  # OpenAI's {"url": …, "detail": …}
            yield ImageRef(image["url"], f"{param}.image_url.url")
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


__all__ = [
    "CHAT_RULES",
    "DOCUMENTED_RULES",
    "IGNORED",
    "IMAGE_FIELDS",
    "REFUSED",
    "ChatRequest",
    "chat_fields",
    "chat_variants",
    "parse_chat_request",
]
