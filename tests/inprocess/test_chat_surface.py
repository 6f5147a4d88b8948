"""POST /v1/chat/completions in process, as chat clients send it: the official `openai` SDK (plain and
streaming), the exact bodies Open WebUI and LibreChat send, every refusal on the route in the OpenAI
error shape with its usage record, and the bill: a chat image costs what the same Images API image
costs, and the ledger agrees afterwards. Upstreams are the offline preview at the catalog's prices."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from .app import InProcess, app_settings, offline_routes, open_app

OFFLINE = offline_routes("gpt-image-2", "nano-banana-2")
"""gpt-image-2 (which does not edit) and nano-banana-2 (which does) at their real prices, drawn offline."""
LOW_1024 = 6_000
"""gpt-image-2's price of one low-quality 1024x1024 image, in micro-USD."""
NANO_1024 = 67_000
"""nano-banana-2's price of one 1024x1024 image."""
BLOCKED = "step by step diagram of how to build a pipe bomb"
CHAT = "/v1/chat/completions"
FUNDED = 10_000_000


def photo(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def decoded(url: str) -> Image.Image:
    head, _, payload = url.partition(",")
    assert head == "data:image/png;base64", head
    return Image.open(io.BytesIO(base64.b64decode(payload)))


def run_app(tmp_path: Path, scenario: Callable[[InProcess], Awaitable[None]], **env: str) -> None:
    async def go() -> None:
        async with open_app(app_settings(tmp_path / "data", OFFLINE, **env)) as app:
            await scenario(app)

    asyncio.run(go())


def sdk(app: InProcess, key: str) -> openai.AsyncOpenAI:
    """The official SDK, its requests going to the app in this process."""
    return openai.AsyncOpenAI(base_url=f"{app.gateway.base_url}/v1", api_key=key, http_client=app.http, max_retries=0)


async def chat(app: InProcess, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await app.http.post(CHAT, json=body, headers={"Authorization": f"Bearer {key}", **headers})


def ask(prompt: str = "a red kite over the sea", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-image-2", "messages": [{"role": "user", "content": prompt}], "quality": "low", **extra}


async def usage_of(app: InProcess, key: str) -> dict[str, dict[str, Any]]:
    response = await app.http.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return {record["id"]: record for record in response.json()["data"]}


async def account_of(app: InProcess, key: str) -> tuple[int, int]:
    body = (await app.http.get("/v1/account", headers={"Authorization": f"Bearer {key}"})).json()
    return body["balance_micros"], body["held_micros"]


def sse_chunks(text: str) -> list[Any]:
    """The `data:` payloads of a chat stream, `[DONE]` as the string."""
    found = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                payload = line.removeprefix("data: ")
                found.append(payload if payload == "[DONE]" else json.loads(payload))
    return found


def stored_images(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "data" / "images").rglob("img_*") if p.is_file()]


def test_the_openai_sdk_gets_a_data_url_image_billed_as_the_images_api_bills_it(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        completion = await client.chat.completions.create(
            model="gpt-image-2",
            messages=[{"role": "user", "content": "a red kite over the sea"}],
            temperature=0.7,  # sent by habit: accepted, without effect
            extra_body={"modalities": ["image", "text"], "quality": "low"},
        )
        assert completion.object == "chat.completion" and completion.model == "gpt-image-2"
        (choice,) = completion.choices
        assert (choice.finish_reason, choice.message.role) == ("stop", "assistant")
        assert choice.message.content == "a red kite over the sea"  # the revised prompt
        message = choice.message.model_dump()
        (image,) = message["images"]
        assert image["type"] == "image_url"
        assert decoded(image["image_url"]["url"]).size == (1024, 1024)
        billing = (completion.model_extra or {})["billing"]
        assert (billing["images"], billing["amount_micros"]) == (1, LOW_1024)
        assert stored_images(tmp_path) == []  # a data URL is inline: nothing stored

        same = await client.images.generate(model="gpt-image-2", prompt="a red kite over the sea", quality="low")
        assert (same.model_extra or {})["billing"]["amount_micros"] == LOW_1024
        records = sorted((r["surface"], r["cost_micros"], r["status"]) for r in (await usage_of(app, key)).values())
        assert records == [("chat", LOW_1024, 200), ("images", LOW_1024, 200)]
        assert await account_of(app, key) == (FUNDED - 2 * LOW_1024, 0)
        assert (await app.gateway.admin.ledger.verify())["ok"]

    run_app(tmp_path, scenario)


def test_the_openai_sdk_streams_the_role_the_image_the_stop_and_the_usage(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        stream = await sdk(app, key).chat.completions.create(
            model="gpt-image-2",
            messages=[{"role": "user", "content": "a lighthouse at dusk"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"modalities": ["image"], "quality": "low"},
        )
        chunks = [chunk async for chunk in stream]
        assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
        assert len({chunk.id for chunk in chunks}) == 1
        role, image, stop, usage = chunks
        assert role.choices[0].delta.role == "assistant"
        (part,) = image.choices[0].delta.model_dump()["images"]
        assert decoded(part["image_url"]["url"]).size == (1024, 1024)
        assert stop.choices[0].finish_reason == "stop"
        assert usage.choices == [] and usage.usage is not None
        assert (usage.model_extra or {})["billing"]["amount_micros"] == LOW_1024
        (record,) = (await usage_of(app, key)).values()
        assert (record["surface"], record["cost_micros"]) == ("chat", LOW_1024)
        assert await account_of(app, key) == (FUNDED - LOW_1024, 0)

    run_app(tmp_path, scenario)


def test_a_signed_url_is_an_opt_in_and_that_image_is_stored(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        response = await chat(app, key, ask(response_format="url"))
        assert response.status_code == 200, response.text
        (image,) = response.json()["choices"][0]["message"]["images"]
        url = image["image_url"]["url"]
        assert url.startswith(f"{app.gateway.base_url}/v1/files/img_")
        fetched = await app.http.get(url)
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
        stored = sorted(p.name.split(".", 1)[1] for p in stored_images(tmp_path))
        assert stored == ["png"]  # the image alone: its library thumbnail waits for a first view

    run_app(tmp_path, scenario)


def test_an_idempotency_key_replays_the_chat_answer_billed_once_and_prefer_async_is_answered_at_once(
    tmp_path: Path,
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        first = await chat(app, key, ask(), **{"Idempotency-Key": "chat-1", "Prefer": "respond-async"})
        assert first.status_code == 200, first.text  # no async jobs on this surface: answered now
        again = await chat(app, key, ask(), **{"Idempotency-Key": "chat-1"})
        assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
        image = first.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
        assert again.json()["choices"][0]["message"]["images"][0]["image_url"]["url"] == image
        assert await account_of(app, key) == (FUNDED - LOW_1024, 0)

    run_app(tmp_path, scenario)


def test_image_config_picks_the_catalog_size_and_images_api_fields_pass_through(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        body = {
            "model": "nano-banana-2",
            "messages": [{"role": "user", "content": "a wide mountain panorama"}],
            "modalities": ["image", "text"],
            "image_config": {"aspect_ratio": "16:9", "image_size": "1K"},
            "output_format": "jpeg",
        }
        response = await chat(app, key, body)
        assert response.status_code == 200, response.text
        (image,) = response.json()["choices"][0]["message"]["images"]
        head, _, payload = image["image_url"]["url"].partition(",")
        assert head == "data:image/jpeg;base64"
        drawn = Image.open(io.BytesIO(base64.b64decode(payload)))
        assert (drawn.format, drawn.size) == ("JPEG", (1376, 768))

    run_app(tmp_path, scenario)


OPEN_WEBUI_EDIT = {
    # what Open WebUI's backend forwards to an OpenAI connection (routers/openai.py
    # generate_chat_completion): the chat form less its metadata, an attached picture as a data URL
    # part, and include_usage on streams for models whose usage capability is set
    "stream": True,
    "model": "nano-banana-2",
    "messages": [
        {"role": "user", "content": "a lighthouse"},
        {"role": "assistant", "content": ""},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "make the sky purple"},
                {"type": "image_url", "image_url": {"url": "PHOTO"}},
            ],
        },
    ],
    "stream_options": {"include_usage": True},
}
LIBRECHAT_EDIT = {
    # what LibreChat's custom OpenAI endpoint sends (LangChain's ChatOpenAI with its defaults; images
    # encoded by api/server/services/Files/images/encode.js with detail "auto"), the user's id as `user`
    "model": "nano-banana-2",
    "temperature": 1,
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "n": 1,
    "stream": True,
    "stream_options": {"include_usage": True},
    "user": "6651f0c2e4b0a1b2c3d4e5f6",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "make the sky purple"},
                {"type": "image_url", "image_url": {"url": "PHOTO", "detail": "auto"}},
            ],
        },
    ],
}


@pytest.mark.parametrize("client_body", [OPEN_WEBUI_EDIT, LIBRECHAT_EDIT], ids=["open-webui", "librechat"])
def test_the_bodies_chat_uis_send_make_an_edit_of_the_attached_picture(
    tmp_path: Path, client_body: dict[str, Any]
) -> None:
    body = json.loads(json.dumps(client_body).replace("PHOTO", data_url(photo())))

    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        response = await chat(app, key, body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = sse_chunks(response.text)
        assert chunks[-1] == "[DONE]"
        images = [part for chunk in chunks[:-1] for c in chunk["choices"] for part in c["delta"].get("images", [])]
        assert len(images) == 1 and decoded(images[0]["image_url"]["url"]).size == (1024, 1024)
        assert chunks[-2]["billing"]["amount_micros"] == NANO_1024  # include_usage: the usage chunk
        (record,) = (await usage_of(app, key)).values()
        assert (record["surface"], record["cost_micros"], record["model"]) == ("chat", NANO_1024, "nano-banana-2")

    run_app(tmp_path, scenario)


def test_an_assistant_image_sent_back_is_the_image_a_second_turn_edits(tmp_path: Path) -> None:
    """OpenRouter's multi-turn convention: the client sends the assistant's image back in the
    conversation; on a model that edits, it is the edit's input (a generation on one that does not)."""

    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        first = await chat(app, key, {**ask("a red kite"), "model": "nano-banana-2", "quality": None})
        assert first.status_code == 200, first.text
        message = first.json()["choices"][0]["message"]
        turns = [{"role": "user", "content": "a red kite"}, message, {"role": "user", "content": "now make it blue"}]
        second = await chat(app, key, {"model": "nano-banana-2", "messages": turns})
        assert second.status_code == 200, second.text
        sent_back = await chat(app, key, {"model": "gpt-image-2", "messages": turns, "quality": "low"})
        assert sent_back.status_code == 200, sent_back.text  # history on a model that does not edit
        lines = [app.access.of(r.headers["x-request-id"]) for r in (first, second, sent_back)]
        assert all(" 200 " in line for line in lines), lines
        costs = [r.json()["billing"]["amount_micros"] for r in (first, second, sent_back)]
        assert costs == [NANO_1024, NANO_1024, LOW_1024]

    run_app(tmp_path, scenario)


REFUSED_BODIES = [
    ({**ask(), "modalities": ["text"]}, "invalid_value", "modalities"),
    ({**ask(), "modalities": ["image", "audio"]}, "invalid_value", "modalities"),
    ({**ask(), "modalities": "image"}, "invalid_type", "modalities"),
    ({**ask(), "tools": [{"type": "function", "function": {"name": "f"}}]}, "unsupported_parameter", "tools"),
    ({**ask(), "functions": [{"name": "f"}]}, "unsupported_parameter", "functions"),
    ({**ask(), "tool_choice": "auto"}, "unsupported_parameter", "tool_choice"),
    ({**ask(), "response_format": {"type": "json_schema", "json_schema": {}}}, "unsupported_parameter", "response_format"),
    ({**ask(), "response_format": {"type": "json_object"}}, "unsupported_parameter", "response_format"),
    ({**ask(), "response_format": "gif"}, "invalid_value", "response_format"),
    ({**ask(), "response_format": "url", "stream": True}, "invalid_value", "response_format"),
    ({**ask(), "partial_images": 2, "stream": True}, "unsupported_parameter", "partial_images"),
    ({**ask(), "prompt": "a kite"}, "unknown_parameter", "prompt"),
    ({**ask(), "frobnicate": 1}, "unknown_parameter", "frobnicate"),
    ({**ask(), "stream": "yes"}, "invalid_type", "stream"),
    ({**ask(), "stream_options": {"include_usage": "yes"}}, "invalid_type", "stream_options.include_usage"),
    ({**ask(), "model": "gpt-5"}, "model_not_found", "model"),
    ({**ask(), "model": None}, "missing_required_parameter", "model"),
    ({k: v for k, v in ask().items() if k != "messages"}, "missing_required_parameter", "messages"),
    ({**ask(), "messages": []}, "invalid_value", "messages"),
    ({**ask(), "messages": [{"role": "system", "content": "hi"}]}, "invalid_value", "messages"),
    ({**ask(), "messages": [{"role": "tool", "content": "x"}]}, "unsupported_parameter", "messages[0].role"),
    ({**ask(), "messages": [{"role": "user", "content": "   "}]}, "invalid_value", "messages[0].content"),
    (
        {**ask(), "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        "unsupported_parameter",
        "messages[0].content[0].type",
    ),
    ({**ask(), "size": "999x999"}, "invalid_value", "size"),
    ({**ask(), "n": "2"}, "invalid_type", "n"),
    ({**ask(), "quality": "ultra"}, "invalid_value", "quality"),
    ({**ask(), "image_config": {"aspect_ratio": "16:9"}}, "invalid_value", "image_config.aspect_ratio"),
    ({**ask(), "image_config": {"image_size": "8K"}}, "invalid_value", "image_config.image_size"),
    ({**ask(), "image_config": {"zoom": 2}}, "unknown_parameter", "image_config.zoom"),
    ({**ask(), "image_config": {}, "size": "1024x1024"}, "invalid_value", "image_config"),
    (
        {**ask(), "messages": [{"role": "user", "content": [{"type": "text", "text": "edit"}, {"type": "image_url", "image_url": {"url": "PHOTO"}}]}]},
        "unsupported_operation",
        "model",
    ),
]  # fmt: skip


def test_every_invalid_field_is_a_400_naming_it_and_nothing_is_held(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        for body, code, param in REFUSED_BODIES:
            sent = json.loads(json.dumps(body).replace("PHOTO", data_url(photo())))
            response = await chat(app, key, sent)
            assert response.status_code == 400, (body, response.text)
            error = response.json()["error"]
            assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param), body
        records = (await usage_of(app, key)).values()
        assert len(records) == len(REFUSED_BODIES)
        assert {(r["surface"], r["status"], r["cost_micros"]) for r in records} == {("chat", 400, 0)}
        assert await account_of(app, key) == (FUNDED, 0)

    run_app(tmp_path, scenario)


def test_hostile_bodies_are_refused_at_validation(tmp_path: Path) -> None:
    nested = '{"model": "gpt-image-2", "messages": ' + "[" * 200 + "]" * 200 + "}"
    hostile = [
        (b'{"model": "gpt-image-2", "messages": [{"role": "user", "content": "a kite\\ud800"}]}', "invalid_value"),
        (b'{"model": "gpt-image-2", "messages": [{"role": "user", "content": "a\\u0000kite"}]}', "invalid_value"),
        (b'{"model": "gpt-image-2", "n": 1' + b"0" * 5000 + b', "messages": []}', "invalid_json"),
        (nested.encode(), "invalid_json"),
        (b"\xff\xfe not json", "invalid_json"),
        (b"[]", "invalid_json"),
    ]

    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        for raw, code in hostile:
            response = await app.http.post(
                CHAT, content=raw, headers={"Authorization": f"Bearer {key}", "content-type": "application/json"}
            )
            assert (response.status_code, response.json()["error"]["code"]) == (400, code), raw[:80]
        assert await account_of(app, key) == (FUNDED, 0)

    run_app(tmp_path, scenario)


def test_402_451_and_429_refuse_as_on_the_images_api_unbilled(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        broke = await app.new_key("0")
        poor = await chat(app, broke, ask())
        assert (poor.status_code, poor.json()["error"]["code"]) == (402, "insufficient_balance")

        key = await app.new_key()
        blocked = await chat(app, key, ask(BLOCKED))
        assert (blocked.status_code, blocked.json()["error"]["code"]) == (451, "prompt_blocked")
        assert blocked.headers["x-imagegate-block-stage"] == "gateway"

        admin = app.gateway.admin
        account = await admin.accounts.create("limited")
        await admin.ledger.add_credit(account["id"], "10", "funding")
        limited = str((await admin.keys.create(account["id"], test=False, models=None, rpm=1))["key"])
        assert (await chat(app, limited, ask())).status_code == 200
        second = await chat(app, limited, ask())
        assert (second.status_code, second.json()["error"]["code"]) == (429, "rate_limit_exceeded")
        assert int(second.headers["retry-after"]) >= 1

        for who, status in ((broke, 402), (key, 451)):
            (record,) = (await usage_of(app, who)).values()
            assert (record["surface"], record["status"], record["cost_micros"]) == ("chat", status, 0)
        assert await account_of(app, key) == (FUNDED, 0)
        assert (await app.gateway.admin.ledger.verify())["ok"]

    run_app(tmp_path, scenario)


def test_401_403_and_503_in_the_openai_error_shape(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        anonymous = await app.http.post(CHAT, json=ask())
        assert (anonymous.status_code, anonymous.json()["error"]["type"]) == (401, "authentication_error")
        admin = app.gateway.admin
        account = await admin.accounts.create("allowlisted")
        await admin.ledger.add_credit(account["id"], "10", "funding")
        only_nano = str((await admin.keys.create(account["id"], test=False, models=["nano-banana-2"], rpm=None))["key"])
        denied = await chat(app, only_nano, ask())
        assert (denied.status_code, denied.json()["error"]["code"]) == (403, "model_not_allowed")
        key = await app.new_key()
        unrouted = await chat(app, key, {**ask(), "model": "nano-banana-pro", "quality": None})  # no Gemini key here
        assert (unrouted.status_code, unrouted.json()["error"]["code"]) == (503, "no_route_available")
        assert await account_of(app, key) == (FUNDED, 0)

    run_app(tmp_path, scenario)


def test_a_huge_data_url_is_413_and_a_body_past_the_limit_too(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        param = "messages[0].content[1].image_url.url"
        huge = data_url(b"\0" * 150_000)  # past the 100 kB image limit, within the 400 kB body limit
        body = {
            "model": "nano-banana-2",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "edit"}, {"type": "image_url", "image_url": {"url": huge}}]}],
        }  # fmt: skip
        response = await chat(app, key, body)
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("request_too_large", param)
        body["messages"][0]["content"][1]["image_url"]["url"] = data_url(b"\0" * 500_000)  # type: ignore[index]
        past_body = await chat(app, key, body)
        assert (past_body.status_code, past_body.json()["error"]["code"]) == (413, "request_too_large")
        records = (await usage_of(app, key)).values()
        assert sorted((r["surface"], r["status"]) for r in records) == [("chat", 413), ("chat", 413)]
        assert await account_of(app, key) == (FUNDED, 0)

    run_app(tmp_path, scenario, IMAGEGATE_EDIT_MAX_IMAGE_BYTES="100000", IMAGEGATE_EDIT_MAX_BODY_BYTES="400000")


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/iam/",
        "https://10.1.2.3/cat.png",
        "https://[::ffff:127.0.0.1]/cat.png",
        "http://127.0.0.1:5432/",
        "https://localhost/cat.png",
    ],
)
def test_an_image_url_pointing_inside_the_network_is_refused_on_a_public_node(tmp_path: Path, url: str) -> None:
    async def scenario(app: InProcess) -> None:
        assert app.settings.node.is_public()
        key = await app.new_key()
        body = {
            "model": "nano-banana-2",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "edit"}, {"type": "image_url", "image_url": {"url": url}}]}],
        }  # fmt: skip
        response = await chat(app, key, body)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("invalid_value", "messages[0].content[1].image_url.url")
        assert error["message"].startswith("The image URL ")
        assert await account_of(app, key) == (FUNDED, 0)

    run_app(tmp_path, scenario, IMAGEGATE_PUBLIC_URL="https://images.example.com")


def test_models_carry_openrouters_architecture(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        models = (await app.http.get("/v1/models", headers={"Authorization": f"Bearer {key}"})).json()["data"]
        found = {model["id"]: model["architecture"] for model in models}
        assert found["gpt-image-2"] == {
            "modality": "text->image",
            "input_modalities": ["text"],
            "output_modalities": ["image"],
        }
        assert found["nano-banana-2"]["input_modalities"] == ["text", "image"]
        assert all(arch["output_modalities"] == ["image"] for arch in found.values())

    run_app(tmp_path, scenario)
