"""The served OpenAPI 3.1 document describes every route, and the server answers as it says.

schemathesis's own CLI runs `--checks all` against a real gateway: every check it has (server errors,
statuses, content types, headers and bodies against the document; valid data accepted and invalid
data refused; an undocumented method answered 405 with the right `Allow`; auth that is not ignored;
stateful links between operations) over every operation, in all four phases. The gateway is a
throw-away one (its own data folder: the admin cases create accounts and keys, move money and
change prices) whose every catalog model has a route to its fake upstream on loopback. Public
routes run with a live key; /admin with the admin token, on an account, a key, a job and images made
for the run, so that they reach their 200s. The run must report no finding. The contract's rules
that JSON Schema cannot state are in `schemathesis_hooks.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.conftest import ROOT, Gateway, serve_gateway
from tests.providers.conftest import ARK_KEY, AZURE_KEY, GEMINI_KEY, provider_env
from tests.upstreams.fake_azure import FakeAzure
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_seedream import FakeSeedream

ADMIN_TOKEN = "schemathesis-admin-token"
EXAMPLES = int(os.environ.get("IMAGEGATE_SCHEMATHESIS_EXAMPLES", "25"))  # per operation and phase
SEED = int(os.environ.get("IMAGEGATE_SCHEMATHESIS_SEED", "20261206"))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    fake_openai.reset()
    with (
        FakeGemini(api_key=GEMINI_KEY) as gemini,
        FakeSeedream(api_key=ARK_KEY) as seedream,
        FakeAzure(api_key=AZURE_KEY) as azure,
    ):
        env = {"IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN, **provider_env(gemini, seedream, azure)}
        yield from serve_gateway(tmp_path_factory, "openapi", fake_openai, extra_env=env)


def _image_url(gateway: Gateway, key: str) -> str:
    response = gateway.post_images(key, {"model": "gpt-image-2", "prompt": "a teapot"})
    assert response.status_code == 200, response.text
    url: str = response.json()["data"][0]["url"]
    return url


def _job(gateway: Gateway, key: str) -> str:
    headers = {"Prefer": "respond-async"}
    response = gateway.post_images(key, {"model": "gpt-image-2", "prompt": "a kettle"}, headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def _batch(gateway: Gateway, key: str) -> tuple[str, str]:
    """(a batch input file's id, a batch made from it)."""
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/images/generations",
        "body": {"model": "gpt-image-2", "prompt": "a kite"},
    }
    with gateway.http() as http:
        auth = {"Authorization": f"Bearer {key}"}
        files = {"file": ("in.jsonl", json.dumps(line).encode(), "application/jsonl")}
        uploaded = http.post("/v1/files", files=files, data={"purpose": "batch"}, headers=auth)
        assert uploaded.status_code == 200, uploaded.text
        file_id: str = uploaded.json()["id"]
        body = {"input_file_id": file_id, "endpoint": "/v1/images/generations", "completion_window": "24h"}
        batch = http.post("/v1/batches", json=body, headers=auth)
        assert batch.status_code == 200, batch.text
    return file_id, batch.json()["id"]


