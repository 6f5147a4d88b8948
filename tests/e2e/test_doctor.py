"""`imagegate doctor` as an operator runs it: against a healthy gateway with every upstream a fake on
loopback, and against each failure it reports (database down, a key the upstream refuses, an
unwritable store). The command is a real process; the upstreams answer their real model-list calls."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UPSTREAM_KEY, Gateway, _clean_environ, require_service, serve_in_process
from tests.support.processes import free_port
from tests.upstreams.fake_azure import FakeAzure
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_seedream import FakeSeedream

GEMINI_KEY, ARK_KEY, AZURE_KEY = "gemini-doctor-key", "ark-doctor-key", "azure-doctor-key"
ROUTES = (
    "route gpt-image-2/openai",
    "route gpt-image-2-official/azure",
    "route nano-banana-2/gemini",
    "route nano-banana-pro/gemini",
    "route seedream-4.5/ark",
    "route preview/preview",
)


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeGemini, FakeSeedream, FakeAzure]]:
    with (
        FakeGemini(api_key=GEMINI_KEY) as gemini,
        FakeSeedream(api_key=ARK_KEY) as ark,
        FakeAzure(api_key=AZURE_KEY) as azure,
    ):
        yield gemini, ark, azure


@pytest.fixture(scope="module")
def healthy(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, fakes: tuple[FakeGemini, FakeSeedream, FakeAzure]
) -> Iterator[Gateway]:
    gemini, ark, azure = fakes
    env = {
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini.base_url,
        "ARK_API_KEY": ARK_KEY,
        "ARK_BASE_URL": ark.base_url,
        "AZURE_OPENAI_API_KEY": AZURE_KEY,
        "AZURE_OPENAI_ENDPOINT": azure.endpoint,
        "OPENAI_API_VERSION": "2025-04-01-preview",
    }
    yield from serve_in_process(tmp_path_factory, "doctor", fake_openai, extra_env=env)


def doctor(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "imagegate", "doctor", "--timeout", "5", *args],
        env={**_clean_environ(), **env},
        check=False,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return result.returncode, result.stdout


def doctor_json(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], dict[str, dict[str, Any]]]:
    code, out = doctor(env, "--json", *args)
    result = json.loads(out)
    return code, result, {c["name"]: c for c in result["checks"]}


def statuses(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: c["status"] for name, c in checks.items()}


def test_a_healthy_setup_passes_every_check(healthy: Gateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.reset()
    code, result, checks = doctor_json(healthy.env)
    assert code == 0 and result["ok"] is True, result
    expected = {
        "configuration": "ok",
        "database": "ok",
        "migrations": "ok",
        "redis": "skip",
        "storage": "ok",
        "signing secret": "ok",
        "c2pa": "warn",  # images are signed by the gateway's own chain, on no trust list
        "public url": "ok",
        **dict.fromkeys(ROUTES, "ok"),
    }
    assert statuses(checks) == expected
    assert "accepted the key" in checks["route gpt-image-2/openai"]["detail"]
    # the check is a real authenticated call at the upstream: the model list, nothing generated
    calls = [(r.method, r.path) for r in fake_openai.requests]
    assert calls == [("GET", "/v1/models")]
    assert all(r.headers.get("authorization") == f"Bearer {UPSTREAM_KEY}" for r in fake_openai.requests)


def test_offline_skips_the_network_with_a_note(healthy: Gateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.reset()
    code, result, checks = doctor_json(healthy.env, "--offline")
    assert code == 0 and result["ok"] is True
    assert checks["public url"]["status"] == "skip"
    assert checks["route gpt-image-2/openai"]["status"] == "skip"
    assert "--offline" in checks["route gpt-image-2/openai"]["detail"]
    assert fake_openai.requests == []


def test_keys_the_upstreams_refuse_fail_with_the_variable_to_fix(healthy: Gateway) -> None:
    env = {**healthy.env, "OPENAI_API_KEY": "sk-not-the-upstreams", "GEMINI_API_KEY": "not-the-gemini-key"}
    code, result, checks = doctor_json(env)
    assert code == 1 and result["ok"] is False
    openai_route = checks["route gpt-image-2/openai"]
    assert openai_route["status"] == "fail"
    assert "401" in openai_route["detail"] and "OPENAI_API_KEY" in openai_route["fix"]
    assert "sk-not-the-upstreams" not in json.dumps(result)  # a key never appears in the output
    for name in ("route nano-banana-2/gemini", "route nano-banana-pro/gemini"):  # Gemini: 400 API_KEY_INVALID
        assert checks[name]["status"] == "fail" and "GEMINI_API_KEY" in checks[name]["fix"]
    assert checks["route seedream-4.5/ark"]["status"] == "ok"
    assert checks["database"]["status"] == "ok"

    code, text = doctor(env)  # the human form: one line per check, the fix on the failing one
    assert code == 1
    line = next(line for line in text.splitlines() if "route gpt-image-2/openai" in line)
    assert line.startswith("fail") and "fix: check OPENAI_API_KEY" in line
    assert text.splitlines()[-1].startswith("3 failed")


def test_a_database_that_does_not_answer_fails(tmp_path: Path) -> None:
    env = {
        "IMAGEGATE_DATA_DIR": str(tmp_path / "data"),
        "IMAGEGATE_DATABASE_URL": f"postgresql+asyncpg://imagegate:secret@127.0.0.1:{free_port()}/imagegate",
        "IMAGEGATE_SIGNING_SECRET": "a-signing-secret-of-some-length",
    }
    code, result, checks = doctor_json(env, "--offline")
    assert code == 1 and result["ok"] is False
    database = checks["database"]
    assert database["status"] == "fail" and "IMAGEGATE_DATABASE_URL" in database["fix"]
    assert "secret" not in database["detail"]  # the URL is shown without its password
    assert checks["storage"]["status"] == "ok"


def test_a_database_never_created_fails_with_the_command_that_creates_it(tmp_path: Path) -> None:
    code, _result, checks = doctor_json({"IMAGEGATE_DATA_DIR": str(tmp_path / "data")}, "--offline")
    assert code == 1
    assert checks["database"]["status"] == "fail" and "imagegate init" in checks["database"]["fix"]
    assert not (tmp_path / "data" / "imagegate.db").exists()  # doctor looks; it does not create


def test_an_unwritable_store_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"IMAGEGATE_DATA_DIR": str(data)}
    subprocess.run(
        [sys.executable, "-m", "imagegate", "init"],
        env={**_clean_environ(), **env},
        check=True,
        capture_output=True,
        timeout=60,
    )
    images = data / "images"
    if images.exists():
        images.rmdir()
    images.write_text("a file where the image directory should be")  # unwritable even for root
    code, result, checks = doctor_json(env, "--offline")
    assert code == 1 and result["ok"] is False
    assert checks["storage"]["status"] == "fail" and str(images) in checks["storage"]["fix"]
    assert checks["database"]["status"] == "ok" and checks["migrations"]["status"] == "ok"


@pytest.mark.postgres
@pytest.mark.redis
def test_postgresql_and_redis_at_scale(tmp_path: Path, postgres_url: str) -> None:
    require_service("Redis", 6379)
    env = {
        "IMAGEGATE_DATA_DIR": str(tmp_path / "data"),
        "IMAGEGATE_DATABASE_URL": postgres_url,
        "IMAGEGATE_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    code, _result, checks = doctor_json(env, "--offline")  # not migrated yet
    assert code == 1 and checks["database"]["status"] == "ok"
    assert checks["migrations"]["status"] == "fail" and "imagegate init" in checks["migrations"]["fix"]

    subprocess.run(
        [sys.executable, "-m", "imagegate", "init"],
        env={**_clean_environ(), **env},
        check=True,
        capture_output=True,
        timeout=60,
    )
    code, result, checks = doctor_json(env, "--offline")
    assert code == 0 and result["ok"] is True, result
    assert {n: checks[n]["status"] for n in ("database", "migrations", "redis")} == {
        "database": "ok",
        "migrations": "ok",
        "redis": "ok",
    }
    # many nodes on one database need one secret: a generated one is a warning, with the fix
    assert (
        checks["signing secret"]["status"] == "warn" and "IMAGEGATE_SIGNING_SECRET" in checks["signing secret"]["fix"]
    )

    code, _result, checks = doctor_json(
        {**env, "IMAGEGATE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, "--offline"
    )
    assert code == 1 and checks["redis"]["status"] == "fail" and "IMAGEGATE_REDIS_URL" in checks["redis"]["fix"]
