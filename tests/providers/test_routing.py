"""Routes from the operator's TOML file: priority, failover, per-route timeouts, an operator's own
OpenAI-compatible server, and circuit breakers (in process, and shared through Redis)."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import Account, Gateway, start_gateway
from tests.providers.conftest import NO_BREAKER, closed_port_url, provider_env, write_config
from tests.upstreams.fake_azure import FakeAzure
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_seedream import FakeSeedream

GPU_KEY = "sk-house-gpu"

ROUTES_TOML = """
[[models.gpt-image-2.routes]]
name = "primary"
provider = "openai"
upstream_model = "gpt-image-2"
priority = 1
timeout_seconds = 0.3

[[models.gpt-image-2.routes]]
name = "backup"
provider = "azure_openai"
upstream_model = "gpt-image-2"
priority = 2

[[models."seedream-4.5".routes]]
name = "down"
provider = "openai_compatible"
base_url = "{down}"
upstream_model = "seedream-on-my-gpus"
priority = 1

[[models."seedream-4.5".routes]]
name = "ark"
provider = "seedream"
credentials = "ark"
upstream_model = "seedream-4-5-251128"
priority = 2

[models.house-diffusion]
vendor = "Example Corp"
display_name = "House diffusion"
sizes = ["1024x1024", "2048x2048"]
max_n = 2
max_prompt_chars = 2000
latency_seconds = [2, 5]

[models.house-diffusion.prices.standard]
"1024x1024" = 1000
"2048x2048" = 2000

[[models.house-diffusion.routes]]
name = "gpu"
provider = "openai_compatible"
base_url = "{gpu}"
api_key_env = "HOUSE_GPU_KEY"
upstream_model = "sdxl-turbo"
native_formats = ["png", "jpeg"]
upscaled_from = {{ "2048x2048" = "1024x1024" }}
"""

BREAKER_TOML = """
[[models.gpt-image-2.routes]]
name = "primary"
provider = "openai"
upstream_model = "gpt-image-2"

[[models.gpt-image-2.routes]]
name = "backup"
provider = "azure_openai"
upstream_model = "gpt-image-2"
"""


@pytest.fixture(scope="module")
def house_gpu_server() -> Iterator[FakeOpenAI]:
    """An operator's own GPU server speaking the OpenAI Images API."""
    with FakeOpenAI(api_key=GPU_KEY) as fake:
        yield fake


@pytest.fixture
def house_gpu(house_gpu_server: FakeOpenAI) -> FakeOpenAI:
    house_gpu_server.reset()
    return house_gpu_server


@pytest.fixture(scope="module")
def routed(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_seedream: FakeSeedream,
    fake_azure: FakeAzure,
    house_gpu_server: FakeOpenAI,
) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("routed")
    toml = ROUTES_TOML.format(down=closed_port_url(), gpu=house_gpu_server.base_url)
    config = write_config(base / "imagegate.toml", toml)
    env = {
        **provider_env(fake_gemini, fake_seedream, fake_azure),
        **NO_BREAKER,
        "IMAGEGATE_CONFIG": config,
        "HOUSE_GPU_KEY": GPU_KEY,
    }
    gw = start_gateway(base / "data", fake_openai, env)
    yield gw
    gw.process.stop()


@pytest.fixture
def account(routed: Gateway) -> Account:
    return routed.new_account("10")


def test_route_one_failing_fails_over_to_route_two(
    routed: Gateway, account: Account, fake_openai: FakeOpenAI, fake_azure: FakeAzure
) -> None:
    fake_openai.script({"kind": "server_error", "times": 3})
    result = routed.client(account.key).images.generate(model="gpt-image-2", prompt="a cat", quality="low")
    assert len(result.data) == 1
    assert len(fake_openai.requests) == 3  # retried on route one first
    assert len(fake_azure.requests) == 1
    assert routed.balance(account.id) == (10_000_000 - 6_000, 0)  # billed once


def test_route_one_down_fails_over_to_route_two(routed: Gateway, account: Account, fake_seedream: FakeSeedream) -> None:
    result = routed.client(account.key).images.generate(model="seedream-4.5", prompt="a cat", size="2560x1440")
    assert len(result.data) == 1
    assert len(fake_seedream.requests) == 1
    assert routed.balance(account.id) == (10_000_000 - 40_000, 0)


def test_route_timeout_is_the_routes_own(
    routed: Gateway, account: Account, fake_openai: FakeOpenAI, fake_azure: FakeAzure
) -> None:
    fake_openai.script({"kind": "hang", "times": 3})
    started = time.monotonic()
    response = routed.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat"})
    assert response.status_code == 200
    assert time.monotonic() - started < 3 * 1.5  # three hangs cut at 0.3 s, not at the global 1.5 s
    assert len(fake_openai.requests) == 3 and len(fake_azure.requests) == 1


