"""Webhooks of finished async jobs, in process: the `job_finished` seam on the real repositories, the
delivery loop with its real HTTP client, and a loopback receiver that records what arrives.

Signatures are checked with the `standardwebhooks` package and with a few lines written from the
spec (not imported from imagegate). Retries run on a 50 ms base so that a test takes a second.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from imagegate.config import Settings, load_settings
from imagegate.domain.ports import WebhookUnreachable
from imagegate.domain.principal import Principal
from imagegate.providers.webhook_sender import WebhookSender
from imagegate.service.operator.admin import AdminService
from imagegate.service.webhooks.delivery import NO_ANSWER, URL_REFUSED, WebhookDelivery
from imagegate.service.webhooks.webhooks import Webhooks
from imagegate.wiring import admin_service, open_database, webhook_delivery, webhook_sender
from tests.support.processes import free_port
from tests.upstreams.fake_webhooks import FakeWebhookReceiver, Received

FAST = {
    "IMAGEGATE_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
    "IMAGEGATE_WEBHOOK_RETRY_MAX_SECONDS": "0.2",
    "IMAGEGATE_WEBHOOK_RETRY_WINDOW_SECONDS": "60",
    "IMAGEGATE_WEBHOOK_TIMEOUT_SECONDS": "3",
    "IMAGEGATE_WEBHOOK_POLL_SECONDS": "0.05",
}


@dataclass
class Node:
    """One gateway node's webhook parts, assembled by `imagegate.wiring` as a serving node's are."""

    settings: Settings
    admin: AdminService
    events: Webhooks
    delivery: WebhookDelivery


@asynccontextmanager
async def open_node(data_dir: Path, database_url: str, **env: str) -> AsyncIterator[Node]:
    settings = load_settings(
        {
            "IMAGEGATE_DATA_DIR": str(data_dir),
            "IMAGEGATE_DATABASE_URL": database_url,
            "IMAGEGATE_SIGNING_SECRET": "webhook-test-secret",
            **FAST,
            **env,
        }
    )
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(open_database(settings))
        sender = webhook_sender(settings)
        stack.push_async_callback(sender.aclose)
        delivery = webhook_delivery(settings, db.webhooks, sender)
        yield Node(settings, admin_service(settings, db, sender), Webhooks(db.webhooks, wake=delivery.wake), delivery)


@pytest.fixture
def receiver() -> Any:
    with FakeWebhookReceiver() as fake:
        yield fake


def run(scenario: Awaitable[None]) -> None:
    asyncio.run(scenario)  # type: ignore[arg-type]


async def keyed(node: Node, url: str | None) -> tuple[str, str, str | None]:
    """A new account and key, with its webhook at `url`: (account id, key id, secret)."""
    account = await node.admin.accounts.create("hooks")
    key = await node.admin.keys.create(account["id"], test=True, models=None, rpm=None)
    secret = (await node.admin.webhooks.set_url(key["id"], url))["secret"] if url else None
    return account["id"], key["id"], secret


def job(job_id: str, status: str = "completed") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job_id,
        "object": "image.job",
        "status": status,
        "created": 1_790_000_000,
        "completed_at": 1_790_000_012,
    }
    if status == "completed":
        body["result"] = {"created": 1_790_000_012, "data": [{"url": "https://img.example/x.png"}]}
    else:
        body["error"] = {
            "message": "upstream failed",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_failed",
        }
    return body


async def until(node: Node, done: Callable[[], Awaitable[bool]], timeout: float = 15, *others: WebhookDelivery) -> None:
    """Run delivery rounds (this node's, and `others`') until `done()`; bounded in time."""
    deadline = time.monotonic() + timeout
    while not await done():
        if time.monotonic() > deadline:
            raise AssertionError("the webhook deliveries did not settle in time")
        await asyncio.gather(node.delivery.deliver_due(), *(o.deliver_due() for o in others))
        await asyncio.sleep(0.02)  # let the backoff pass; the condition is what is waited for


async def messages(node: Node, account_id: str) -> list[dict[str, Any]]:
    return (await node.admin.webhooks.deliveries(account_id=account_id, limit="100"))["data"]  # type: ignore[no-any-return]


def spec_verify(secret: str, request: Received) -> dict[str, Any]:
    """Standard Webhooks verification written from the spec: HMAC-SHA256 over `id.timestamp.body` with
    the base64-decoded secret, compared with each `v1,` signature in constant time."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = request.headers["webhook-id"], request.headers["webhook-timestamp"]
    assert abs(int(stamp) - time.time()) < 300, "timestamp outside the spec's five-minute tolerance"
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + request.body, hashlib.sha256).digest())
    given = [s.split(",", 1)[1].encode() for s in request.headers["webhook-signature"].split() if s.startswith("v1,")]
    assert any(hmac.compare_digest(expected, g) for g in given), "signature does not verify"
    return json.loads(request.body)  # type: ignore[no-any-return]


