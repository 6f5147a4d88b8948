"""Webhooks against a running gateway: the operator sets a key's URL (admin API and CLI; the secret is
shown once), hostile URLs are refused, and the gateway's own delivery loop sends a finished job's
message, signed, to a loopback receiver; the account reads the record at GET /v1/webhooks/deliveries.

A real async job (`Prefer: respond-async` through the `openai` SDK) sends its signed message when it
completes or fails; other tests report a finished job through the seam the jobs worker calls
(`Webhooks.job_finished`), on the gateway's database, to pin the message's rules (one per job and status).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import standardwebhooks
from sqlalchemy import text

from imagegate.config import load_settings
from imagegate.db.wakeups import CHANNELS
from imagegate.service.webhooks.webhooks import Webhooks
from imagegate.wiring import open_database
from tests.conftest import ROOT, Account, Gateway, _clean_environ, serve_in_process
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_webhooks import FakeWebhookReceiver

ADMIN_TOKEN = "hooks-admin-token"
FAST = {
    "IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
    "IMAGEGATE_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
    "IMAGEGATE_WEBHOOK_RETRY_MAX_SECONDS": "0.2",
    "IMAGEGATE_WEBHOOK_POLL_SECONDS": "0.1",
    "IMAGEGATE_WEBHOOK_TIMEOUT_SECONDS": "3",
}


@pytest.fixture(scope="module")
def hooks_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, module_database_url: str | None
) -> Iterator[Gateway]:
    yield from serve_in_process(tmp_path_factory, "hooks", fake_openai, module_database_url, FAST)


@pytest.fixture(scope="module")
def public_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A node whose public URL is not loopback: webhooks may only go to public addresses."""
    yield from serve_in_process(
        tmp_path_factory, "hooks-public", None, extra_env={**FAST, "IMAGEGATE_PUBLIC_URL": "https://images.example.com"}
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver() as fake:
        yield fake


def admin(gw: Gateway, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    with gw.http() as http:
        return http.request(
            method, f"/admin/v1{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, **kwargs
        )


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def finish_job(gw: Gateway, account: Account, job: dict[str, Any]) -> None:
    """Report a finished job through the jobs worker's seam, on the gateway's database."""

    async def report() -> None:
        async with open_database(load_settings(gw.env)) as db:
            await Webhooks(db.webhooks).job_finished(account.id, account.key_id, job)
            if db.engine.dialect.name == "postgresql":  # as a node would: the gateway polls only every 30 s
                async with db.engine.begin() as conn:
                    await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNELS["webhooks"]})

    asyncio.run(report())


def deliveries(gw: Gateway, key: str, **params: str) -> httpx.Response:
    with gw.http() as http:
        return http.get("/v1/webhooks/deliveries", params=params, headers={"Authorization": f"Bearer {key}"})