def test_rejected_key_on_route_one_fails_over(
    routed: Gateway, account: Account, fake_openai: FakeOpenAI, fake_azure: FakeAzure
) -> None:
    fake_openai.script({"kind": "invalid_key"})
    response = routed.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat"})
    assert response.status_code == 200
    assert len(fake_openai.requests) == 1 and len(fake_azure.requests) == 1


def test_safety_refusal_is_never_failed_over(
    routed: Gateway, account: Account, fake_openai: FakeOpenAI, fake_azure: FakeAzure
) -> None:
    fake_openai.script({"kind": "moderation_blocked"})
    response = routed.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat"})
    assert response.status_code == 451
    assert response.json()["error"]["code"] == "prompt_blocked"
    assert len(fake_openai.requests) == 1
    assert fake_azure.requests == []
    assert routed.balance(account.id) == (10_000_000, 0)


def test_every_route_failing_is_502(
    routed: Gateway, account: Account, fake_openai: FakeOpenAI, fake_azure: FakeAzure
) -> None:
    fake_openai.script({"kind": "server_error", "times": 3})
    fake_azure.script({"kind": "server_error", "times": 3})
    response = routed.post_images(account.key, {"model": "gpt-image-2", "prompt": "a cat"})
    assert response.status_code == 502
    assert len(fake_openai.requests) == 3 and len(fake_azure.requests) == 3
    assert routed.balance(account.id) == (10_000_000, 0)


def test_operators_own_openai_compatible_server(routed: Gateway, account: Account, house_gpu: FakeOpenAI) -> None:
    result = routed.client(account.key).images.generate(model="house-diffusion", prompt="a cat", output_format="jpeg")
    (sent,) = house_gpu.requests
    assert sent.headers["authorization"] == f"Bearer {GPU_KEY}"  # the key named by api_key_env
    assert sent.json["model"] == "sdxl-turbo"
    assert sent.json["output_format"] == "jpeg"
    assert httpx.get(result.data[0].url).headers["content-type"] == "image/jpeg"
    assert routed.balance(account.id) == (10_000_000 - 1_000, 0)


def test_route_level_upscaling_is_declared_and_done(routed: Gateway, account: Account, house_gpu: FakeOpenAI) -> None:
    with routed.http() as http:
        caps = http.get("/v1/models/house-diffusion").json()["imagegate"]["capabilities"]
    assert caps["upscaled_from"] == {"2048x2048": "1024x1024"}
    result = routed.client(account.key).images.generate(
        model="house-diffusion", prompt="a cat", size="2048x2048", output_format="webp"
    )
    (sent,) = house_gpu.requests
    assert (sent.json["size"], sent.json["output_format"]) == ("1024x1024", "png")
    image = Image.open(io.BytesIO(httpx.get(result.data[0].url).content))
    assert (image.format, image.size) == ("WEBP", (2048, 2048))


# --- circuit breakers -------------------------------------------------------------------------

COOLDOWN = 1.0


def _breaker_gateway(
    base: Any, cooldown: float, fake_openai: FakeOpenAI, fakes: tuple[FakeGemini, FakeSeedream, FakeAzure]
) -> Gateway:
    env = {
        **provider_env(*fakes),
        "IMAGEGATE_CONFIG": write_config(base / "imagegate.toml", BREAKER_TOML),
        "IMAGEGATE_BREAKER_FAILURES": "2",
        "IMAGEGATE_BREAKER_COOLDOWN_SECONDS": str(cooldown),
    }
    return start_gateway(base / "data", fake_openai, env)


@pytest.fixture(scope="module")
def breaker_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_seedream: FakeSeedream,
    fake_azure: FakeAzure,
) -> Iterator[Gateway]:
    """Circuits open after 2 failures and probe after COOLDOWN seconds."""
    gw = _breaker_gateway(
        tmp_path_factory.mktemp("breaker"), COOLDOWN, fake_openai, (fake_gemini, fake_seedream, fake_azure)
    )
    yield gw
    gw.process.stop()


@pytest.fixture(scope="module")
def stuck_breaker_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_seedream: FakeSeedream,
    fake_azure: FakeAzure,
) -> Iterator[Gateway]:
    """Circuits that stay open for the whole test (a minute), so their state can be read at leisure."""
    gw = _breaker_gateway(tmp_path_factory.mktemp("stuck"), 60, fake_openai, (fake_gemini, fake_seedream, fake_azure))
    yield gw
    gw.process.stop()


