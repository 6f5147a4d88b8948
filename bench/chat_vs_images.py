"""Gateway CPU per request: an image through Chat Completions against the same image through the
Images API (issue 18: a chat image may cost at most 10 % more gateway CPU).

    .venv/bin/python bench/chat_vs_images.py [--rounds 10] [--requests 200] [--concurrency 8]

Starts, on 127.0.0.1 only, the fake upstream and a gateway (`imagegate serve`, SQLite, a live key
on a funded account; the bench models of `scenarios.py`), as `run.py` does. Then, for each image
kind (tiny: a 256x256 PNG of 1.6 kB; large: a 1024x1024 PNG of 1.8 MB), it alternates blocks of
`--requests` requests, A (`POST /v1/images/generations`, `response_format: b64_json`) and B
(`POST /v1/chat/completions`, the same model, size and prompt; its default answer is the same image
inline, as a data URL), `--rounds` times each, and reads the gateway process's CPU time from /proc
before and after each block: CPU per request of the gateway alone, whatever else loads the machine
(the machine is shared; alternating the blocks spreads that load over both). Prints, per kind, the
median of each, their ratio and the median of each round's chat/images ratio (its two blocks ran
back to back, so it is the steadier figure under load), and one JSON line of all the figures. Every request is checked (200
and an image); every process started here is stopped by its own id.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from procstat import tree_cpu_seconds
from run import BENCH, UPSTREAM_KEY, free_port, gateway_env, live_key, started, wait_until_up
from scenarios import LARGE, PROMPT, TINY, Behaviour, operator_toml

KINDS = {"tiny": (TINY, "256x256"), "large": (LARGE, "1024x1024")}


def bodies(behaviour: Behaviour, size: str) -> dict[str, tuple[str, bytes]]:
    images = {"model": behaviour.name, "prompt": PROMPT, "size": size, "response_format": "b64_json"}
    chat = {
        "model": behaviour.name,
        "messages": [{"role": "user", "content": PROMPT}],
        "modalities": ["image", "text"],
        "size": size,
    }
    return {
        "images": ("/v1/images/generations", json.dumps(images).encode()),
        "chat": ("/v1/chat/completions", json.dumps(chat).encode()),
    }


def block(port: int, key: str, path: str, body: bytes, requests: int, concurrency: int, min_bytes: int) -> None:
    """`requests` POSTs over `concurrency` keep-alive connections; each must be a 200 at least
    `min_bytes` long (the image's base64: what the first answer of each kind was checked to hold)."""
    left = iter(range(requests))
    lock = threading.Lock()
    failures: list[str] = []
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while True:
                with lock:
                    if next(left, None) is None:
                        return
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200 or len(answer) < min_bytes:  # the same cheap check for both
                    failures.append(f"{path}: {response.status} {answer[:200]!r}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(failures[0])


def check_answer(port: int, key: str, path: str, body: bytes, min_bytes: int) -> None:
    """One answer of the kind holds a base64 PNG image of at least `min_bytes` (as b64_json or a data URL)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST", path, body=body, headers={"content-type": "application/json", "authorization": f"Bearer {key}"}
        )
        response = conn.getresponse()
        answer = json.loads(response.read())
    finally:
        conn.close()
    if path.endswith("generations"):
        b64 = answer["data"][0]["b64_json"]
    else:
        b64 = answer["choices"][0]["message"]["images"][0]["image_url"]["url"].removeprefix("data:image/png;base64,")
    if response.status != 200 or len(b64) < min_bytes or not b64.startswith("iVBORw0KGgo"):
        raise SystemExit(f"{path}: not an image: {response.status} {str(answer)[:200]}")


def measure(pid: int, port: int, key: str, kind: str, a: argparse.Namespace) -> dict[str, object]:
    behaviour, size = KINDS[kind]
    sent = bodies(behaviour, size)
    min_bytes = {"tiny": 1_000, "large": 1_000_000}[kind]
    for path, body in sent.values():  # check one answer of each, then warm both paths before measuring
        check_answer(port, key, path, body, min_bytes)
        block(port, key, path, body, 20, a.concurrency, min_bytes)
    per_request: dict[str, list[float]] = {"images": [], "chat": []}
    for round_ in range(a.rounds):
        order = ("images", "chat") if round_ % 2 == 0 else ("chat", "images")
        for surface in order:
            path, body = sent[surface]
            before = tree_cpu_seconds(pid)
            block(port, key, path, body, a.requests, a.concurrency, min_bytes)
            per_request[surface].append((tree_cpu_seconds(pid) - before) * 1000 / a.requests)
    images, chat = (statistics.median(per_request[s]) for s in ("images", "chat"))
    paired = [c / i for c, i in zip(per_request["chat"], per_request["images"], strict=True)]
    return {
        "kind": kind,
        "size": size,
        "images_ms": round(images, 3),
        "chat_ms": round(chat, 3),
        "chat_over_images": round(chat / images, 4),
        "paired_ratio_median": round(statistics.median(paired), 4),
        "load_average": os.getloadavg()[0],
        "images_blocks": [round(v, 3) for v in per_request["images"]],
        "chat_blocks": [round(v, 3) for v in per_request["chat"]],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200, help="requests per block")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kinds", default="tiny,large")
    a = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="imagegate-chat-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        (work / "bench-models.toml").write_text(operator_toml())
        upstream_port, port = free_port(), free_port()
        fake_cmd = [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(upstream_port)]
        fake = stack.enter_context(started([*fake_cmd, "--api-key", UPSTREAM_KEY], dict(os.environ), work / "fake.log"))
        wait_until_up(f"http://127.0.0.1:{upstream_port}/healthz", fake, work / "fake.log", 120)
        env = gateway_env(work, port, upstream_port)
        env["IMAGEGATE_ACCESS_LOG"] = "false"
        key = live_key(env)
        cmd = [str(Path(sys.executable).with_name("imagegate")), "serve", "--workers", "1"]
        gateway = stack.enter_context(started(cmd, env, work / "gateway.log"))
        wait_until_up(f"http://127.0.0.1:{port}/healthz", gateway, work / "gateway.log", 120)
        results = []
        for kind in a.kinds.split(","):
            started_at = time.monotonic()
            result = measure(gateway.pid, port, key, kind, a)
            results.append(result)
            print(
                f"{kind} ({result['size']}): images {result['images_ms']} ms, chat {result['chat_ms']} ms of gateway "
                f"CPU per request; chat/images = {result['chat_over_images']:.3f}, median of the rounds' ratios "
                f"{result['paired_ratio_median']:.3f} ({time.monotonic() - started_at:.0f} s)"
            )
        print(
            json.dumps({"rounds": a.rounds, "requests": a.requests, "concurrency": a.concurrency, "results": results})
        )


if __name__ == "__main__":
    main()
