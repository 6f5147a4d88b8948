"""The Responses API surface (`POST /v1/responses` with the image_generation tool) in process, through
the official `openai` SDK: one image_generation_call billed exactly as the Images API bills the same
image, OpenAI's stream events in order, a two-turn edit with `previous_response_id`, the kept
responses (GET, DELETE, the sweep), and every refusal in the OpenAI error shape, unbilled."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.reference_images import parse_multipart

from .app import InProcess, app_settings, offline_routes, open_app

LOW_1024 = 6_000
"""gpt-image-2's live price of one low-quality 1024x1024 image, in micro-USD."""
OFFLINE_GPT_IMAGE = offline_routes("gpt-image-2", editing=("gpt-image-2",))
"""gpt-image-2 at its real prices, drawn by the offline preview (edits on, as an operator may turn them on)."""
EDITING_GPT_IMAGE = """
[models.gpt-image-2]
img2img = true
"""
"""gpt-image-2 on its OpenAI route (the fake upstream), with edits on."""
UPSTREAM_KEY = "sk-fake-upstream-responses"
TOOL = {"type": "image_generation", "model": "gpt-image-2", "quality": "low", "size": "1024x1024"}
PROMPT = "a lighthouse at dusk"
Scenario = Callable[[InProcess], Awaitable[None]]


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


def run_app(tmp_path: Path, scenario: Scenario, catalog: str = OFFLINE_GPT_IMAGE, **env: str) -> None:
    async def go() -> None:
        async with open_app(app_settings(tmp_path / "data", catalog, **env)) as app:
            await scenario(app)

    asyncio.run(go())


def on_upstream(tmp_path: Path, fake: FakeOpenAI, scenario: Scenario) -> None:
    fake.reset()
    env = {"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": fake.base_url}
    run_app(tmp_path, scenario, EDITING_GPT_IMAGE, **env)


def sdk(app: InProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=key, base_url=str(app.http.base_url.join("/v1")), http_client=app.http, max_retries=0
    )


