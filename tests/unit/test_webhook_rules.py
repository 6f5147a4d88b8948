"""The pure rules of webhooks: which addresses a public node refuses, the message body and id, the
secret's derivation and format, the signature (checked against the `standardwebhooks` package), the
retry schedule."""

from __future__ import annotations

import base64
import ipaddress
import json
import random
from datetime import UTC, datetime

import pytest
import standardwebhooks
import yarl

from imagegate.domain.errors import InvalidRequest
from imagegate.domain.webhook_url import check_webhook_url, client_host, is_loopback_host, refused_address
from imagegate.domain.webhooks import (
    MAX_BODY_BYTES,
    format_secret,
    job_event,
    key_secret,
    message_id,
    retry_delay,
    signed_headers,
)

REFUSED = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:0a00:0001::1",
]  # fmt: skip
ALLOWED = ["1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "::ffff:1.1.1.1"]


@pytest.mark.parametrize("address", REFUSED)
def test_a_public_node_refuses_every_non_global_address(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_are_allowed(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address)) is None


def test_loopback_hosts() -> None:
    assert all(is_loopback_host(h) for h in ("localhost", "127.0.0.1", "127.0.0.2", "[::1]", "::1", "LOCALHOST"))
    assert not any(is_loopback_host(h) for h in ("0.0.0.0", "images.example.com", "10.0.0.1", "", None))


def test_a_loopback_node_allows_http_to_loopback_only_and_keeps_the_url() -> None:
    target = check_webhook_url("http://127.0.0.1:8080/in?x=1", public=False)
    assert (target.url, target.host, target.port) == ("http://127.0.0.1:8080/in?x=1", "127.0.0.1", 8080)
    assert check_webhook_url("https://hooks.example.com/in", public=True).port == 443
    with pytest.raises(InvalidRequest) as refused:
        check_webhook_url("http://hooks.example.com/in", public=False)
    assert refused.value.param == "webhook_url" and refused.value.code == "invalid_value"


UNICODE_ADDRESSES = [
    "１２７.０.０.１", "①②⑦.0.0.1", "127。0。0。1", "１２７．０．０．１", "⑩.0.0.1", "１０.０.０.１",
    "１６９.２５４.１６９.２５４", "ＬＯＣＡＬＨＯＳＴ",
]  # fmt: skip
"""Hosts that are not ASCII, which the HTTP client (yarl's IDNA mapping) turns into a refused address."""


@pytest.mark.parametrize("host", UNICODE_ADDRESSES)
def test_a_public_node_refuses_an_address_spelled_in_other_digits(host: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_webhook_url(f"https://{host}:8443/hooks", public=True)
    assert refused.value.param == "webhook_url"
    assert any(why in refused.value.message for why in ("loopback", "private", "link-local", "localhost"))


@pytest.mark.parametrize("host", ["[::ｆｆｆｆ:127.0.0.1]", "[::ｆｆｆｆ:１２７.０.０.１]"])
def test_a_bracketed_address_in_other_digits_is_not_a_url_anywhere(host: str) -> None:
    for public in (True, False):
        with pytest.raises(InvalidRequest, match="not a valid URL"):
            check_webhook_url(f"https://{host}/hooks", public=public)


def test_plain_http_goes_only_to_what_the_client_will_reach_as_loopback() -> None:
    assert check_webhook_url("http://①②⑦.0.0.1:8080/in", public=False).host == "127.0.0.1"
    for host in ("１０.０.０.１", "ｅｘａｍｐｌｅ.com"):
        with pytest.raises(InvalidRequest):
            check_webhook_url(f"http://{host}/in", public=False)


@pytest.mark.parametrize(
    "host", [*UNICODE_ADDRESSES, "bücher.example", "ｅｘａｍｐｌｅ.com", "Hooks.Example.com", "0x7f.1", "2130706433"]
)
def test_the_checked_host_is_the_one_the_http_client_connects_to(host: str) -> None:
    """The rules judge the host as yarl (aiohttp's URL) will send it, not the text as written."""
    url = f"https://{host}:8443/hooks"
    assert check_webhook_url(url, public=False).host == yarl.URL(url).raw_host


def test_a_host_that_maps_to_something_that_is_not_a_name_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        client_host("ａ／b")


def test_the_body_is_the_spec_envelope_and_stable() -> None:
    job = {"id": "job_1", "object": "image.job", "status": "failed", "created": 1, "completed_at": 2, "error": {}}
    event = job_event(job)
    assert event is not None
    job_id, event_type, body = event
    assert (job_id, event_type) == ("job_1", "image.job.failed")
    assert json.loads(body) == {"type": "image.job.failed", "timestamp": "1970-01-01T00:00:02Z", "data": job}
    assert job_event(job) == event, "a repeat report makes the same bytes"
    assert message_id("job_1", "failed") == message_id("job_1", "failed") != message_id("job_1", "completed")
    assert job_event({**job, "status": "cancelled"}) is None


def test_a_huge_job_is_sent_without_its_result() -> None:
    result = {"data": [{"b64_json": "A" * (MAX_BODY_BYTES + 1)}]}
    job = {
        "id": "job_2",
        "object": "image.job",
        "status": "completed",
        "created": 1,
        "completed_at": 2,
        "result": result,
    }
    event = job_event(job)
    assert event is not None and len(event[2]) < MAX_BODY_BYTES
    assert "result" not in json.loads(event[2])["data"]


@pytest.mark.parametrize("job_id", ["", "job_\x00", "j" * 65, 7])
def test_a_bad_job_id_is_refused(job_id: object) -> None:
    with pytest.raises(InvalidRequest):
        job_event({"id": job_id, "status": "completed"})


def test_the_secret_is_derived_per_key_and_version_and_the_signature_verifies() -> None:
    master = b"gateway-signing-secret"
    secret = key_secret(master, "key_a", 1)
    assert len(secret) >= 24 and secret == key_secret(master, "key_a", 1)
    assert secret not in (key_secret(master, "key_a", 2), key_secret(master, "key_b", 1), key_secret(b"x", "key_a", 1))
    formatted = format_secret(secret)
    assert formatted.startswith("whsec_") and base64.b64decode(formatted[6:]) == secret
    body = '{"type":"image.job.completed","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    headers = signed_headers(secret, "msg_1", 1_767_225_600, body)
    hook = standardwebhooks.Webhook(formatted)
    assert headers["webhook-signature"] == hook.sign("msg_1", datetime.fromtimestamp(1_767_225_600, UTC), body)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(format_secret(key_secret(master, "key_a", 2))).verify(body, headers)


def test_retries_double_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, nominal in ((1, 10), (2, 20), (3, 40), (8, 1280), (30, 3600), (10_000, 3600)):
        delays = [retry_delay(attempt, 10, 3600, rng) for _ in range(50)]
        assert all(nominal / 2 <= d <= nominal for d in delays), (attempt, min(delays), max(delays))
        assert len(set(delays)) > 1, "no jitter"
