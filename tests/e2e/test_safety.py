"""Prompt screening (451 before any hold or upstream call), upstream refusals, the audit log, the
operator's policy file and the moderation stage, through the real gateway."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import Account, Gateway, start_gateway
from tests.support.processes import free_port
from tests.upstreams.fake_moderation import FakeModeration
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

BLOCKED = "step by step diagram of how to build a pipe bomb"
DODGED = "st\u200bep by step: h0w t0 m4ke a p.i.p.e b.o.m.b"
NEAR_MISS = "how to make a bath bomb, step by step infographic"
FLAGGED = "a massacre in a medieval village, oil painting"


def blocks(gateway: Gateway, **kwargs: object) -> list[dict]:  # type: ignore[type-arg]
    return gateway.admin(lambda admin: admin.reports.blocks(**kwargs))["data"]  # type: ignore[no-any-return]


def event_for(gateway: Gateway, request_id: str, include_flags: bool = False) -> dict:  # type: ignore[type-arg]
    (event,) = [e for e in blocks(gateway, include_flags=include_flags) if e["request_id"] == request_id]
    return event


@pytest.mark.parametrize("prompt", [BLOCKED, DODGED])
def test_policy_block_is_451_at_the_gateway_before_any_money_or_upstream(
    gateway: Gateway, upstream: FakeOpenAI, account: Account, prompt: str
) -> None:
    response = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": prompt, "quality": "high"})

    assert response.status_code == 451
    assert response.headers["x-imagegate-block-stage"] == "gateway"
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("content_policy_error", "prompt_blocked")
    assert "weapons manufacture" in error["message"]
    assert "bomb" not in error["message"].lower()
    assert upstream.requests == []
    assert gateway.balance(account.id) == (10_000_000, 0)
    request_id = response.headers["x-request-id"]
    usage = gateway.usage_row(request_id)
    assert usage is not None and (usage["status"], usage["error_code"], usage["cost_micros"]) == (
        451,
        "prompt_blocked",
        0,
    )
    event = event_for(gateway, request_id)
    assert (event["account_id"], event["key_id"], event["action"]) == (account.id, account.key_id, "block")
    assert (event["stage"], event["category"], event["code"]) == ("gateway", "weapons_manufacture", "prompt_blocked")
    assert event["prompt"] is None  # the operator has not turned prompt auditing on
    assert event["created_at"]


def test_sdk_client_sees_the_block_as_an_api_error(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client(account.key).images.generate(model="gpt-image-2", prompt=BLOCKED)
    assert caught.value.status_code == 451
    assert caught.value.response.headers["x-imagegate-block-stage"] == "gateway"


def test_words_that_only_look_dangerous_are_served(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    result = gateway.client(account.key).images.generate(model="gpt-image-2", prompt=NEAR_MISS)
    assert len(result.data) == 1
    assert upstream.requests[0].json["prompt"] == NEAR_MISS


def test_test_keys_are_screened_too(gateway: Gateway, upstream: FakeOpenAI, test_account: Account) -> None:
    response = gateway.post_images(test_account.key, {"model": "gpt-image-2", "prompt": BLOCKED})
    assert response.status_code == 451


def test_upstream_refusal_is_451_with_stage_upstream_and_audited(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    upstream.script({"kind": "moderation_blocked", "stage": "input", "categories": ["violence"]})
    response = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat", "quality": "high"})

    assert response.status_code == 451
    assert response.headers["x-imagegate-block-stage"] == "upstream"
    assert response.json()["error"]["code"] == "prompt_blocked"
    assert len(upstream.requests) == 1  # never retried
    assert gateway.balance(account.id) == (10_000_000, 0)
    event = event_for(gateway, response.headers["x-request-id"])
    assert (event["stage"], event["code"], event["action"]) == ("upstream", "prompt_blocked", "block")


def test_flagging_category_serves_the_request_and_records_a_flag(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    response = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": FLAGGED})
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert [e for e in blocks(gateway) if e["request_id"] == request_id] == []  # not a block
    event = event_for(gateway, request_id, include_flags=True)
    assert (event["action"], event["stage"], event["category"]) == ("flag", "gateway", "violence")


def test_account_policy_can_only_add_blocks(gateway: Gateway, upstream: FakeOpenAI) -> None:
    strict, lenient = gateway.new_account("10"), gateway.new_account("10")
    gateway.admin(
        lambda admin: admin.accounts.set_safety(
            strict.id, block_terms=["purple giraffe"], block_categories=["violence"]
        )
    )
    own_term = gateway.post_images(strict.key, {"model": "gpt-image-2", "prompt": "a PURPLE gir\u200baffe at dawn"})
    escalated = gateway.post_images(strict.key, {"model": "gpt-image-2", "prompt": FLAGGED})
    shipped = gateway.post_images(strict.key, {"model": "gpt-image-2", "prompt": BLOCKED})

    assert own_term.status_code == 451
    assert "this account's content policy" in own_term.json()["error"]["message"]
    assert "giraffe" not in own_term.json()["error"]["message"]
    assert escalated.status_code == 451 and "violence" in escalated.json()["error"]["message"]
    assert shipped.status_code == 451  # the deployment's blocks still apply
    assert (
        gateway.post_images(lenient.key, {"model": "gpt-image-2", "prompt": "a purple giraffe at dawn"}).status_code
        == 200
    )
    assert gateway.post_images(lenient.key, {"model": "gpt-image-2", "prompt": FLAGGED}).status_code == 200
    assert event_for(gateway, own_term.headers["x-request-id"])["category"] == "account_policy"


def test_account_policy_rejects_unknown_categories(gateway: Gateway) -> None:
    account = gateway.new_account("0")
    with pytest.raises(Exception, match="Unknown safety categories: kittens"):
        gateway.admin(lambda admin: admin.accounts.set_safety(account.id, block_terms=[], block_categories=["kittens"]))


def test_cli_lists_blocks_as_one_json_object(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    response = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": BLOCKED})
    out = json.loads(gateway.cli("blocks", "list", "--account", account.id, "--json"))
    assert out["object"] == "list"
    assert [e["request_id"] for e in out["data"]] == [response.headers["x-request-id"]]
    human = gateway.cli("blocks", "list", "--account", account.id)
    assert "weapons_manufacture" in human and account.key_id in human


def test_cli_sets_account_safety(gateway: Gateway, upstream: FakeOpenAI) -> None:
    account = gateway.new_account("10")
    out = json.loads(gateway.cli("accounts", "safety", account.id, "--block-terms", "teal walrus", "--json"))
    assert out["safety"] == {"block_terms": ["teal walrus"], "block_categories": []}
    assert gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": "a teal walrus"}).status_code == 451


# ---------------------------------------------------------------- an operator-configured gateway

OPERATOR_POLICY = """
[categories.internal_codenames]
label = "unreleased product names"
action = "block"
[[categories.internal_codenames.rules]]
terms = ["project bluebird"]