# -- delivery


def test_a_completed_job_reaches_the_receiver_signed(tmp_path: Path, core_database_url: str, receiver: Any) -> None:
    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as node:
            account_id, key_id, secret = await keyed(node, receiver.url)
            assert secret is not None and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
            await node.events.job_finished(account_id, key_id, job("job_signed1"))
            await until(node, lambda: _delivered(node, account_id, 1))
            (request,) = receiver.received
            assert request.headers["content-type"] == "application/json"
            payload = standardwebhooks.Webhook(secret).verify(request.body, request.headers)
            assert payload == spec_verify(secret, request)
            assert payload["type"] == "image.job.completed"
            assert payload["data"] == job("job_signed1")
            assert payload["timestamp"] == "2026-09-21T14:13:32Z"
            (message,) = await messages(node, account_id)
            assert message["id"] == request.headers["webhook-id"]
            assert message["status"] == "delivered" and message["job_id"] == "job_signed1"
            assert [(a["attempt"], a["status_code"], a["error"]) for a in message["attempts"]] == [(1, 200, None)]

    run(scenario())


def test_a_500_is_retried_and_both_attempts_are_recorded(tmp_path: Path, core_database_url: str, receiver: Any) -> None:
    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as node:
            account_id, key_id, secret = await keyed(node, receiver.url)
            assert secret is not None
            receiver.script({"status": 500})
            await node.events.job_finished(account_id, key_id, job("job_retry1", "failed"))
            await until(node, lambda: _delivered(node, account_id, 1))
            first, second = receiver.received
            assert (first.status, second.status) == (500, 200)
            assert first.headers["webhook-id"] == second.headers["webhook-id"]  # one message, two attempts
            assert first.body == second.body
            for request in (first, second):
                assert spec_verify(secret, request)["type"] == "image.job.failed"
            (message,) = await messages(node, account_id)
            assert [(a["attempt"], a["status_code"]) for a in message["attempts"]] == [(1, 500), (2, 200)]
            assert message["status"] == "delivered"

    run(scenario())


def test_a_job_reported_twice_is_sent_once(tmp_path: Path, core_database_url: str, receiver: Any) -> None:
    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as node:
            account_id, key_id, _ = await keyed(node, receiver.url)
            await asyncio.gather(*(node.events.job_finished(account_id, key_id, job("job_twice")) for _ in range(3)))
            await node.events.job_finished(account_id, key_id, job("job_twice"))
            await until(node, lambda: _delivered(node, account_id, 1))
            assert await node.delivery.deliver_due() == 0
            assert len(receiver.received) == 1
            assert len(await messages(node, account_id)) == 1

    run(scenario())


def test_only_finished_jobs_of_keys_with_a_url_send(tmp_path: Path, core_database_url: str, receiver: Any) -> None:
    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as node:
            account_id, key_id, _ = await keyed(node, receiver.url)
            for status in ("queued", "running", "cancelled"):
                await node.events.job_finished(account_id, key_id, job(f"job_{status}", status))
            other_account, bare_key, _ = await keyed(node, None)
            await node.events.job_finished(other_account, bare_key, job("job_nourl"))
            await node.events.job_finished(other_account, key_id, job("job_wrongacct"))  # not that account's key
            assert await node.delivery.deliver_due() == 0
            assert await messages(node, account_id) == [] and await messages(node, other_account) == []

    run(scenario())


def test_redirects_are_not_followed_and_the_window_ends_in_failed(
    tmp_path: Path, core_database_url: str, receiver: Any
) -> None:
    async def scenario() -> None:
        window = {"IMAGEGATE_WEBHOOK_RETRY_WINDOW_SECONDS": "0.5"}
        async with open_node(tmp_path / "data", core_database_url, **window) as node:
            account_id, key_id, _ = await keyed(node, receiver.url)
            receiver.script(*[{"redirect": f"http://127.0.0.1:{receiver.port}/elsewhere"}] * 200)
            await node.events.job_finished(account_id, key_id, job("job_redirect"))
            await until(node, lambda: _status(node, account_id, "failed"))
            (message,) = await messages(node, account_id)
            assert len(message["attempts"]) >= 2 and {a["status_code"] for a in message["attempts"]} == {307}
            assert all(r.path == receiver.path for r in receiver.received), "a redirect was followed"
            assert len(receiver.received) == len(message["attempts"])

    run(scenario())