def decoded(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


async def balance(app: InProcess, key: str) -> int:
    response = await app.http.get("/v1/account", headers={"Authorization": f"Bearer {key}"})
    return int(response.json()["balance_micros"])


async def usage_of(app: InProcess, key: str) -> dict[str, dict[str, Any]]:
    response = await app.http.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return {record["id"]: record for record in response.json()["data"]}


async def post(app: InProcess, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await app.http.post("/v1/responses", json=body, headers={"Authorization": f"Bearer {key}", **headers})


def test_sdk_create_answers_one_image_call_billed_as_the_images_api_bills_it(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        start = await balance(app, key)
        images_api = await app.http.post(
            "/v1/images/generations",
            json={"model": "gpt-image-2", "prompt": PROMPT, "quality": "low", "size": "1024x1024"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert images_api.status_code == 200, images_api.text
        after_images = await balance(app, key)

        raw = await sdk(app, key).responses.with_raw_response.create(model="gpt-5", input=PROMPT, tools=[TOOL])
        response = raw.parse()
        assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
        (call,) = response.output
        assert call.type == "image_generation_call" and call.id.startswith("ig_") and call.status == "completed"
        assert (call.size, call.quality, call.output_format, call.background) == ("1024x1024", "low", "png", "auto")
        assert call.result is not None and decoded(call.result).size == (1024, 1024)
        assert call.revised_prompt and PROMPT in call.revised_prompt
        assert response.usage is not None and response.usage.total_tokens == 0  # no text model ran
        billing = raw.http_response.json()["billing"]
        assert billing == images_api.json()["billing"] and billing["amount_micros"] == LOW_1024
        assert start - after_images == after_images - await balance(app, key) == LOW_1024
        assert raw.headers["x-imagegate-cost-micros"] == str(LOW_1024)
        line = app.access.of(raw.headers["x-request-id"])
        assert "POST /v1/responses 200 " in line and "model=gpt-image-2 images=1 cost_micros=6000 " in line, line
        record = (await usage_of(app, key))[raw.headers["x-request-id"]]
        assert (record["surface"], record["cost_micros"], record["model"]) == ("responses", LOW_1024, "gpt-image-2")
        assert (await app.gateway.admin.ledger.verify())["ok"]

    run_app(tmp_path, scenario)


OPENING = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.image_generation_call.in_progress",
    "response.image_generation_call.generating",
]
CLOSING = [
    "response.image_generation_call.completed",
    "response.output_item.done",
    "response.completed",
]


def test_sdk_stream_sends_openais_events_in_order_and_bills_once(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        start = await balance(app, key)
        async with sdk(app, key).responses.stream(model="gpt-image-2", input=PROMPT, tools=[TOOL]) as stream:
            events = [event async for event in stream]
            final = await stream.get_final_response()
        assert [event.type for event in events] == OPENING + CLOSING
        assert [event.sequence_number for event in events] == list(range(len(events)))
        (call,) = final.output
        assert call.type == "image_generation_call" and call.status == "completed"
        assert call.result is not None and decoded(call.result).size == (1024, 1024)
        assert events[2].item.id == call.id and final.id == events[0].response.id  # type: ignore[union-attr]
        assert final.model_extra is not None and final.model_extra["billing"]["amount_micros"] == LOW_1024
        assert start - await balance(app, key) == LOW_1024
        kept = await sdk(app, key).responses.retrieve(final.id)  # kept before response.completed went out
        assert kept.output[0].result == call.result
        (record,) = (await usage_of(app, key)).values()
        assert (record["surface"], record["cost_micros"]) == ("responses", LOW_1024)

    run_app(tmp_path, scenario)


def test_partial_images_the_upstream_streams_are_passed_through(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        tool = {**TOOL, "partial_images": 2}
        async with sdk(app, key).responses.stream(model="gpt-5", input=PROMPT, tools=[tool]) as stream:  # type: ignore[list-item]
            events = [event async for event in stream]
        partials = [event for event in events if event.type == "response.image_generation_call.partial_image"]
        assert [event.type for event in events] == OPENING + [partials[0].type] * 2 + CLOSING
        assert [event.partial_image_index for event in partials] == [0, 1]  # type: ignore[union-attr]
        assert all(decoded(event.partial_image_b64).format == "PNG" for event in partials)  # type: ignore[union-attr]
        sent = fake_upstream.requests[0].json
        assert (sent["stream"], sent["partial_images"], sent["quality"]) == (True, 2, "low")

    on_upstream(tmp_path, fake_upstream, scenario)


def test_a_second_turn_edits_the_previous_responses_image(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        first = await client.responses.create(model="gpt-5", input=PROMPT, tools=[TOOL])
        second = await client.responses.create(
            model="gpt-5", input="now make it snow", tools=[TOOL], previous_response_id=first.id
        )
        assert second.previous_response_id == first.id and second.output[0].result
        generation, edit = fake_upstream.requests
        assert (generation.path, edit.path) == ("/v1/images/generations", "/v1/images/edits")
        parts = {part.name: part for part in parse_multipart(edit.headers["content-type"], edit.body)}
        assert parts["prompt"].data == b"now make it snow"
        assert parts["image"].data == base64.b64decode(first.output[0].result or "")  # the first turn's image
        records = await usage_of(app, key)
        assert [r["surface"] for r in records.values()] == ["responses", "responses"]
        assert sum(r["cost_micros"] for r in records.values()) == 2 * LOW_1024

    on_upstream(tmp_path, fake_upstream, scenario)


def test_an_earlier_image_sent_back_as_input_is_edited(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    """Conversation state kept by the client: the first answer's output item sent back as input."""

    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        first = await client.responses.create(model="gpt-5", input=PROMPT, tools=[TOOL], store=False)
        turn = [*(item.model_dump() for item in first.output), {"role": "user", "content": "add a moon"}]
        await client.responses.create(model="gpt-5", input=turn, tools=[TOOL])  # type: ignore[arg-type]
        edit = fake_upstream.requests[1]
        parts = {part.name: part for part in parse_multipart(edit.headers["content-type"], edit.body)}
        assert parts["image"].data == base64.b64decode(first.output[0].result or "")
        with pytest.raises(openai.NotFoundError):  # store: false kept nothing
            await client.responses.retrieve(first.id)

    on_upstream(tmp_path, fake_upstream, scenario)


def test_kept_responses_are_the_accounts_own_and_go_when_deleted_or_expired(
    tmp_path: Path, fresh_database: str
) -> None:
    """On SQLite and on PostgreSQL (whose sweep claims rows `FOR UPDATE SKIP LOCKED`)."""

    async def scenario(app: InProcess) -> None:
        key, other = await app.new_key(), await app.new_key()
        mine = await sdk(app, key).responses.create(
            model="gpt-image-2", input=PROMPT, tools=[{"type": "image_generation"}]
        )
        assert (await sdk(app, key).responses.retrieve(mine.id)).model_dump() == mine.model_dump()
        with pytest.raises(openai.NotFoundError):
            await sdk(app, other).responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError) as caught:
            await sdk(app, other).responses.create(
                model="gpt-image-2", input="again", tools=[TOOL], previous_response_id=mine.id
            )
        assert (caught.value.code, caught.value.param) == ("previous_response_not_found", "previous_response_id")
        with pytest.raises(openai.NotFoundError):
            await sdk(app, other).responses.delete(mine.id)
        await sdk(app, key).responses.delete(mine.id)
        with pytest.raises(openai.NotFoundError):
            await sdk(app, key).responses.retrieve(mine.id)

        kept = await sdk(app, key).responses.create(model="gpt-image-2", input=PROMPT, tools=[TOOL])
        images = tmp_path / "data" / "images" / "responses"
        assert any(images.rglob("*"))
        assert await app.gateway.responses.sweep(now=time.time() + 86_400 + 1) == 1
        assert not any(path.is_file() for path in images.rglob("*"))
        with pytest.raises(openai.NotFoundError):
            await sdk(app, key).responses.retrieve(kept.id)

    run_app(tmp_path, scenario, IMAGEGATE_DATABASE_URL=fresh_database)


def png_data_url(width: int = 64, height: int = 48) -> str:
    """A PNG of noise (so that its size in bytes grows with its pixels)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "input_text", "text": PROMPT}, *parts]}]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-5", "input": PROMPT, "tools": [TOOL], **fields}


def tool(**fields: Any) -> dict[str, Any]:
    return body(tools=[{**TOOL, **fields}])


IMAGE = {"type": "input_image", "image_url": png_data_url()}
BAD_FIELDS: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("unknown field", body(seed=7), "unknown_parameter", "seed"),
    ("conversation", body(conversation="conv_1"), "unsupported_parameter", "conversation"),
    ("background response", body(background=True), "unsupported_parameter", "background"),
    ("background not a boolean", body(background={}), "invalid_type", "background"),  # {} used to pass
    ("stream not a boolean", body(stream="yes"), "invalid_type", "stream"),
    ("store not a boolean", body(store="no"), "invalid_type", "store"),
    ("no tool", body(tools=None), "missing_required_parameter", "tools"),
    ("tools not a list", body(tools={"type": "image_generation"}), "invalid_type", "tools"),
    ("a function tool", body(tools=[{"type": "function", "name": "f"}]), "unsupported_parameter", "tools[0].type"),
    ("two image tools", body(tools=[TOOL, TOOL]), "invalid_value", "tools[1]"),
    ("tool_choice none", body(tool_choice="none"), "invalid_value", "tool_choice"),
    ("unknown tool field", tool(seed=7), "unknown_parameter", "tools[0].seed"),
    ("gif frames", tool(frame_count=9), "unsupported_parameter", "tools[0].frame_count"),
    ("size", tool(size="7x7"), "invalid_value", "tools[0].size"),
    ("quality", tool(quality="ultra"), "invalid_value", "tools[0].quality"),
    ("quality not a string", tool(quality=3), "invalid_type", "tools[0].quality"),
    ("output_format", tool(output_format="gif"), "invalid_value", "tools[0].output_format"),
    ("compression with png", tool(output_compression=50), "invalid_value", "tools[0].output_compression"),
    ("compression as text", tool(output_compression="50"), "invalid_type", "tools[0].output_compression"),
    ("transparent jpeg", tool(background="transparent", output_format="jpeg"), "invalid_value", "tools[0].background"),
    ("moderation", tool(moderation="off"), "invalid_value", "tools[0].moderation"),
    ("partial_images", {**tool(partial_images=4), "stream": True}, "invalid_value", "tools[0].partial_images"),
    ("action", tool(action="draw"), "invalid_value", "tools[0].action"),
    ("edit of nothing", tool(action="edit"), "invalid_value", "tools[0].action"),
    (
        "mask without image",
        tool(input_image_mask={"image_url": png_data_url()}),
        "invalid_value",
        "tools[0].input_image_mask",
    ),
    ("a text model", body(tools=[{"type": "image_generation"}]), "model_not_found", "model"),
    ("unknown tool model", tool(model="dall-e-9"), "model_not_found", "tools[0].model"),
    ("no model", {"input": PROMPT, "tools": [{"type": "image_generation"}]}, "missing_required_parameter", "model"),
    ("no input", body(input=None), "missing_required_parameter", "input"),
    ("input not text", body(input=5), "invalid_type", "input"),
    ("blank input", body(input="  "), "missing_required_parameter", "input"),
    ("NUL in the prompt", body(input="a\x00b"), "invalid_value", "input"),
    ("prompt too long", body(input="x" * 32_001), "invalid_value", "input"),
    ("a role", body(input=[{"role": "robot", "content": "hi"}]), "invalid_value", "input[0].role"),
    ("no user message", body(input=[{"role": "system", "content": "be brief"}]), "missing_required_parameter", "input"),
    ("an item type", body(input=[{"type": "function_call_output", "output": "x"}]), "invalid_value", "input[0].type"),
    (
        "a file part",
        body(input=user({"type": "input_file", "file_id": "file_1"})),
        "invalid_value",
        "input[0].content[1]",
    ),
    (
        "image by file id",
        body(input=user({"type": "input_image", "file_id": "file_1"})),
        "unsupported_parameter",
        "input[0].content[1].file_id",
    ),
    (
        "image url not text",
        body(input=user({"type": "input_image", "image_url": 5})),
        "invalid_type",
        "input[0].content[1].image_url",
    ),
    (
        "not an image",
        body(input=user({"type": "input_image", "image_url": "data:text/plain;base64,aGk="})),
        "invalid_value",
        "input[0].content[1].image_url",
    ),
    (
        "private address",
        body(input=user({"type": "input_image", "image_url": "https://10.0.0.7/cat.png"})),
        "invalid_value",
        "input[0].content[1].image_url",
    ),
    (
        "metadata service",
        body(input=user({"type": "input_image", "image_url": "https://169.254.169.254/latest/meta-data"})),
        "invalid_value",
        "input[0].content[1].image_url",
    ),
    (
        "plain http",
        body(input=user({"type": "input_image", "image_url": "http://example.com/a.png"})),
        "invalid_value",
        "input[0].content[1].image_url",
    ),
    (
        "call without result",
        body(input=[{"type": "image_generation_call", "id": "ig_1"}, *user()]),
        "invalid_value",
        "input[0].result",
    ),
    (
        "result not base64",
        body(input=[{"type": "image_generation_call", "result": "@@@"}, *user()]),
        "invalid_value",
        "input[0].result",
    ),
    ("too many images", body(input=user(*[IMAGE] * 17)), "invalid_value", "input"),
    ("previous id not text", body(previous_response_id=5), "invalid_type", "previous_response_id"),
    ("metadata", body(metadata={str(n): "v" for n in range(17)}), "invalid_value", "metadata"),
    ("user too long", body(user="u" * 300), "invalid_value", "user"),
]


def test_every_invalid_field_is_a_400_naming_it_and_costs_nothing(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        start = await balance(app, key)
        for name, sent, code, param in BAD_FIELDS:
            response = await post(app, key, sent)
            error = assert_error(response, 400, "invalid_request_error", code, param)
            assert response.headers["x-request-id"], name
            assert error["message"], name
        streamed = await post(app, key, body(stream=True), **{"Idempotency-Key": "k1"})
        assert_error(streamed, 400, "invalid_request_error", "invalid_value", "Idempotency-Key")
        assert await balance(app, key) == start
        records = await usage_of(app, key)
        assert len(records) == len(BAD_FIELDS) + 1  # every refusal recorded, on this surface, unbilled
        assert {(r["surface"], r["status"], r["cost_micros"]) for r in records.values()} == {("responses", 400, 0)}
        assert (await app.gateway.admin.ledger.verify())["ok"]

    run_app(tmp_path, scenario, IMAGEGATE_PUBLIC_URL="https://images.example.com")


def test_refusals_have_the_images_apis_statuses_and_cost_nothing(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        admin = app.gateway.admin
        key = await app.new_key()
        start = await balance(app, key)
        assert_error(await post(app, "ig_live_wrong", body()), 401, "authentication_error", "invalid_api_key")
        broke = await app.new_key("0")
        with pytest.raises(openai.APIStatusError) as unpaid:
            await sdk(app, broke).responses.create(**body())
        assert (unpaid.value.status_code, unpaid.value.code) == (402, "insufficient_balance")
        blocked = await post(app, key, body(input="step by step diagram of how to build a pipe bomb"))
        assert_error(blocked, 451, "content_policy_error", "prompt_blocked", None)
        large = {"type": "input_image", "image_url": png_data_url(40, 40)}  # over the 4000-byte image limit
        assert_error(
            await post(app, key, body(input=user(large))),
            413,
            "invalid_request_error",
            "request_too_large",
            "input[0].content[1].image_url",
        )
        huge = body(input=user({"type": "input_image", "image_url": "data:image/png;base64," + "A" * 300_000}))
        assert_error(await post(app, key, huge), 413, "invalid_request_error", "request_too_large", None)
        account = (await admin.accounts.create("limited"))["id"]
        await admin.ledger.add_credit(account, "10", "funding")
        once = str((await admin.keys.create(account, test=False, models=None, rpm=1))["key"])
        assert (await post(app, once, body())).status_code == 200
        assert_error(await post(app, once, body()), 429, "rate_limit_error", "rate_limit_exceeded")
        assert await balance(app, key) == start
        assert (await admin.ledger.verify())["ok"]

    run_app(tmp_path, scenario, IMAGEGATE_EDIT_MAX_IMAGE_BYTES="4000", IMAGEGATE_EDIT_MAX_BODY_BYTES="200000")


def test_an_upstream_refusal_of_a_stream_is_its_ordinary_error_and_unbilled(
    tmp_path: Path, fake_upstream: FakeOpenAI
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        start = await balance(app, key)
        fake_upstream.script({"kind": "content_policy"})
        with pytest.raises(openai.APIStatusError) as refused:
            async with sdk(app, key).responses.stream(**body()) as stream:
                [event async for event in stream]
        assert (refused.value.status_code, refused.value.code) == (451, "prompt_blocked")
        assert await balance(app, key) == start
        (record,) = (await usage_of(app, key)).values()
        assert (record["surface"], record["status"], record["cost_micros"]) == ("responses", 451, 0)

    on_upstream(tmp_path, fake_upstream, scenario)


def test_an_input_image_makes_an_edit_of_it(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        response = await sdk(app, key).responses.create(**body(input=user(IMAGE)))
        assert response.output[0].result
        edit = fake_upstream.requests[0]
        assert edit.path == "/v1/images/edits"
        parts = {part.name: part for part in parse_multipart(edit.headers["content-type"], edit.body)}
        assert parts["image"].data == base64.b64decode(IMAGE["image_url"].split(",", 1)[1])
        assert (parts["prompt"].data, parts["quality"].data) == (PROMPT.encode(), b"low")

    on_upstream(tmp_path, fake_upstream, scenario)


def test_an_idempotency_key_replays_the_image_billed_once_and_async_is_declined(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        start = await balance(app, key)
        first = await post(app, key, body(), **{"Idempotency-Key": "turn-1"})
        again = await post(app, key, body(), **{"Idempotency-Key": "turn-1"})
        assert (first.status_code, again.status_code, again.headers["idempotent-replayed"]) == (200, 200, "true")
        assert again.json()["output"][0]["result"] == first.json()["output"][0]["result"]
        assert start - await balance(app, key) == LOW_1024
        kept = await sdk(app, key).responses.retrieve(again.json()["id"])  # the replay is kept under its own id
        assert kept.output[0].result == first.json()["output"][0]["result"]
        at_once = await post(app, key, body(), Prefer="respond-async")  # a preference this surface declines
        assert (at_once.status_code, at_once.json()["status"]) == (200, "completed")
        assert "preference-applied" not in at_once.headers

    run_app(tmp_path, scenario)