def wait_for_status(gw: Gateway, key: str, count: int, status: str, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = ok(deliveries(gw, key, limit="100"))["data"]
        if len(found) >= count and all(m["status"] == status for m in found):
            return found  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"webhook messages did not become {status}: {found}"
        time.sleep(0.05)


def job(job_id: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "object": "image.job",
        "status": "completed",
        "created": int(time.time()) - 5,
        "completed_at": int(time.time()),
        "result": {"created": int(time.time()), "data": [{"url": "https://img.example/a.png"}]},
    }


# -- the operator's side


def test_admin_api_sets_shows_rotates_and_clears_a_webhook(
    hooks_gateway: Gateway, receiver: FakeWebhookReceiver
) -> None:
    account = hooks_gateway.new_account("1")
    first = ok(admin(hooks_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": receiver.url}))
    assert first["webhook_url"] == receiver.url and first["key_id"] == account.key_id
    assert first["secret"].startswith("whsec_")
    shown = admin(hooks_gateway, "GET", f"/keys/{account.key_id}")
    assert ok(shown)["webhook_url"] == receiver.url
    assert first["secret"] not in shown.text and "secret" not in ok(shown)
    listed = admin(hooks_gateway, "GET", f"/accounts/{account.id}/keys")
    assert [k["webhook_url"] for k in ok(listed)["data"]] == [receiver.url] and "whsec_" not in listed.text
    second = ok(admin(hooks_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": receiver.url + "/v2"}))
    assert second["secret"] != first["secret"], "setting the URL again rotates the secret"
    cleared = ok(admin(hooks_gateway, "DELETE", f"/keys/{account.key_id}/webhook"))
    assert cleared == {"key_id": account.key_id, "webhook_url": None}
    assert ok(admin(hooks_gateway, "GET", f"/keys/{account.key_id}"))["webhook_url"] is None
    missing = admin(hooks_gateway, "PUT", "/keys/key_nope/webhook", {"webhook_url": receiver.url})
    assert_error(missing, 404, "not_found_error", param="key_id")
    assert_error(
        admin(hooks_gateway, "PUT", f"/keys/{account.key_id}/webhook", {}),
        400,
        "invalid_request_error",
        "missing_required_parameter",
        "webhook_url",
    )


REFUSED_EVERYWHERE = {
    "plain-http": "http://hooks.example.com/in",
    "credentials": "https://user:pw@hooks.example.com/in",
    "token-only-credentials": "https://token@hooks.example.com/in",
    "nul": "https://hooks.example.com/\x00",
    "lone-surrogate": "https://hooks.example.com/\ud800",
    "too-long": "https://hooks.example.com/" + "a" * 2100,
    "fragment": "https://hooks.example.com/in#frag",
    "ftp": "ftp://hooks.example.com/in",
    "relative": "/in",
    "bad-port": "https://hooks.example.com:99999/in",
    "space": "https://hooks.example.com/a b",
}


@pytest.mark.parametrize("url", list(REFUSED_EVERYWHERE.values()), ids=list(REFUSED_EVERYWHERE))
def test_hostile_urls_are_refused_with_the_param(hooks_gateway: Gateway, url: str) -> None:
    account = hooks_gateway.new_account("0", test=True)
    body = json.dumps({"webhook_url": url}).encode()  # \ud800 travels as JSON's escape, as a client sends it
    with hooks_gateway.http() as http:
        response = http.put(
            f"/admin/v1/keys/{account.key_id}/webhook",
            content=body,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        )
    assert_error(response, 400, "invalid_request_error", "invalid_value", "webhook_url")
    assert ok(admin(hooks_gateway, "GET", f"/keys/{account.key_id}"))["webhook_url"] is None


def test_a_url_that_is_not_a_string_is_an_invalid_type(hooks_gateway: Gateway) -> None:
    account = hooks_gateway.new_account("0", test=True)
    response = admin(hooks_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": ["https://a.example"]})
    assert_error(response, 400, "invalid_request_error", "invalid_type", "webhook_url")


PRIVATE = {
    "loopback-v4": "https://127.0.0.1/in",
    "loopback-http": "http://127.0.0.1:9/in",
    "localhost": "https://localhost/in",
    "private-10": "https://10.1.2.3/in",
    "private-192": "https://192.168.0.10:8443/in",
    "metadata": "https://169.254.169.254/latest",
    "shared-cgnat": "https://100.64.0.1/in",
    "unspecified": "https://0.0.0.0/in",
    "loopback-v6": "https://[::1]/in",
    "link-local-v6": "https://[fe80::1]/in",
    "unique-local-v6": "https://[fd00::1]/in",
    "mapped-v4-loopback": "https://[::ffff:127.0.0.1]/in",
    "mapped-v4-private": "https://[::ffff:10.0.0.1]/in",
    "nat64-private": "https://[64:ff9b::a00:1]/in",
    "short-form-resolving-to-loopback": "https://127.1/in",
    "decimal-resolving-to-loopback": "https://2130706433/in",
    "hex-resolving-to-private": "https://0x0a000001/in",
}


@pytest.mark.parametrize("url", list(PRIVATE.values()), ids=list(PRIVATE))
def test_a_public_node_refuses_private_addresses(public_gateway: Gateway, url: str) -> None:
    account = public_gateway.new_account("0", test=True)
    response = admin(public_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": url})
    error = assert_error(response, 400, "invalid_request_error", "invalid_value", "webhook_url")
    assert "public gateway" in error["message"] or "resolve" in error["message"], error


def test_a_public_node_accepts_a_public_address_and_a_loopback_node_a_loopback_one(
    public_gateway: Gateway, hooks_gateway: Gateway
) -> None:
    account = public_gateway.new_account("0", test=True)
    ok(admin(public_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": "https://1.1.1.1/hooks"}))
    local = hooks_gateway.new_account("0", test=True)
    for url in ("http://127.0.0.1:9/in", "http://localhost:9/in", "http://[::1]:9/in", "https://10.1.2.3/in"):
        ok(admin(hooks_gateway, "PUT", f"/keys/{local.key_id}/webhook", {"webhook_url": url}))


def run_cli(gw: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegate", *args],
        env={**_clean_environ(), **gw.env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )


def test_the_cli_sets_shows_and_clears_a_webhook(hooks_gateway: Gateway, receiver: FakeWebhookReceiver) -> None:
    account = hooks_gateway.new_account("0", test=True)
    set_ = json.loads(hooks_gateway.cli("keys", "webhook", account.key_id, receiver.url, "--json"))
    assert set_["webhook_url"] == receiver.url and set_["secret"].startswith("whsec_")
    human = hooks_gateway.cli("keys", "webhook", account.key_id, receiver.url)
    assert "whsec_" in human and "only this once" in human
    shown = hooks_gateway.cli("keys", "show", account.key_id, "--json")
    assert json.loads(shown)["webhook_url"] == receiver.url and "whsec_" not in shown
    assert ok(admin(hooks_gateway, "GET", f"/keys/{account.key_id}")) == json.loads(shown)  # one code path
    cleared = json.loads(hooks_gateway.cli("keys", "webhook", account.key_id, "--clear", "--json"))
    assert cleared["webhook_url"] is None
    refused = run_cli(hooks_gateway, "keys", "webhook", account.key_id, "http://hooks.example.com/in", "--json")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert json.loads(refused.stderr)["error"]["param"] == "webhook_url"
    both = run_cli(hooks_gateway, "keys", "webhook", account.key_id, receiver.url, "--clear")
    assert both.returncode == 2 and "either a URL or --clear" in both.stderr


# -- delivery by the gateway process


def test_the_gateway_delivers_a_finished_job_signed_and_records_it(
    hooks_gateway: Gateway, receiver: FakeWebhookReceiver
) -> None:
    account = hooks_gateway.new_account("0", test=True)
    secret = ok(admin(hooks_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": receiver.url}))["secret"]
    before = len(receiver.received)
    receiver.script({"status": 500})
    finish_job(hooks_gateway, account, job("job_e2e_signed"))
    finish_job(hooks_gateway, account, job("job_e2e_signed"))  # reported twice: one message
    (message,) = wait_for_status(hooks_gateway, account.key, 1, "delivered")
    assert [(a["attempt"], a["status_code"]) for a in message["attempts"]] == [(1, 500), (2, 200)]
    assert message["type"] == "image.job.completed" and message["job_id"] == "job_e2e_signed"
    arrived = [r for r in receiver.received[before:] if r.headers.get("webhook-id") == message["id"]]
    assert [r.status for r in arrived] == [500, 200]
    payload = standardwebhooks.Webhook(secret).verify(arrived[-1].body, arrived[-1].headers)
    assert payload["data"]["id"] == "job_e2e_signed" and payload["type"] == "image.job.completed"
    # the operator sees it too; another account does not
    operator = ok(admin(hooks_gateway, "GET", "/webhooks/deliveries", params={"account_id": account.id}))
    assert [m["id"] for m in operator["data"]] == [message["id"]]
    stranger = hooks_gateway.new_account("0", test=True)
    assert ok(deliveries(hooks_gateway, stranger.key))["data"] == []
    cli = json.loads(hooks_gateway.cli("webhooks", "deliveries", "--account", account.id, "--json"))
    assert [m["id"] for m in cli["data"]] == [message["id"]]


def _submit_job(gw: Gateway, key: str, prompt: str) -> dict[str, Any]:
    raw = gw.client(key).images.with_raw_response.generate(
        model="gpt-image-2", prompt=prompt, quality="low", extra_headers={"Prefer": "respond-async"}
    )
    assert raw.http_response.status_code == 202, raw.http_response.text
    return json.loads(raw.http_response.content)  # type: ignore[no-any-return]


def test_a_real_job_sends_its_signed_result_and_a_failed_one_its_error(
    hooks_gateway: Gateway, receiver: FakeWebhookReceiver, fake_openai: FakeOpenAI
) -> None:
    account = hooks_gateway.new_account("1")
    secret = ok(admin(hooks_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": receiver.url}))["secret"]
    before = len(receiver.received)
    receiver.script({"status": 503})  # the receiver is down once: the message is sent again

    queued = _submit_job(hooks_gateway, account.key, "a kingfisher on a branch")
    (message,) = wait_for_status(hooks_gateway, account.key, 1, "delivered", timeout=30)
    polled = hooks_gateway.client(account.key).get(f"/images/jobs/{queued['id']}", cast_to=httpx.Response).json()
    assert polled["status"] == "completed"
    arrived = [r for r in receiver.received[before:] if r.headers.get("webhook-id") == message["id"]]
    assert [r.status for r in arrived] == [503, 200]
    payload = standardwebhooks.Webhook(secret).verify(arrived[-1].body, arrived[-1].headers)
    assert payload["type"] == "image.job.completed" and payload["data"] == polled  # the job as polled
    assert payload["data"]["result"]["billing"]["amount_micros"] > 0
    with hooks_gateway.http() as http:  # the signed URL in the webhook downloads
        assert http.get(payload["data"]["result"]["data"][0]["url"]).status_code == 200

    fake_openai.script({"kind": "bad_param", "param": "prompt", "message": "refused upstream"})
    failed = _submit_job(hooks_gateway, account.key, "a heron at dusk")
    messages = wait_for_status(hooks_gateway, account.key, 2, "delivered", timeout=30)
    last = next(r for r in receiver.received if r.headers.get("webhook-id") == messages[0]["id"])
    payload = standardwebhooks.Webhook(secret).verify(last.body, last.headers)
    assert payload["type"] == "image.job.failed" and payload["data"]["id"] == failed["id"]
    assert payload["data"]["error"]["code"] and "result" not in payload["data"]
    charged = polled["result"]["billing"]["amount_micros"]
    assert hooks_gateway.balance(account.id) == (1_000_000 - charged, 0)  # the failure is unbilled, nothing held


def test_deliveries_are_paginated_and_bounded(hooks_gateway: Gateway, receiver: FakeWebhookReceiver) -> None:
    account = hooks_gateway.new_account("0", test=True)
    ok(admin(hooks_gateway, "PUT", f"/keys/{account.key_id}/webhook", {"webhook_url": receiver.url}))
    for index in range(3):
        finish_job(hooks_gateway, account, job(f"job_page_{index}"))
    wait_for_status(hooks_gateway, account.key, 3, "delivered")
    first = ok(deliveries(hooks_gateway, account.key, limit="2"))
    assert len(first["data"]) == 2 and first["has_more"] is True
    rest = ok(deliveries(hooks_gateway, account.key, limit="2", after=first["last_id"]))
    assert len(rest["data"]) == 1 and rest["has_more"] is False
    seen = {m["job_id"] for m in first["data"] + rest["data"]}
    assert seen == {f"job_page_{i}" for i in range(3)}
    for bad in ("0", "101", "-1", "x", "\u00b2"):  # "²".isdigit() is true: it used to be a 500
        assert_error(deliveries(hooks_gateway, account.key, limit=bad), 400, "invalid_request_error", param="limit")
    with hooks_gateway.http() as http:
        assert http.get("/v1/webhooks/deliveries").status_code == 401