def test_a_cleared_url_fails_the_pending_message(tmp_path: Path, core_database_url: str, receiver: Any) -> None:
    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as node:
            account_id, key_id, _ = await keyed(node, receiver.url)
            await node.events.job_finished(account_id, key_id, job("job_cleared"))
            await node.admin.webhooks.clear_url(key_id)
            await until(node, lambda: _status(node, account_id, "failed"))
            (message,) = await messages(node, account_id)
            assert message["attempts"][0]["error"] == "the key has no webhook URL any more"
            assert receiver.received == []

    run(scenario())


def test_a_public_node_does_not_send_to_loopback_even_when_set_before(
    tmp_path: Path, core_database_url: str, receiver: Any
) -> None:
    """The URL was accepted by a loopback node; a public node's delivery checks it again and refuses."""

    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as local:
            account_id, key_id, _ = await keyed(local, receiver.url)
            await local.events.job_finished(account_id, key_id, job("job_public"))
        public = {"IMAGEGATE_PUBLIC_URL": "https://images.example.com"}
        async with open_node(tmp_path / "data", core_database_url, **public) as node:
            assert await node.delivery.deliver_due() == 1
            (message,) = await messages(node, account_id)
            (attempt,) = message["attempts"]
            assert attempt["status_code"] is None and attempt["error"] == URL_REFUSED
            assert "loopback" in attempt["error_detail"]
            assert message["status"] == "pending"
            assert receiver.received == []

    run(scenario())


def test_the_public_sender_refuses_a_name_that_resolves_to_loopback(receiver: Any) -> None:
    """The address check sits in the resolver the connection uses: `localhost` is never connected to."""

    async def scenario() -> None:
        sender = WebhookSender(public=True, timeout=3)
        try:
            with pytest.raises(WebhookUnreachable, match="loopback"):
                await sender.post(
                    f"http://localhost:{receiver.port}/hooks", b"{}", {"content-type": "application/json"}
                )
        finally:
            await sender.aclose()
        assert receiver.received == []

    run(scenario())


def test_the_public_sender_never_connects_to_an_address_spelled_in_other_digits(receiver: Any) -> None:
    """aiohttp asks no resolver for an address literal, and yarl reads `①②⑦.0.0.1` as `127.0.0.1`: the
    sender checks the literal as yarl reads it, so the loopback receiver is never reached."""

    async def scenario() -> None:
        sender = WebhookSender(public=True, timeout=3)
        try:
            for host in ("①②⑦.0.0.1", "１２７.０.０.１", "127。0。0。1"):
                with pytest.raises(WebhookUnreachable, match="loopback"):
                    await sender.post(
                        f"http://{host}:{receiver.port}/hooks", b"{}", {"content-type": "application/json"}
                    )
        finally:
            await sender.aclose()
        assert receiver.received == []

    run(scenario())


def test_a_url_in_other_digits_kept_from_a_loopback_node_is_refused_by_a_public_one(
    tmp_path: Path, core_database_url: str, receiver: Any
) -> None:
    """Stored while the node was not public, checked again at each delivery as the client will read it."""

    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as local:
            url = f"https://①②⑦.0.0.1:{receiver.port}/hooks"
            account_id, key_id, _ = await keyed(local, url)
            await local.events.job_finished(account_id, key_id, job("job_digits"))
        public = {"IMAGEGATE_PUBLIC_URL": "https://images.example.com"}
        async with open_node(tmp_path / "data", core_database_url, **public) as node:
            await until(node, lambda: _attempted(node, account_id))
            (message,) = await messages(node, account_id)
            attempt = message["attempts"][0]
            assert (attempt["status_code"], attempt["error"]) == (None, URL_REFUSED)
            assert "loopback" in attempt["error_detail"]
            assert receiver.received == []

    run(scenario())


