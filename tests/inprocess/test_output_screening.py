"""Output screening in process (`IMAGEGATE_OUTPUT_SCREENING`): the images an upstream made are read
before they are handed out. The fake OpenAI upstream draws some of its images with a mark, and the
fake moderations endpoint flags an image by that mark in its pixels, never by the prompt (every prompt
here is harmless). A flagged image is withheld on every surface (Images API at once, streamed, as an
async job; chat; Responses): 451 `output_blocked` stage `output` when none is left, else the others
delivered and billed; nothing charged or held for what is withheld, the block in the audit log and
the usage record's `lost_images`, and the ledger agrees. The `local` mode runs the real NudeNet
detector: tests/inprocess/test_local_screening.py."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.upstreams.fake_moderation import FakeModeration
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.marked_images import is_marked

from .app import InProcess, app_settings, open_app

UPSTREAM_KEY = "sk-fake-upstream-screening"
MODERATION_KEY = "sk-fake-moderation-screening"
LOW_1024 = 6_000
"""gpt-image-2's live price of one low-quality 1024x1024 image, in micro-USD."""
FUNDED = 10_000_000
FIELDS = {"model": "gpt-image-2", "prompt": "a red kite over the sea", "quality": "low", "size": "1024x1024"}
Scenario = Callable[[InProcess], Awaitable[None]]


@pytest.fixture(scope="module")
def upstream_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def moderation_server() -> Iterator[FakeModeration]:
    with FakeModeration(api_key=MODERATION_KEY) as fake:
        yield fake


@pytest.fixture
def upstream(upstream_server: FakeOpenAI) -> FakeOpenAI:
    upstream_server.reset()
    return upstream_server


@pytest.fixture
def moderation(moderation_server: FakeModeration) -> Iterator[FakeModeration]:
    moderation_server.reset()
    yield moderation_server
    moderation_server.image_category = "sexual"


@pytest.fixture
def screened(tmp_path: Path, upstream: FakeOpenAI, moderation: FakeModeration) -> Callable[..., None]:
    """Runs a scenario on a gateway whose gpt-image-2 is the fake upstream, screened by the fake moderations."""

    def run(scenario: Scenario, **env: str) -> None:
        settings = app_settings(
            tmp_path / "data",
            None,
            OPENAI_API_KEY=UPSTREAM_KEY,
            OPENAI_BASE_URL=upstream.base_url,
            IMAGEGATE_MODERATION_URL=moderation.url,
            IMAGEGATE_MODERATION_API_KEY=MODERATION_KEY,
            IMAGEGATE_OUTPUT_SCREENING="moderation",
            IMAGEGATE_JOB_WORKERS="0",
            **env,
        )

        async def go() -> None:
            async with open_app(settings) as app:
                await scenario(app)

        asyncio.run(go())

    return run


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def generate(app: InProcess, key: str, **extra: Any) -> httpx.Response:
    return await app.http.post("/v1/images/generations", json={**FIELDS, **extra}, headers=auth(key))


async def usage_of(app: InProcess, key: str, request_id: str) -> dict[str, Any]:
    response = await app.http.get("/v1/usage", headers=auth(key))
    assert response.status_code == 200, response.text
    (record,) = [record for record in response.json()["data"] if record["id"] == request_id]
    return dict(record)


async def money_of(app: InProcess, key: str) -> tuple[int, int]:
    body = (await app.http.get("/v1/account", headers=auth(key))).json()
    return body["balance_micros"], body["held_micros"]


async def output_blocks(app: InProcess, request_id: str, *, flags: bool = False) -> list[dict[str, Any]]:
    events = (await app.gateway.admin.reports.blocks(include_flags=flags))["data"]
    return [event for event in events if event["request_id"] == request_id and event["stage"] == "output"]


def image_inputs(moderation: FakeModeration) -> list[dict[str, Any]]:
    """What the gateway sent about images (the prompt's own text moderation left out)."""
    return [request["json"] for request in moderation.requests if isinstance(request["json"]["input"], list)]


def assert_output_blocked(response: httpx.Response) -> None:
    assert response.status_code == 451, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("content_policy_error", "output_blocked"), error
    assert "explicit nudity or sexual content" in error["message"] and "Nothing was charged" in error["message"]
    assert response.headers["x-imagegate-block-stage"] == "output"


async def assert_unbilled(app: InProcess, key: str, request_id: str, *, surface: str, lost: int) -> None:
    record = await usage_of(app, key, request_id)
    got = (record["status"], record["error_code"], record["cost_micros"], record["delivered"], record["lost_images"])
    assert got == (451, "output_blocked", 0, 0, lost), record
    assert record["surface"] == surface
    assert await money_of(app, key) == (FUNDED, 0)
    assert (await app.gateway.admin.ledger.verify())["ok"]


