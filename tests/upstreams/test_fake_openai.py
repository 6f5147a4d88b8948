"""Tests of the fake OpenAI Images API itself (and of tests.support.processes)."""

from __future__ import annotations

import base64
import binascii
import io
import json
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.support.processes import ManagedProcess, ProcessStartError, free_port
from tests.upstreams.fake_openai import BEHAVIOURS, FakeOpenAI

KEY = "sk-fake-upstream"
GEN = "/images/generations"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fake():
    f = FakeOpenAI(api_key=KEY)
    f.start()
    yield f
    f.stop()


@pytest.fixture(autouse=True)
def _clean(fake):
    fake.reset()
    fake.auto_quality = "medium"
    yield
    fake.reset()


@pytest.fixture
def client(fake):
    with httpx.Client(
        base_url=fake.base_url, headers={"authorization": f"Bearer {KEY}"}, trust_env=False, timeout=5
    ) as c:
        yield c


def body(**kw):
    return {"model": "gpt-image-2", "prompt": "a red fox", **kw}


def decode(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    img.load()
    return img


def assert_error(r: httpx.Response, status: int, type_: str, code, param=None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"].startswith("req_")
    err = r.json()["error"]
    assert {"message", "type", "param", "code"} <= set(err)
    assert err["type"] == type_
    assert err["code"] == code
    assert err["param"] == param
    assert isinstance(err["message"], str) and err["message"]
    return err


# --- success -------------------------------------------------------------------------------------


def test_success_default_shape_and_image(client):
    r = client.post(GEN, json=body())
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"].startswith("req_")
    d = r.json()
    assert set(d) == {"created", "background", "output_format", "quality", "size", "data", "usage"}
    assert isinstance(d["created"], int) and abs(d["created"] - time.time()) < 60
    assert (d["background"], d["output_format"], d["quality"], d["size"]) == ("opaque", "png", "medium", "1024x1024")
    assert d["usage"] == {
        "input_tokens": 50,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": 50},
        "output_tokens": 1056,
        "total_tokens": 1106,
    }
    assert len(d["data"]) == 1 and set(d["data"][0]) == {"b64_json"}
    img = decode(d["data"][0]["b64_json"])
    assert (img.format, img.size) == ("PNG", (1024, 1024))


@pytest.mark.parametrize(
    "fmt,pil,size,quality",
    [("jpeg", "JPEG", "1536x1024", "high"), ("webp", "WEBP", "1024x1536", "low"), ("png", "PNG", "2048x1152", "auto")],
)
def test_success_size_format_quality_and_distinct_images(client, fmt, pil, size, quality):
    r = client.post(GEN, json=body(n=3, size=size, output_format=fmt, quality=quality))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["output_format"] == fmt and d["size"] == size
    assert d["quality"] == ("medium" if quality == "auto" else quality)
    assert len(d["data"]) == 3
    w, h = map(int, size.split("x"))
    for item in d["data"]:
        img = decode(item["b64_json"])
        assert (img.format, img.size) == (pil, (w, h))
    assert len({item["b64_json"] for item in d["data"]}) == 3


def test_auto_quality_attribute_and_all_allowed_fields(fake, client):
    fake.auto_quality = "high"
    r = client.post(
        GEN,
        json=body(
            n=1,
            size="auto",
            quality="auto",
            output_format="webp",
            output_compression=50,
            background="transparent",
            moderation="low",
            user="u-1",
            stream=False,
            partial_images=0,
        ),
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["quality"], d["size"], d["background"]) == ("high", "1024x1024", "transparent")
    assert decode(d["data"][0]["b64_json"]).mode == "RGBA"


def test_stream_sse(client):
    r = client.post(GEN, json=body(stream=True, partial_images=2, n=1))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in r.text.split("\n\n") if f.strip()]
    events = [(f.split("\n")[0], json.loads(f.split("\n")[1][len("data: ") :])) for f in frames]
    assert [e[0] for e in events] == ["event: image_generation.partial_image"] * 2 + [
        "event: image_generation.completed"
    ]
    assert [e[1].get("partial_image_index") for e in events[:2]] == [0, 1]
    done = events[-1][1]
    assert done["type"] == "image_generation.completed" and done["usage"]["total_tokens"] == 1106
    assert decode(done["b64_json"]).size == (1024, 1024)


def test_keep_alive_reuses_connection(fake, client):
    before = fake.connections_opened
    for _ in range(3):
        assert client.post(GEN, json=body()).status_code == 200
    assert fake.connections_opened - before <= 1


# --- auth and validation -------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer sk-wrong-key-123456"}, {"authorization": KEY}])
def test_401_bad_or_missing_key_is_recorded(fake, headers):
    with httpx.Client(base_url=fake.base_url, trust_env=False, timeout=5) as c:
        r = c.post(GEN, json=body(), headers=headers)
    err = assert_error(r, 401, "invalid_request_error", "invalid_api_key")
    if "sk-wrong" in str(headers):
        assert err["message"].startswith("Incorrect API key provided: sk-")
        assert "sk-wrong-key-123456" not in err["message"]  # masked like the real API
    assert len(fake.requests) == 1 and fake.requests[0].path == "/v1/images/generations"


@pytest.mark.parametrize(
    "extra,param,code",
    [
        ({"style": "vivid"}, "style", "unknown_parameter"),
        ({"response_format": "b64_json"}, "response_format", "unknown_parameter"),
        ({"foo": 1}, "foo", "unknown_parameter"),
        ({"size": "1000x1000"}, "size", "invalid_value"),
        ({"size": "4096x1024"}, "size", "invalid_value"),
        ({"size": "3840x2176"}, "size", "invalid_value"),
        ({"size": "big"}, "size", "invalid_value"),
        ({"output_compression": 50}, "output_compression", "invalid_value"),
        ({"output_compression": 50, "output_format": "png"}, "output_compression", "invalid_value"),
        ({"n": 11}, "n", "integer_above_max_value"),
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"n": "2"}, "n", "invalid_type"),
        ({"quality": "hd"}, "quality", "invalid_value"),
        ({"output_format": "gif"}, "output_format", "invalid_value"),
        ({"background": "transparent", "output_format": "jpeg"}, "background", "invalid_value"),
        ({"prompt": None}, "prompt", "missing_required_parameter"),
        ({"model": None}, "model", "missing_required_parameter"),
        ({"prompt": 5}, "prompt", "invalid_type"),
    ],
)
def test_validation_errors(client, extra, param, code):
    b = body(**extra)
    for k in [k for k, v in extra.items() if v is None]:
        del b[k]
    r = client.post(GEN, json=b)
    err = assert_error(r, 400, "invalid_request_error", code, param)
    if code == "unknown_parameter":
        assert err["message"] == f"Unknown parameter: '{param}'."