def test_an_account_sees_one_coarse_reason_whatever_the_network_said(
    tmp_path: Path, core_database_url: str, receiver: Any
) -> None:
    """A closed port ("connection refused") and a port that speaks no TLS ("wrong version number") read the
    same to the account, so its deliveries cannot map which ports are open; the operator sees each detail."""

    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url) as node:
            closed = free_port()
            shown: list[dict[str, Any]] = []
            details: list[str] = []
            for name, url in (
                ("closed", f"http://127.0.0.1:{closed}/hooks"),
                ("no-tls", f"https://127.0.0.1:{receiver.port}/hooks"),
            ):
                account_id, key_id, _ = await keyed(node, url)
                await node.events.job_finished(account_id, key_id, job(f"job_{name.replace('-', '')}"))
                await until(node, lambda account_id=account_id: _attempted(node, account_id))  # type: ignore[misc]
                principal = Principal(key_id, account_id, "test", None)
                (mine,) = (await node.events.deliveries(principal, None, None))["data"]
                shown.append(mine["attempts"][0])
                (operators,) = await messages(node, account_id)
                details.append(operators["attempts"][0]["error_detail"])
            assert [a["error"] for a in shown] == [NO_ANSWER, NO_ANSWER]
            assert all("error_detail" not in a for a in shown)
            assert details[0] != details[1] and all(details), details

    run(scenario())


async def _attempted(node: Node, account_id: str) -> bool:
    return any(m["attempts"] for m in await messages(node, account_id))


def test_two_delivery_loops_never_send_the_same_attempt(tmp_path: Path, core_database_url: str, receiver: Any) -> None:
    """Two nodes on one database run their loops side by side over 30 messages, a third of whose first
    tries fail: every attempt reaches the receiver exactly once, and each message is delivered once."""

    async def scenario() -> None:
        async with (
            open_node(tmp_path / "a", core_database_url) as a,
            open_node(tmp_path / "b", core_database_url) as b,
        ):
            account_id, key_id, _ = await keyed(a, receiver.url)
            receiver.script(*[{"status": 503}] * 10)
            await asyncio.gather(
                *(a.events.job_finished(account_id, key_id, job(f"job_race{i:02d}")) for i in range(30))
            )
            loops = [asyncio.create_task(n.delivery.run_forever()) for n in (a, b)]
            try:
                deadline = time.monotonic() + 30
                while not await _delivered(a, account_id, 30):
                    assert time.monotonic() < deadline, "the two loops did not deliver every message in time"
                    await asyncio.sleep(0.05)
            finally:
                for loop in loops:
                    loop.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
            recorded = await messages(a, account_id)
            by_id: dict[str, list[Received]] = {}
            for request in receiver.received:
                by_id.setdefault(request.headers["webhook-id"], []).append(request)
            assert sorted(by_id) == sorted(m["id"] for m in recorded)
            for message in recorded:
                got = by_id[message["id"]]
                assert len(got) == len(message["attempts"]), (
                    f"{message['id']}: sent {len(got)}, recorded {message['attempts']}"
                )
                assert [r.status for r in got].count(200) == 1
                assert [a["attempt"] for a in message["attempts"]] == list(range(1, len(got) + 1))
            assert sum(len(m["attempts"]) for m in recorded) == 40

    run(scenario())


async def _delivered(node: Node, account_id: str, count: int) -> bool:
    found = await messages(node, account_id)
    return len(found) == count and all(m["status"] == "delivered" for m in found)


async def _status(node: Node, account_id: str, status: str) -> bool:
    return any(m["status"] == status for m in await messages(node, account_id))


def test_a_slow_receiver_times_out_and_a_long_answer_is_not_read_whole(
    tmp_path: Path, core_database_url: str, receiver: Any
) -> None:
    async def scenario() -> None:
        async with open_node(tmp_path / "data", core_database_url, IMAGEGATE_WEBHOOK_TIMEOUT_SECONDS="0.5") as node:
            account_id, key_id, _ = await keyed(node, receiver.url)
            receiver.script({"delay": 2.0}, {"status": 200, "body_bytes": 20_000_000})
            await node.events.job_finished(account_id, key_id, job("job_slow"))
            await until(node, lambda: _delivered(node, account_id, 1))
            (message,) = await messages(node, account_id)
            slow, long = message["attempts"]
            assert slow["status_code"] is None and slow["error"] == NO_ANSWER
            assert "no answer within 0.5 s" in slow["error_detail"]
            assert slow["duration_ms"] < 1500
            assert long["status_code"] == 200 and long["duration_ms"] < 1500

    run(scenario())