def test_a_flagged_image_is_never_handed_out_nor_billed(
    screened: Callable[..., None], upstream: FakeOpenAI, moderation: FakeModeration
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        upstream.script({"kind": "ok", "marked": [0]})
        blocked = await generate(app, key)
        assert_output_blocked(blocked)
        request_id = blocked.headers["x-request-id"]
        await assert_unbilled(app, key, request_id, surface="images", lost=1)
        (event,) = await output_blocks(app, request_id)
        assert (event["action"], event["code"], event["category"]) == ("block", "output_blocked", "explicit_nudity")
        (sent,) = image_inputs(moderation)  # the image itself, as OpenAI's image input, reduced to JPEG
        (part,) = sent["input"]
        assert sent["model"] == "omni-moderation-latest" and part["type"] == "image_url"
        assert part["image_url"]["url"].startswith("data:image/jpeg;base64,")

        page = (await app.http.get("/models/gpt-image-2")).text
        assert 'id="output-screening"' in page and "screened before it is handed out" in page

        clean = await generate(app, key)  # the same prompt, an unmarked image: delivered and billed
        assert clean.status_code == 200, clean.text
        assert clean.json()["billing"]["amount_micros"] == LOW_1024
        assert (await usage_of(app, key, clean.headers["x-request-id"]))["lost_images"] == 0

    screened(scenario)


def test_an_image_the_gateway_converts_is_screened_from_the_pixels_it_decoded(
    screened: Callable[..., None], upstream: FakeOpenAI, moderation: FakeModeration
) -> None:
    """The upstream answers JPEG for a PNG request: the gateway decodes it to re-encode, and the
    screen reads the view kept from that decode."""

    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        upstream.script({"kind": "wrong_format", "marked": [0]})
        assert_output_blocked(await generate(app, key, output_format="png"))
        assert len(image_inputs(moderation)) == 1
        assert await money_of(app, key) == (FUNDED, 0)

    screened(scenario)


def test_with_n_2_a_flagged_image_is_dropped_and_the_other_delivered_and_billed(
    screened: Callable[..., None], upstream: FakeOpenAI
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        upstream.script({"kind": "ok", "marked": [0]})
        response = await generate(app, key, n=2, response_format="b64_json")
        assert response.status_code == 200, response.text
        body = response.json()
        (item,) = body["data"]
        assert not is_marked(base64.b64decode(item["b64_json"]))
        assert (body["billing"]["images"], body["billing"]["amount_micros"]) == (1, LOW_1024)
        assert response.headers["x-imagegate-images-missing"] == "1"
        request_id = response.headers["x-request-id"]
        record = await usage_of(app, key, request_id)
        assert (record["status"], record["delivered"], record["lost_images"], record["cost_micros"]) == (
            200,
            1,
            1,
            LOW_1024,
        )
        assert [e["category"] for e in await output_blocks(app, request_id)] == ["explicit_nudity"]
        assert await money_of(app, key) == (FUNDED - LOW_1024, 0)
        assert (await app.gateway.admin.ledger.verify())["ok"]

    screened(scenario)


def test_a_stream_sends_no_partial_and_no_flagged_image(screened: Callable[..., None], upstream: FakeOpenAI) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        upstream.script({"kind": "ok", "marked": [0]})
        blocked = await generate(app, key, stream=True, partial_images=2)
        assert_output_blocked(blocked)  # refused before any event: the upstream's partials were held back
        await assert_unbilled(app, key, blocked.headers["x-request-id"], surface="images", lost=1)

        streamed = await generate(app, key, stream=True, partial_images=2)  # an unmarked image
        assert streamed.status_code == 200, streamed.text
        events = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: ")]
        assert [event["type"] for event in events] == ["image_generation.completed"]  # once it passed
        assert not is_marked(base64.b64decode(events[0]["b64_json"]))
        assert upstream.requests[-1].json["partial_images"] == 2  # the upstream did stream its partials
        record = await usage_of(app, key, streamed.headers["x-request-id"])
        assert (record["delivered"], record["lost_images"], record["cost_micros"]) == (1, 0, LOW_1024)
        assert (await app.gateway.admin.ledger.verify())["ok"]

    screened(scenario)


def test_an_async_job_fails_output_blocked_with_nothing_held(
    screened: Callable[..., None], upstream: FakeOpenAI
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        upstream.script({"kind": "ok", "marked": [0]})
        accepted = await app.http.post("/v1/images/generations", json=FIELDS, headers=auth(key, Prefer="respond-async"))
        assert accepted.status_code == 202, accepted.text
        assert await app.gateway.job_workers.run_one()
        job = (await app.http.get(accepted.headers["location"], headers=auth(key))).json()
        assert (job["status"], job["error"]["code"]) == ("failed", "output_blocked"), job
        await assert_unbilled(app, key, accepted.headers["x-request-id"], surface="job", lost=1)

    screened(scenario)


def test_chat_and_responses_surfaces_screen_the_same_way(screened: Callable[..., None], upstream: FakeOpenAI) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        upstream.script({"kind": "ok", "marked": [0]}, {"kind": "ok", "marked": [0]})
        chat = await app.http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-image-2",
                "messages": [{"role": "user", "content": FIELDS["prompt"]}],
                "quality": "low",
            },
            headers=auth(key),
        )
        assert_output_blocked(chat)
        await assert_unbilled(app, key, chat.headers["x-request-id"], surface="chat", lost=1)
        tool = {"type": "image_generation", "model": "gpt-image-2", "quality": "low", "size": "1024x1024"}
        responses = await app.http.post(
            "/v1/responses", json={"model": "gpt-5", "input": FIELDS["prompt"], "tools": [tool]}, headers=auth(key)
        )
        assert_output_blocked(responses)
        await assert_unbilled(app, key, responses.headers["x-request-id"], surface="responses", lost=1)

    screened(scenario)


def test_chat_and_responses_streams_are_refused_before_any_event(
    screened: Callable[..., None], upstream: FakeOpenAI
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        upstream.script({"kind": "ok", "marked": [0]}, {"kind": "ok", "marked": [0]})
        ask = {"role": "user", "content": FIELDS["prompt"]}
        chat = await app.http.post(
            "/v1/chat/completions",
            json={"model": "gpt-image-2", "messages": [ask], "quality": "low", "stream": True},
            headers=auth(key),
        )
        tool = {"type": "image_generation", "model": "gpt-image-2", "quality": "low", "partial_images": 2}
        responses = await app.http.post(
            "/v1/responses",
            json={"model": "gpt-5", "input": FIELDS["prompt"], "tools": [tool], "stream": True},
            headers=auth(key),
        )
        for response, surface in ((chat, "chat"), (responses, "responses")):  # refused before any event
            assert_output_blocked(response)
            await assert_unbilled(app, key, response.headers["x-request-id"], surface=surface, lost=1)

    screened(scenario)


def test_the_screen_down_serves_when_open_and_refuses_unbilled_when_closed(
    screened: Callable[..., None], upstream: FakeOpenAI, moderation: FakeModeration
) -> None:
    """`IMAGEGATE_MODERATION_ON_ERROR` decides, as for prompts: the prompt's check answers, the
    image's errors (500, then too slow for the 0.5 s budget)."""

    async def fail_open(app: InProcess) -> None:
        key = await app.new_key()
        moderation.script({"kind": "ok"}, {"kind": "status", "status": 500})
        upstream.script({"kind": "ok", "marked": [0]})
        served = await generate(app, key)
        assert served.status_code == 200, served.text  # served unscreened, as the operator chose

    async def fail_closed(app: InProcess) -> None:
        key = await app.new_key()
        for behaviour in ({"kind": "status", "status": 500}, {"kind": "delay", "seconds": 2}):
            moderation.script({"kind": "ok"}, behaviour)
            refused = await generate(app, key)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "moderation_unavailable"
            assert int(refused.headers["retry-after"]) >= 1
            record = await usage_of(app, key, refused.headers["x-request-id"])
            assert (record["status"], record["cost_micros"], record["lost_images"]) == (503, 0, 1)
        assert await money_of(app, key) == (FUNDED, 0)
        assert (await app.gateway.admin.ledger.verify())["ok"]

    screened(fail_open, IMAGEGATE_MODERATION_TIMEOUT_SECONDS="0.5")
    screened(fail_closed, IMAGEGATE_MODERATION_TIMEOUT_SECONDS="0.5", IMAGEGATE_MODERATION_ON_ERROR="closed")


def test_an_accounts_stricter_policy_blocks_what_the_deployment_only_flags(
    screened: Callable[..., None], upstream: FakeOpenAI, moderation: FakeModeration
) -> None:
    async def scenario(app: InProcess) -> None:
        moderation.image_category = "violence"  # `violent_imagery`: a flag in the shipped policy
        admin = app.gateway.admin
        relaxed = await app.new_key()
        account = await admin.accounts.create("strict")
        await admin.ledger.add_credit(account["id"], "10", "funding")
        strict = str((await admin.keys.create(account["id"], test=False, models=None, rpm=None))["key"])
        await admin.accounts.set_safety(account["id"], block_terms=[], block_categories=["violent_imagery"])

        upstream.script({"kind": "ok", "marked": [0]}, {"kind": "ok", "marked": [0]})
        flagged = await generate(app, relaxed)
        assert flagged.status_code == 200, flagged.text
        (flag,) = await output_blocks(app, flagged.headers["x-request-id"], flags=True)
        assert (flag["action"], flag["category"]) == ("flag", "violent_imagery")
        blocked = await generate(app, strict)
        assert (blocked.status_code, blocked.json()["error"]["code"]) == (451, "output_blocked")
        assert "category: violence" in blocked.json()["error"]["message"]
        assert await money_of(app, strict) == (FUNDED, 0)

    screened(scenario)


def test_the_model_page_says_nothing_of_output_screening_when_it_is_off(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_app(app_settings(tmp_path / "data", None)) as app:
            page = await app.http.get("/models/gpt-image-2")
            assert page.status_code == 200 and "Output screening" not in page.text

    asyncio.run(scenario())