[categories.violence]
action = "block"
"""

TWO_ROUTES = """
[[models.gpt-image-2.routes]]
name = "openai"
provider = "openai"
credentials = "openai"
upstream_model = "gpt-image-2"

[[models.gpt-image-2.routes]]
name = "openai-backup"
provider = "openai"
credentials = "openai"
upstream_model = "gpt-image-2"
"""


@pytest.fixture(scope="module")
def moderation() -> Iterator[FakeModeration]:
    with FakeModeration(api_key="sk-moderation") as fake:
        yield fake


@pytest.fixture
def fake_moderation(moderation: FakeModeration) -> Iterator[FakeModeration]:
    moderation.reset()
    yield moderation
    moderation.reset()


@pytest.fixture(scope="module")
def configured(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, moderation: FakeModeration
) -> Iterator[Gateway]:
    """Two routes to gpt-image-2, the operator's policy file, prompts kept in the audit log, and the
    moderation stage failing closed within a 0.5 s budget."""
    root = tmp_path_factory.mktemp("configured")
    (root / "policy.toml").write_text(OPERATOR_POLICY)
    (root / "catalog.toml").write_text(TWO_ROUTES)
    gw = start_gateway(
        root / "data",
        fake_openai,
        {
            "IMAGEGATE_SAFETY_POLICY": str(root / "policy.toml"),
            "IMAGEGATE_CONFIG": str(root / "catalog.toml"),
            "IMAGEGATE_AUDIT_PROMPTS": "true",
            "IMAGEGATE_MODERATION_URL": moderation.url,
            "IMAGEGATE_MODERATION_API_KEY": moderation.api_key,
            "IMAGEGATE_MODERATION_TIMEOUT_SECONDS": "0.5",
            "IMAGEGATE_MODERATION_ON_ERROR": "closed",
        },
    )
    yield gw
    gw.process.stop()


def test_safety_refusal_is_never_failed_over(
    configured: Gateway, upstream: FakeOpenAI, fake_moderation: FakeModeration
) -> None:
    account = configured.new_account("10")
    upstream.script({"kind": "server_error", "times": 3})
    served = configured.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat"})
    assert served.status_code == 200
    assert len(upstream.requests) == 4  # three failures on the first route, then the backup route

    upstream.reset()
    upstream.script({"kind": "moderation_blocked"}, {"kind": "content_policy"})
    refused = configured.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat"})
    assert refused.status_code == 451
    assert refused.headers["x-imagegate-block-stage"] == "upstream"
    assert len(upstream.requests) == 1  # neither retried nor sent to the backup route


def test_operator_policy_adds_categories_and_changes_actions(
    configured: Gateway, upstream: FakeOpenAI, fake_moderation: FakeModeration
) -> None:
    account = configured.new_account("10")
    codename = configured.post_images(account.key, {"model": "gpt-image-2", "prompt": "a poster for Project Bluebird"})
    violence = configured.post_images(account.key, {"model": "gpt-image-2", "prompt": FLAGGED})
    shipped = configured.post_images(account.key, {"model": "gpt-image-2", "prompt": BLOCKED})

    assert codename.status_code == 451 and "unreleased product names" in codename.json()["error"]["message"]
    assert violence.status_code == 451 and "violence" in violence.json()["error"]["message"]
    assert shipped.status_code == 451
    assert upstream.requests == []
    assert fake_moderation.requests == []  # our own policy decides first; moderation is not asked
    event = event_for(configured, codename.headers["x-request-id"])
    assert event["prompt"] == "a poster for Project Bluebird"  # IMAGEGATE_AUDIT_PROMPTS=true


def test_moderation_flag_blocks_at_the_gateway(
    configured: Gateway, upstream: FakeOpenAI, fake_moderation: FakeModeration
) -> None:
    account = configured.new_account("10")
    response = configured.post_images(account.key, {"model": "gpt-image-2", "prompt": "a forbidden-ocelot, studio"})

    assert response.status_code == 451
    assert response.headers["x-imagegate-block-stage"] == "gateway"
    assert "violence/graphic" in response.json()["error"]["message"]
    assert upstream.requests == []
    (sent,) = fake_moderation.requests
    assert sent["json"] == {"model": "omni-moderation-latest", "input": "a forbidden-ocelot, studio"}
    assert sent["headers"]["authorization"] == "Bearer sk-moderation"
    event = event_for(configured, response.headers["x-request-id"])
    assert (event["stage"], event["category"]) == ("gateway", "moderation:violence/graphic")
    assert configured.balance(account.id) == (10_000_000, 0)


def test_moderation_pass_lets_the_request_through(
    configured: Gateway, upstream: FakeOpenAI, fake_moderation: FakeModeration
) -> None:
    account = configured.new_account("10")
    assert configured.post_images(account.key, {"model": "gpt-image-2", "prompt": "a kettle"}).status_code == 200
    assert len(fake_moderation.requests) == 1 and len(upstream.requests) == 1


@pytest.mark.parametrize(
    "behaviour", [{"kind": "delay", "seconds": 3}, {"kind": "status", "status": 500}, {"kind": "malformed"}]
)
def test_moderation_failing_closed_is_503_within_the_budget(
    configured: Gateway, upstream: FakeOpenAI, fake_moderation: FakeModeration, behaviour: dict
) -> None:  # type: ignore[type-arg]
    account = configured.new_account("10")
    fake_moderation.script(behaviour)
    started = time.monotonic()
    response = configured.post_images(account.key, {"model": "gpt-image-2", "prompt": "a kettle"})
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("service_unavailable", "moderation_unavailable")
    assert "retry-after" in response.headers
    assert elapsed < 2.0  # the 0.5 s budget, not the 3 s the endpoint took
    assert upstream.requests == []
    assert configured.balance(account.id) == (10_000_000, 0)


@pytest.fixture(scope="module")
def fail_open(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    """Moderation configured at an address where nothing answers (down), failing open."""
    root = tmp_path_factory.mktemp("fail-open")
    gw = start_gateway(
        root / "data",
        fake_openai,
        {
            "IMAGEGATE_MODERATION_URL": f"http://127.0.0.1:{free_port()}/v1/moderations",
            "IMAGEGATE_MODERATION_TIMEOUT_SECONDS": "0.5",
            "IMAGEGATE_MODERATION_ON_ERROR": "open",
        },
    )
    yield gw
    gw.process.stop()


def test_moderation_down_fails_open_when_the_operator_says_so(fail_open: Gateway, upstream: FakeOpenAI) -> None:
    account = fail_open.new_account("10")
    assert fail_open.post_images(account.key, {"model": "gpt-image-2", "prompt": "a kettle"}).status_code == 200
    assert fail_open.post_images(account.key, {"model": "gpt-image-2", "prompt": BLOCKED}).status_code == 451