def _config(gateway: Gateway, live_key: str) -> str:
    """schemathesis.toml: the credentials, and real resources for the operations that act on one."""
    target = gateway.new_account("1")  # the account (and key) the admin cases act on
    file_id, batch_id = _batch(gateway, live_key)
    download = urlparse(_image_url(gateway, live_key))
    query = {name: values[0] for name, values in parse_qs(download.query).items()}
    deleted = urlparse(_image_url(gateway, live_key)).path.rsplit("/", 1)[1].split(".")[0]
    pinned = {
        "^/admin": {"path.account_id": target.id, "path.key_id": target.key_id},
        "^/v1/images/jobs/": {"path.job_id": _job(gateway, live_key)},
        "^/v1/files/file-": {"path.suffix": file_id.removeprefix("file-")},
        "^/v1/batches/": {"path.batch_id": batch_id},
        "^/v1/files/\\{name\\}$": {
            "path.name": download.path.rsplit("/", 1)[1],
            "query.expires": query["expires"],
            "query.signature": query["signature"],
        },
        "^/v1/images/img_": {"path.suffix": deleted.removeprefix("img_")},
    }
    lines = [
        "[auth.openapi.apiKey]",
        f"bearer = {json.dumps(live_key)}",
        "[auth.openapi.adminToken]",
        f"bearer = {json.dumps(ADMIN_TOKEN)}",
    ]
    for path, parameters in pinned.items():
        values = ", ".join(f"{json.dumps(name)} = {json.dumps(value)}" for name, value in parameters.items())
        lines += ["[[operations]]", f"include-path-regex = {json.dumps(path)}", f"parameters = {{ {values} }}"]
    # A batch's JSONL file (its lines' rules) and a batch's `metadata` (16 string pairs) say more
    # than their schema: a body it admits may still be refused. Every other check runs on them,
    # invalid data refused included; every check runs on every other operation (the chat and
    # Responses bodies are declared fields, `domain/chat_request.py`, `domain/responses_fields.py`).
    lines += [
        "[[operations]]",
        'include-operation-id-regex = "^(uploadBatchFile|createBatch)$"',
        "[operations.checks.positive_data_acceptance]",
        "enabled = false",
    ]
    return "\n".join(lines) + "\n"


def _every_check_runs(config: Path) -> None:
    """schemathesis 4 runs every check it has unless one is turned off (what `--checks all` was): the
    config turns off one, positive data acceptance, for the two batch bodies alone."""
    import schemathesis.specs.openapi.checks  # noqa: F401 -- registers the OpenAPI checks
    from schemathesis.checks import CHECKS
    from schemathesis.config import SchemathesisConfig

    checks = SchemathesisConfig.from_path(str(config)).projects.get_default().checks_config_for()
    names = CHECKS.get_all_names()
    assert len(names) >= 14 and all(checks.get_by_name(name=name).enabled for name in names)


def test_schemathesis_finds_nothing_with_every_check(gateway: Gateway, tmp_path: Path) -> None:
    live = gateway.new_account("100000")
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(gateway, live.key), "utf-8")
    _every_check_runs(config)
    report = tmp_path / "report.json"
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        f"{gateway.base_url}/openapi.json",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--request-timeout",
        "60",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    took = time.monotonic() - started
    result: dict[str, Any] = json.loads(report.read_text("utf-8")) if report.exists() else {}
    cases = result.get("test_cases", {})
    print(
        f"schemathesis, every check: {result.get('operations', {}).get('tested')} operations, "
        f"{cases.get('generated')} cases, {cases.get('unique_failures')} findings, "
        f"{len(result.get('errors', []))} errors, {took:.0f} s"
    )
    assert run.returncode == 0 and result.get("failures") == [] and result.get("errors") == [], run.stdout[-20_000:]
    assert result["operations"]["tested"] == result["operations"]["total"], "every operation is tested"
    assert all(phase["status"] in ("success", "skip") for phase in result["phases"].values()), result["phases"]


def test_the_document_is_openapi_3_1_and_describes_every_route(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    from imagegate.http.endpoints import API_ROUTERS

    served = {
        (route.path, method.lower())
        for router in API_ROUTERS
        for route in router.routes
        if route.path != "/metrics"  # Prometheus text for scrapers, not part of the API
        for method in getattr(route, "methods", ()) or ()
        if method != "HEAD"
    }
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == described
    generation = document["paths"]["/v1/images/generations"]["post"]
    assert generation["requestBody"]["content"]["application/json"]["schema"]
    assert {"400", "401", "402", "429", "451", "502", "503", "504"} <= set(generation["responses"])
    error = document["components"]["schemas"]["ErrorObject"]
    assert set(error["required"]) == {"message", "type", "param", "code"}