def test_style_error_body_exact(client):
    r = client.post(GEN, json=body(style="vivid"))
    assert r.json() == {
        "error": {
            "message": "Unknown parameter: 'style'.",
            "type": "invalid_request_error",
            "param": "style",
            "code": "unknown_parameter",
        }
    }


def test_non_json_body(client):
    r = client.post(GEN, content=b"{not json", headers={"content-type": "application/json"})
    assert_error(r, 400, "invalid_request_error", None)


def test_unknown_path_404(client):
    r = client.post("/images/nope", json=body())
    assert_error(r, 404, "invalid_request_error", None)


# --- scripted behaviours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour,status,type_,code,param",
    [
        ({"kind": "server_error"}, 500, "server_error", None, None),
        ({"kind": "rate_limit"}, 429, "requests", "rate_limit_exceeded", None),
        ({"kind": "insufficient_quota"}, 429, "insufficient_quota", "insufficient_quota", None),
        ({"kind": "invalid_key"}, 401, "invalid_request_error", "invalid_api_key", None),
        ({"kind": "bad_param", "param": "quality"}, 400, "invalid_request_error", "invalid_value", "quality"),
        ({"kind": "moderation_blocked"}, 400, "image_generation_user_error", "moderation_blocked", None),
        ({"kind": "content_policy"}, 400, "invalid_request_error", "content_policy_violation", None),
        ({"kind": "billing_limit"}, 400, "invalid_request_error", "billing_hard_limit_reached", None),
        ({"kind": "model_not_found"}, 404, "invalid_request_error", "model_not_found", None),
    ],
)
def test_error_behaviours(fake, client, behaviour, status, type_, code, param):
    fake.script(behaviour)
    err = assert_error(client.post(GEN, json=body()), status, type_, code, param)
    if code == "moderation_blocked":
        assert err["moderation_details"]["moderation_stage"] == "input"
    assert client.post(GEN, json=body()).status_code == 200  # queue empty -> ok


