"""What a newcomer reaches for in the first hour: the live price beside a test key's zero, one access
line per request, a CLI whose --help describes every command and whose refusals point the way."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from imagegate import __version__
from imagegate.cli import main
from tests.conftest import Account, Gateway, _clean_environ, start_gateway
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

BODY = {"model": "gpt-image-2", "prompt": "a red kettle", "size": "1024x1024", "quality": "high"}


# -- the live price for test keys


def test_a_test_key_sees_the_live_price_beside_its_zero(
    gateway: Gateway, test_account: Account, account: Account
) -> None:
    with gateway.http() as http:
        live = http.post("/v1/images/quote", json=BODY, headers={"Authorization": f"Bearer {account.key}"}).json()
        test = http.post("/v1/images/quote", json=BODY, headers={"Authorization": f"Bearer {test_account.key}"}).json()
    assert live["amount_micros"] > 0 and "live_amount_micros" not in live
    assert test["amount_micros"] == 0 and test["live_amount_micros"] == live["amount_micros"]

    result = gateway.client(test_account.key).images.generate(
        model="gpt-image-2", prompt="a red kettle", size="1024x1024", quality="high", n=2
    )
    assert result.model_extra is not None
    billing = result.model_extra["billing"]
    assert billing["amount_micros"] == 0
    assert billing["live_amount_micros"] == 2 * live["unit_price_micros"]
    assert gateway.balance(test_account.id) == (0, 0)


# -- the access log


def _serve_and_generate(tmp_path: Path, env: dict[str, str]) -> tuple[str, Account, str]:
    """A gateway at log level info; one generation with a test key; the log once the server has stopped."""
    gateway = start_gateway(tmp_path / "data", None, {"IMAGEGATE_LOG_LEVEL": "info", **env})
    try:
        test = gateway.new_account("0", test=True)
        response = gateway.post_images(test.key, BODY)
        assert response.status_code == 200, response.text
        request_id = response.headers["x-request-id"]
    finally:
        gateway.process.stop()  # every line of a finished request is written by the time it exits
    return gateway.process.log_text(), test, request_id


def test_one_access_line_per_request_by_default(tmp_path: Path) -> None:
    log, test, request_id = _serve_and_generate(tmp_path, {})
    lines = [line for line in log.splitlines() if request_id in line]
    assert len(lines) == 1, log
    line = lines[0]
    assert "imagegate.access" in line and "POST /v1/images/generations 200" in line
    for part in (f"key={test.key_id}", "model=gpt-image-2", "images=1", "cost_micros=0", " ms"):
        assert part in line, line
    assert test.key not in log


def test_a_burst_of_requests_is_logged_whole_by_a_clean_stop(tmp_path: Path) -> None:
    """The lines are written by a thread of their own, in batches: a stop right after a burst still
    finds every request's line in the log, once."""
    gateway = start_gateway(tmp_path / "data", None, {"IMAGEGATE_LOG_LEVEL": "info"})
    try:
        test = gateway.new_account("0", test=True)
        headers = {"Authorization": f"Bearer {test.key}"}
        with gateway.http() as http, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: http.get("/v1/models", headers=headers), range(80)))
        assert {a.status_code for a in answers} == {200}
    finally:
        gateway.process.stop()
    log = gateway.process.log_text()
    for answer in answers:
        lines = [line for line in log.splitlines() if answer.headers["x-request-id"] in line]
        assert len(lines) == 1 and "GET /v1/models 200" in lines[0], lines


def test_the_access_line_as_json(tmp_path: Path) -> None:
    log, test, request_id = _serve_and_generate(tmp_path, {"IMAGEGATE_LOG_FORMAT": "json"})
    lines = [json.loads(line) for line in log.splitlines() if request_id in line]
    assert len(lines) == 1, log
    entry = lines[0]
    assert {
        k: entry[k] for k in ("request_id", "method", "path", "status", "key_id", "model", "images", "cost_micros")
    } == {
        "request_id": request_id,
        "method": "POST",
        "path": "/v1/images/generations",
        "status": 200,
        "key_id": test.key_id,
        "model": "gpt-image-2",
        "images": 1,
        "cost_micros": 0,
    }
    assert isinstance(entry["latency_ms"], (int, float)) and entry["level"] == "info"
    assert test.key not in log


def test_the_access_log_can_be_turned_off(tmp_path: Path) -> None:
    log, _test, request_id = _serve_and_generate(tmp_path, {"IMAGEGATE_ACCESS_LOG": "false"})
    assert request_id not in log and "imagegate.access" not in log