def routes_list(gateway: Gateway, extra_env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """`imagegate routes list --json`, by "model/route"."""
    if extra_env:
        gateway = Gateway(gateway.process, gateway.port, {**gateway.env, **extra_env})
    if gateway.process is not None and "IMAGEGATE_REDIS_URL" not in gateway.env:
        wait_for_published_circuits(Path(gateway.env["IMAGEGATE_DATA_DIR"]) / "run")
    report = json.loads(gateway.cli("routes", "list", "--json"))
    return {f"{row['model']}/{row['route']}": row for row in report["routes"]}


PUBLISH_INTERVAL = 1.0  # MemoryCircuitStore's default


def wait_for_published_circuits(run_dir: Path) -> None:
    """Until the gateway has published what it recorded before now (it writes at most once a second).

    A change is written at once after a quiet second, else one interval after the previous write:
    so once the file is newer than `start`, or an interval (plus slack) has passed since its last
    write, nothing recorded before `start` is still unwritten. Bounded: polls for at most 5 s.
    """
    start = time.time()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        written = [_written_at(path) for path in run_dir.glob("circuits-*.json")]
        newest = max((w for w in written if w is not None), default=None)
        if newest is None or newest >= start or time.time() >= newest + PUBLISH_INTERVAL + 0.5:
            return
        time.sleep(0.02)


def _written_at(path: Path) -> float | None:
    try:
        return float(json.loads(path.read_text("utf-8"))["written_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _open_gemini_circuit(gateway: Gateway, account: Account, fake: FakeGemini) -> None:
    balance = gateway.balance(account.id)
    fake.script({"kind": "server_error", "times": 2})
    response = gateway.post_images(account.key, {"model": "nano-banana-2", "prompt": "x"})
    assert response.status_code == 502  # the request that opened it failed on the upstream, not on the breaker
    assert len(fake.requests) == 2  # the third attempt was not made: the circuit opened
    skipped = gateway.post_images(account.key, {"model": "nano-banana-2", "prompt": "x"})
    assert skipped.status_code == 503
    assert skipped.json()["error"]["code"] == "no_route_available"
    assert len(fake.requests) == 2  # the open route was not called
    assert gateway.balance(account.id) == balance  # neither cost anything


def test_circuit_opens_then_one_probe_closes_it(breaker_gateway: Gateway, fake_gemini: FakeGemini) -> None:
    account = breaker_gateway.new_account("10")
    _open_gemini_circuit(breaker_gateway, account, fake_gemini)
    time.sleep(COOLDOWN)  # the cool-down itself is what is under test
    row = routes_list(breaker_gateway)["nano-banana-2/gemini"]
    assert (row["circuit"], row["consecutive_failures"]) == ("half_open", 2)
    probe = breaker_gateway.post_images(account.key, {"model": "nano-banana-2", "prompt": "x"})
    assert probe.status_code == 200
    assert len(fake_gemini.requests) == 3
    row = routes_list(breaker_gateway)["nano-banana-2/gemini"]
    assert (row["circuit"], row["consecutive_failures"]) == ("closed", 0)
    assert row["recent"]["calls"] == 3 and row["recent"]["errors"] == 2
    assert row["recent"]["latency_ms_p50"] is not None
    assert breaker_gateway.balance(account.id) == (10_000_000 - 67_000, 0)


def test_failed_probe_opens_the_circuit_again(breaker_gateway: Gateway, fake_gemini: FakeGemini) -> None:
    account = breaker_gateway.new_account("10")
    _open_gemini_circuit(breaker_gateway, account, fake_gemini)
    time.sleep(COOLDOWN)
    fake_gemini.script({"kind": "server_error"})
    probe = breaker_gateway.post_images(account.key, {"model": "nano-banana-2", "prompt": "x"})
    assert probe.status_code == 502
    assert len(fake_gemini.requests) == 3  # one probe, no retry past the reopened circuit
    assert breaker_gateway.post_images(account.key, {"model": "nano-banana-2", "prompt": "x"}).status_code == 503
    assert len(fake_gemini.requests) == 3
    time.sleep(COOLDOWN)
    assert breaker_gateway.post_images(account.key, {"model": "nano-banana-2", "prompt": "x"}).status_code == 200
    assert breaker_gateway.balance(account.id) == (10_000_000 - 67_000, 0)


def test_half_open_circuit_lets_exactly_one_probe_through(breaker_gateway: Gateway, fake_gemini: FakeGemini) -> None:
    account = breaker_gateway.new_account("10")
    _open_gemini_circuit(breaker_gateway, account, fake_gemini)
    time.sleep(COOLDOWN)
    fake_gemini.script({"kind": "delay", "seconds": 0.5})
    done: dict[str, httpx.Response] = {}
    body = {"model": "nano-banana-2", "prompt": "x"}
    first = threading.Thread(target=lambda: done.setdefault("probe", breaker_gateway.post_images(account.key, body)))
    first.start()
    fake_gemini.wait_for_requests(3)  # the probe has reached the upstream and holds the probe slot
    second = breaker_gateway.post_images(account.key, body)
    first.join(30)
    assert second.status_code == 503
    assert done["probe"].status_code == 200
    assert len(fake_gemini.requests) == 3


def test_open_circuit_is_listed_and_route_two_serves_at_once(
    stuck_breaker_gateway: Gateway, fake_openai: FakeOpenAI, fake_azure: FakeAzure, fake_gemini: FakeGemini
) -> None:
    gateway = stuck_breaker_gateway
    account = gateway.new_account("10")
    fake_openai.script({"kind": "server_error", "times": 2})
    assert gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": "x"}).status_code == 200
    assert (len(fake_openai.requests), len(fake_azure.requests)) == (2, 1)
    assert gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": "x"}).status_code == 200
    assert (len(fake_openai.requests), len(fake_azure.requests)) == (2, 2)  # route one skipped while open
    _open_gemini_circuit(gateway, account, fake_gemini)
    rows = routes_list(gateway)
    primary, backup, gemini = rows["gpt-image-2/primary"], rows["gpt-image-2/backup"], rows["nano-banana-2/gemini"]
    assert (primary["circuit"], primary["consecutive_failures"], primary["recent"]["error_rate"]) == ("open", 2, 1.0)
    assert (backup["circuit"], backup["recent"]["calls"], backup["recent"]["errors"]) == ("closed", 2, 0)
    assert backup["recent"]["latency_ms_p50"] is not None and backup["recent"]["latency_ms_p95"] is not None
    assert (gemini["circuit"], gemini["consecutive_failures"]) == ("open", 2)
    assert gateway.balance(account.id) == (10_000_000 - 2 * 53_000, 0)


def test_routes_list_shows_every_route_in_priority_order(breaker_gateway: Gateway) -> None:
    rows = routes_list(breaker_gateway)
    assert [key for key in rows if key.startswith("gpt-image-2/")] == ["gpt-image-2/primary", "gpt-image-2/backup"]
    assert all(row["configured"] for row in rows.values())
    text = breaker_gateway.cli("routes", "list")
    assert "nano-banana-2" in text and "gemini" in text and "circuit" in text


def test_routes_list_without_credentials(tmp_path: Any) -> None:
    gateway = Gateway(process=None, port=0, env={"IMAGEGATE_DATA_DIR": str(tmp_path / "data")})  # type: ignore[arg-type]
    rows = routes_list(gateway)
    assert rows["nano-banana-2/gemini"]["configured"] is False
    assert rows["preview/preview"]["configured"] is True
    assert rows["nano-banana-2/gemini"]["circuit"] == "closed"
    assert rows["nano-banana-2/gemini"]["recent"]["calls"] == 0


# --- shared through Redis ---------------------------------------------------------------------


def test_circuit_state_is_shared_through_redis(
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_seedream: FakeSeedream,
    fake_azure: FakeAzure,
) -> None:
    prefix = f"imagegate-test-{uuid.uuid4().hex[:12]}"
    env = {
        **provider_env(fake_gemini, fake_seedream, fake_azure),
        "IMAGEGATE_REDIS_URL": redis_url,
        "IMAGEGATE_REDIS_PREFIX": prefix,
        "IMAGEGATE_BREAKER_FAILURES": "2",
        "IMAGEGATE_BREAKER_COOLDOWN_SECONDS": "60",
    }
    base = tmp_path_factory.mktemp("redis")
    node_a = start_gateway(base / "a", fake_openai, env)
    node_b = start_gateway(base / "b", fake_openai, env)
    try:
        account_a, account_b = node_a.new_account("10"), node_b.new_account("10")
        _open_gemini_circuit(node_a, account_a, fake_gemini)
        response = node_b.post_images(account_b.key, {"model": "nano-banana-2", "prompt": "x"})
        assert response.status_code == 503  # node B saw node A's open circuit
        assert len(fake_gemini.requests) == 2
        row = routes_list(node_b)["nano-banana-2/gemini"]
        assert (row["circuit"], row["consecutive_failures"]) == ("open", 2)
        assert row["recent"]["errors"] == 2
        assert node_b.post_images(account_b.key, {"model": "nano-banana-pro", "prompt": "x"}).status_code == 200
    finally:
        node_a.process.stop()
        node_b.process.stop()
        _delete_keys(redis_url, prefix)


def _delete_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=100))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