def test_moderation_output_stage(fake, client):
    fake.script({"kind": "moderation_blocked", "stage": "output", "categories": ["violence"]})
    err = client.post(GEN, json=body()).json()["error"]
    assert err["moderation_details"] == {"moderation_stage": "output", "categories": ["violence"]}
    assert "safety_violations=[violence]" in err["message"]


def test_rate_limit_retry_after_headers(fake, client):
    fake.script({"kind": "rate_limit", "retry_after": 2, "retry_after_ms": 1500}, {"kind": "rate_limit"})
    r = client.post(GEN, json=body())
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2" and r.headers["retry-after-ms"] == "1500"
    r = client.post(GEN, json=body())
    assert r.status_code == 429 and "retry-after" not in r.headers


def test_status_behaviour_and_extra_headers(fake, client):
    fake.script(
        {
            "kind": "status",
            "status": 503,
            "body": {"error": {"message": "busy", "type": "server_error", "param": None, "code": "overloaded"}},
            "headers": {"X-Should-Retry": "false"},
        },
        {"kind": "status", "status": 418},
        {"kind": "status", "status": 502, "body": "<html>bad gateway</html>"},
    )
    r = client.post(GEN, json=body())
    assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
    assert r.headers["x-should-retry"] == "false"
    assert_error(client.post(GEN, json=body()), 418, "invalid_request_error", None)
    r = client.post(GEN, json=body())
    assert r.status_code == 502 and r.text == "<html>bad gateway</html>"


def test_script_order_and_times(fake, client):
    fake.script({"kind": "rate_limit"}, {"kind": "server_error", "times": 2}, {"kind": "content_policy"})
    assert fake.pending_behaviours == 4
    codes = [client.post(GEN, json=body()).status_code for _ in range(6)]
    assert codes == [429, 500, 500, 400, 200, 200]


def test_unknown_behaviour_rejected(fake):
    with pytest.raises(ValueError):
        fake.script({"kind": "explode"})
    with pytest.raises(ValueError):
        fake.script({"kind": "hang", "secs": 1})
    assert fake.pending_behaviours == 0


def test_scripted_error_still_needs_key(fake):
    fake.script({"kind": "server_error"})
    with httpx.Client(base_url=fake.base_url, trust_env=False, timeout=5) as c:
        assert c.post(GEN, json=body()).status_code == 401
    assert fake.pending_behaviours == 0  # the behaviour was taken by that request


def test_drop_is_a_connection_error(fake, client):
    fake.script({"kind": "drop"})
    with pytest.raises(httpx.TransportError):
        client.post(GEN, json=body())
    assert client.post(GEN, json=body()).status_code == 200
    assert len(fake.requests) == 2


def test_drop_after_partial_response(fake, client):
    fake.script({"kind": "drop", "partial_bytes": 300})
    with pytest.raises(httpx.TransportError):
        client.post(GEN, json=body())


def test_pause_before_completed_sends_the_partials_first(fake, client):
    fake.script({"kind": "pause_before_completed", "seconds": 1})
    t0 = time.monotonic()
    with client.stream("POST", GEN, json=body(stream=True, partial_images=1, n=1)) as r:
        lines = r.iter_lines()
        first = next(line for line in lines if line.startswith("event: "))
        at_partial = time.monotonic() - t0
        rest = [line for line in lines if line.startswith("event: ")]
    assert first == "event: image_generation.partial_image" and at_partial < 0.9
    assert rest == ["event: image_generation.completed"] and time.monotonic() - t0 >= 1


