"""The operator's CLI against the running gateway's database: `--json` output, and its effects live."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import Gateway, _clean_environ
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")


def cli_json(gateway: Gateway, *args: str) -> dict[str, Any]:
    """Run `imagegate ARGS --json`; its whole stdout must be exactly one JSON object."""
    out = gateway.cli(*args, "--json")
    value = json.loads(out)
    assert isinstance(value, dict), out
    return value


def new_account_id(gateway: Gateway, name: str = "cli-test") -> str:
    return cli_json(gateway, "accounts", "create", name, "--allow-duplicate")["id"]


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def test_init_prints_the_data_dir(gateway: Gateway) -> None:
    result = cli_json(gateway, "init")
    assert result["data_dir"] == str(gateway.data_dir.resolve())


def test_accounts_create(gateway: Gateway) -> None:
    name = f"acme-{uuid.uuid4().hex[:8]}"  # the gateway is shared: a name of its own, never taken
    result = cli_json(gateway, "accounts", "create", name)
    assert result["name"] == name
    assert result["id"]
    assert result["balance_micros"] == 0
    assert gateway.balance(result["id"]) == (0, 0)


def test_credit_add_is_exact(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    result = cli_json(gateway, "credit", "add", account_id, "12.5", "--reason", "r")
    assert result["account_id"] == account_id
    assert result["balance_micros"] == 12_500_000
    assert gateway.balance(account_id) == (12_500_000, 0)


def test_credit_add_with_seven_decimals_is_refused(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    result = subprocess.run(
        [sys.executable, "-m", "imagegate", "credit", "add", account_id, "1.0000001", "--reason", "r", "--json"],
        env={**_clean_environ(), **gateway.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout.strip() == ""
    error = json.loads(result.stderr)["error"]
    assert error["param"] == "amount_usd"
    assert "decimal" in error["message"]
    assert gateway.balance(account_id) == (0, 0)


def test_ledger_history_lists_an_accounts_entries_newest_first_by_page(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    cli_json(gateway, "credit", "add", account_id, "3", "--reason", "opening")
    cli_json(gateway, "credit", "adjust", account_id, "-0.5", "--reason", "refund reversed")
    cli_json(gateway, "credit", "adjust", account_id, "0.25", "--reason", "goodwill")
    first = cli_json(gateway, "ledger", "history", account_id, "--limit", "2")
    assert [(e["kind"], e["amount_micros"], e["reason"]) for e in first["data"]] == [
        ("adjustment", 250_000, "goodwill"),
        ("adjustment", -500_000, "refund reversed"),
    ]
    assert first["has_more"] is True
    rest = cli_json(gateway, "ledger", "history", account_id, "--after", first["last_id"])
    assert [(e["kind"], e["reason"]) for e in rest["data"]] == [("topup", "opening")] and rest["has_more"] is False
    human = gateway.cli("ledger", "history", account_id)
    assert human.index("goodwill") < human.index("refund reversed") < human.index("opening")


def test_keys_create_live(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    result = cli_json(gateway, "keys", "create", account_id)
    assert result["key"].startswith("ig_live_")
    assert result["prefix"] == result["key"][:12]
    assert result["mode"] == "live"
    assert result["id"] and result["id"] != result["key"]


def test_keys_create_test_with_allowlist_and_rpm(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    result = cli_json(gateway, "keys", "create", account_id, "--test", "--models", "gpt-image-2,preview", "--rpm", "60")
    assert result["key"].startswith("ig_test_")
    assert result["prefix"] == result["key"][:12]
    assert result["mode"] == "test"
    assert result["allowed_models"] == ["gpt-image-2", "preview"]
    assert result["rpm"] == 60

    client = gateway.client(result["key"])
    assert client.images.generate(model="preview", prompt="a cat", size="256x256").data[0].url
    with pytest.raises(openai.PermissionDeniedError) as raised:
        client.images.generate(model="nano-banana-2", prompt="a cat")
    assert raised.value.body["code"] == "model_not_allowed"  # type: ignore[index]


def test_cli_key_works_with_the_sdk(gateway: Gateway, upstream: FakeOpenAI) -> None:
    account_id = new_account_id(gateway)
    cli_json(gateway, "credit", "add", account_id, "1", "--reason", "cli test")
    key = cli_json(gateway, "keys", "create", account_id)["key"]
    raw = gateway.client(key).images.with_raw_response.generate(model="gpt-image-2", prompt="a cat", quality="low")
    assert raw.headers["x-imagegate-cost-micros"] == "6000"
    assert len(raw.parse().data) == 1
    assert gateway.balance(account_id) == (1_000_000 - 6_000, 0)


def test_keys_revoke_takes_effect_on_the_running_gateway(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    key = cli_json(gateway, "keys", "create", account_id, "--test")
    assert gateway.post_images(key["key"], {"model": "preview", "prompt": "x", "size": "256x256"}).status_code == 200

    result = cli_json(gateway, "keys", "revoke", key["id"])
    assert result["id"] == key["id"]
    assert result["revoked_at"]

    response = gateway.post_images(key["key"], {"model": "preview", "prompt": "x", "size": "256x256"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "key_revoked"
    assert error_of(response)["type"] == "permission_error"
    with pytest.raises(openai.PermissionDeniedError):
        gateway.client(key["key"]).images.generate(model="preview", prompt="x")


def test_accounts_disable_takes_effect_on_the_running_gateway(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    key = cli_json(gateway, "keys", "create", account_id, "--test")["key"]
    assert gateway.post_images(key, {"model": "preview", "prompt": "x", "size": "256x256"}).status_code == 200

    result = cli_json(gateway, "accounts", "disable", account_id)
    assert result["id"] == account_id

    response = gateway.post_images(key, {"model": "preview", "prompt": "x", "size": "256x256"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "account_disabled"
    assert error_of(response)["type"] == "permission_error"


def test_prices_set_and_list(gateway: Gateway) -> None:
    before = cli_json(gateway, "prices", "list")
    assert before["currency"] == "USD"
    assert "preview" not in before["models"]  # free: no price card
    assert set(before["models"]) == {
        "gpt-image-2",
        "gpt-image-2-official",
        "nano-banana-2",
        "nano-banana-pro",
        "seedream-4.5",
    }
    assert before["models"]["nano-banana-pro"]["standard"]["2048x2048"] == 134000
    try:
        result = cli_json(gateway, "prices", "set", "nano-banana-pro", "--size", "2048x2048", "--usd", "0.15")
        assert result == {"model": "nano-banana-pro", "quality": "standard", "size": "2048x2048", "micros": 150000}
        after = cli_json(gateway, "prices", "list")
        assert after["models"]["nano-banana-pro"]["standard"]["2048x2048"] == 150000
        assert after["models"]["nano-banana-pro"]["standard"]["1024x1024"] == 134000
    finally:
        gateway.cli("prices", "set", "nano-banana-pro", "--size", "2048x2048", "--usd", "0.134")
    assert cli_json(gateway, "prices", "list") == before


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:  # an image's temporary file, renamed meanwhile
        return b""


def _stored_bytes(gateway: Gateway) -> bytes:
    """Everything the gateway has persisted: its data dir, and on PostgreSQL every row of every table."""
    files = [p for p in gateway.data_dir.rglob("*") if p.is_file()]
    blob = b"".join(_read(p) for p in files)
    url = gateway.env.get("IMAGEGATE_DATABASE_URL")
    if url is None:
        assert "imagegate.db" in {p.name for p in files}
        return blob
    import asyncio

    import asyncpg

    async def dump() -> bytes:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            tables = [
                r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
            assert "api_keys" in tables
            rows = [await conn.fetch(f'SELECT * FROM "{t}"') for t in tables]
        finally:
            await conn.close()
        return repr(rows).encode()

    return blob + asyncio.run(dump())


# It reads the SQLite files' bytes. In the process of an in-process gateway, opening and closing the
# database file drops that process's SQLite locks (sqlite.org/howtocorrupt.html, 2.2): the database
# could be corrupted ("database disk image is malformed" in a full run).
@pytest.mark.tier("process")
def test_keys_are_stored_only_as_hashes(gateway: Gateway) -> None:
    account_id = new_account_id(gateway)
    created = [
        cli_json(gateway, "keys", "create", account_id)["key"],
        cli_json(gateway, "keys", "create", account_id, "--test")["key"],
    ]
    blob = _stored_bytes(gateway)
    for key in created:
        assert key.encode() not in blob
        assert key[len("ig_live_") :].encode() not in blob  # not even the secret part alone
        assert hashlib.sha256(key.encode()).hexdigest().encode() in blob