def test_a_client_that_left_before_its_answer_is_499_in_the_access_log_as_in_usage(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """A stream whose client hangs up before the first event: nothing was answered, and the access
    line says so (499), as the usage record does, rather than a 500 that would page someone."""
    upstream.script({"kind": "delay", "seconds": 3})
    gateway = start_gateway(tmp_path / "data", upstream, {"IMAGEGATE_LOG_LEVEL": "info"})
    try:
        account = gateway.new_account("10")
        body = json.dumps({**BODY, "stream": True}).encode()
        head = (
            f"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {account.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
            client.sendall(head + body)
            upstream.wait_for_requests(1)  # the client leaves while the upstream works
        deadline = time.monotonic() + 15
        while gateway.balance(account.id)[1] and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the database for the gateway's release, bounded
        assert gateway.balance(account.id) == (10_000_000, 0)
    finally:
        gateway.process.stop()  # every line of a finished request is written by the time it exits
    lines = [line for line in gateway.process.log_text().splitlines() if "POST /v1/images/generations" in line]
    assert len(lines) == 1, lines
    assert "POST /v1/images/generations 499" in lines[0] and f"key={account.key_id}" in lines[0], lines[0]
    request_id = re.search(r"(req_\w+) POST", lines[0])
    assert request_id is not None
    row = gateway.usage_row(request_id.group(1))
    assert row is not None and (row["status"], row["error_code"]) == (499, "client_disconnected")


# -- the CLI


def _cli(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegate", *args],
        env={**_clean_environ(), **gateway.env},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _groups(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Group]]:
    found = [(prefix, group)]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _groups(command, (*prefix, name))
    return found


def test_help_has_a_description_line_for_every_command() -> None:
    missing = []
    for path, group in _groups(main):  # the CLI's own entry point, in-process: one interpreter start, not one per group
        result = CliRunner().invoke(main, [*path, "--help"], prog_name="imagegate")
        assert result.exit_code == 0, result.output
        out = result.stdout
        listed = out.split("Commands:", 1)[1].splitlines()
        described = {line.split()[0]: line.split(None, 1)[1:] for line in listed if line.strip()}
        assert set(described) == set(group.commands), (path, out)
        missing += [" ".join((*path, name)) for name, text in described.items() if not text or not text[0].strip()]
    assert not missing, f"commands without a description in --help: {missing}"


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "imagegate", "--version"],
        env=_clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert __version__ in out


def test_shell_completion_completes_commands() -> None:
    script = Path(sys.executable).parent / "imagegate"
    if not script.exists():
        pytest.skip(f"no console script at {script}")
    env = {**_clean_environ(), "_IMAGEGATE_COMPLETE": "bash_complete", "COMP_WORDS": "imagegate acc", "COMP_CWORD": "1"}
    out = subprocess.run([str(script)], env=env, check=False, capture_output=True, text=True, timeout=60).stdout
    assert "plain,accounts" in out.splitlines()
    source = subprocess.run(
        [str(script)],
        env={**_clean_environ(), "_IMAGEGATE_COMPLETE": "bash_source"},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "complete " in source and "_IMAGEGATE_COMPLETE" in source


def test_a_negative_top_up_points_to_credit_adjust(gateway: Gateway) -> None:
    account = gateway.new_account("10")
    result = _cli(gateway, "credit", "add", account.id, "-5", "--reason", "refund")
    assert result.returncode == 2
    assert f"imagegate credit adjust {account.id} -5 --reason" in result.stderr
    assert "No such option" not in result.stderr
    assert gateway.balance(account.id) == (10_000_000, 0)


def test_accounts_create_refuses_a_duplicate_name_unless_asked(gateway: Gateway) -> None:
    name = f"dup-{Path(gateway.data_dir).name}-{id(gateway)}"
    first = json.loads(_cli(gateway, "accounts", "create", name, "--json").stdout)
    again = _cli(gateway, "accounts", "create", name, "--json")
    assert again.returncode == 1 and again.stdout == ""
    error = json.loads(again.stderr)["error"]
    assert error["param"] == "name" and first["id"] in error["message"] and "--allow-duplicate" in error["message"]
    second = json.loads(_cli(gateway, "accounts", "create", name, "--allow-duplicate", "--json").stdout)
    assert second["id"] != first["id"] and second["name"] == name