def test_hang_is_a_read_timeout_and_disconnect_is_seen(fake, client):
    fake.script({"kind": "hang"})
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post(GEN, json=body(), timeout=0.5)
    assert time.monotonic() - t0 < 2
    fake.wait_for_client_disconnects(1, timeout=2)
    assert client.post(GEN, json=body()).status_code == 200


def test_hang_with_seconds_then_closes(fake, client):
    fake.script({"kind": "hang", "seconds": 0.2})
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(GEN, json=body(), timeout=3)


def test_delay(fake, client):
    fake.script({"kind": "delay", "seconds": 0.3})
    t0 = time.monotonic()
    r = client.post(GEN, json=body())
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.3
    assert int(r.headers["openai-processing-ms"]) >= 300


def test_hold_answers_once_released(fake, client):
    fake.script({"kind": "hold", "seconds": 30})
    answered: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answered.append(client.post(GEN, json=body())))
    waiting.start()
    fake.wait_for_requests(1)
    fake.reset()  # a held request stays held through a reset
    waiting.join(0.3)
    assert answered == []
    fake.release()
    waiting.join(10)
    assert [r.status_code for r in answered] == [200]


def test_malformed_json(fake, client):
    fake.script({"kind": "malformed_json"})
    r = client.post(GEN, json=body())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


def test_bad_b64(fake, client):
    fake.script({"kind": "bad_b64"})
    r = client.post(GEN, json=body())
    with pytest.raises(binascii.Error):
        base64.b64decode(r.json()["data"][0]["b64_json"], validate=True)


def test_truncated_image(fake, client):
    fake.script({"kind": "truncated_image"})
    raw = base64.b64decode(client.post(GEN, json=body()).json()["data"][0]["b64_json"], validate=True)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(OSError):
        Image.open(io.BytesIO(raw)).load()


def test_wrong_size(fake, client):
    fake.script({"kind": "wrong_size"}, {"kind": "wrong_size", "size": "256x128"})
    d = client.post(GEN, json=body(size="1024x1024")).json()
    assert d["size"] == "1024x1024" and decode(d["data"][0]["b64_json"]).size == (512, 512)
    d = client.post(GEN, json=body()).json()
    assert decode(d["data"][0]["b64_json"]).size == (256, 128)


def test_wrong_format(fake, client):
    fake.script({"kind": "wrong_format"})
    d = client.post(GEN, json=body(output_format="png")).json()
    assert d["output_format"] == "png" and decode(d["data"][0]["b64_json"]).format == "JPEG"


def test_fewer_images(fake, client):
    fake.script({"kind": "fewer_images"}, {"kind": "fewer_images"})
    assert len(client.post(GEN, json=body(n=3)).json()["data"]) == 2
    assert client.post(GEN, json=body(n=1)).json()["data"] == []


def test_every_behaviour_kind_is_tested():
    here = Path(__file__).read_text()
    assert [k for k in BEHAVIOURS if f'"kind": "{k}"' not in here] == ["ok"]


# --- recording -----------------------------------------------------------------------------------


def test_request_recording(fake, client):
    t0 = time.monotonic()
    client.post(GEN, json=body(n=2), headers={"X-Custom": "Yes", "OpenAI-Project": "proj_1"})
    client.get("/models")
    reqs = fake.wait_for_requests(2, timeout=2)
    first, second = reqs
    assert (first.method, first.path) == ("POST", "/v1/images/generations")
    assert first.headers["x-custom"] == "Yes" and first.headers["openai-project"] == "proj_1"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert all(k == k.lower() for k in first.headers)
    assert first.json == body(n=2) and json.loads(first.body) == body(n=2)
    assert t0 <= first.time <= second.time <= time.monotonic()
    assert (second.method, second.path, second.json, second.body) == ("GET", "/v1/models", None, b"")
    fake.reset()
    assert fake.requests == []


def test_wait_for_requests_blocks_then_times_out(fake, client):
    threading.Timer(0.2, lambda: client.post(GEN, json=body())).start()
    t0 = time.monotonic()
    assert len(fake.wait_for_requests(1, timeout=3)) == 1
    assert time.monotonic() - t0 >= 0.15
    with pytest.raises(TimeoutError):
        fake.wait_for_requests(2, timeout=0.2)


def test_requests_is_a_snapshot(fake, client):
    snap = fake.requests
    client.post(GEN, json=body())
    assert snap == [] and len(fake.requests) == 1


def test_control_endpoints_in_process(fake, client):
    root = fake.base_url[: -len("/v1")]
    with httpx.Client(base_url=root, trust_env=False, timeout=5) as ctl:
        assert ctl.post("/_control/script", json=[{"kind": "server_error"}]).json() == {"queued": 1}
        assert ctl.post("/_control/script", json=[{"kind": "nope"}]).status_code == 400
        assert client.post(GEN, json=body()).status_code == 500
        recs = ctl.get("/_control/requests").json()
        assert len(recs) == 1 and recs[0]["path"] == "/v1/images/generations" and recs[0]["json"] == body()
        assert ctl.post("/_control/reset").json() == {"ok": True}
        assert ctl.get("/_control/requests").json() == []


# --- process mode + tests.support.processes ------------------------------------------------------


def test_process_mode(tmp_path):
    port = free_port()
    proc = ManagedProcess(
        [sys.executable, "-m", "tests.upstreams.fake_openai", "--port", str(port), "--api-key", "sk-proc"],
        env={"PYTHONUNBUFFERED": "1"},
        log_path=tmp_path / "fake.log",
        cwd=REPO_ROOT,
    )
    proc.start(ready_url=f"http://127.0.0.1:{port}/_control/health", timeout=20)
    try:
        assert proc.pid and proc.is_running()
        root = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=root, trust_env=False, timeout=5) as c:
            assert c.post("/_control/script", json=[{"kind": "rate_limit", "retry_after": 1}]).status_code == 200
            auth = {"authorization": "Bearer sk-proc"}
            r = c.post("/v1/images/generations", json=body(), headers=auth)
            assert r.status_code == 429 and r.headers["retry-after"] == "1"
            assert c.post("/v1/images/generations", json=body(), headers=auth).status_code == 200
            assert len(c.get("/_control/requests").json()) == 2
            c.post("/_control/reset")
            assert c.get("/_control/requests").json() == []
    finally:
        proc.stop()
    assert not proc.is_running()
    assert "listening on" in proc.log_text()


def test_managed_process_exit_before_ready(tmp_path):
    proc = ManagedProcess(
        [sys.executable, "-c", "import sys; print('boom line'); sys.exit(3)"],
        env={},
        log_path=tmp_path / "x.log",
    )
    with pytest.raises(ProcessStartError, match="boom line"):
        proc.start(ready_port=free_port(), timeout=10)


def test_managed_process_not_ready_times_out(tmp_path):
    proc = ManagedProcess([sys.executable, "-c", "import time; time.sleep(30)"], env={}, log_path=tmp_path / "y.log")
    t0 = time.monotonic()
    with pytest.raises(ProcessStartError, match="not ready"):
        proc.start(ready_url=f"http://127.0.0.1:{free_port()}/", timeout=0.5)
    assert not proc.is_running() and time.monotonic() - t0 < 5


def test_managed_process_stop_escalates_to_sigkill(tmp_path):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('stubborn', flush=True); time.sleep(30)"
    )
    proc = ManagedProcess([sys.executable, "-c", code], env={}, log_path=tmp_path / "z.log")
    proc.start()
    deadline = time.monotonic() + 10
    while "stubborn" not in proc.log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    proc.stop(timeout=0.3)
    assert not proc.is_running() and proc.returncode == -9
    assert time.monotonic() - t0 < 5
    proc.stop()  # idempotent
