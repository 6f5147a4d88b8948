"""Peak memory of the large-image case: 16 parallel test-key requests of four 4096² images each.

    .venv/bin/python bench/large_memory.py [--budget PIXELS] [--requests 16] [--n 4] [--size 4096x4096]

Starts `imagegate serve` on 127.0.0.1 with `IMAGEGATE_MAX_PIXELS_IN_FLIGHT=PIXELS` (0: no bound),
makes a test-mode key, sends the requests at once, and prints one JSON line: the gateway's peak
resident memory (VmHWM), the wall time and the statuses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc (Linux only)")


async def fire(base: str, key: str, count: int, n: int, size: str) -> list[int]:
    body = {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "n": n, "size": size, "output_format": "png"}
    async with httpx.AsyncClient(base_url=base, timeout=900, headers={"Authorization": f"Bearer {key}"}) as client:
        responses = await asyncio.gather(*(client.post("/v1/images/generations", json=body) for _ in range(count)))
    return [r.status_code for r in responses]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--budget", type=int, default=None, help="IMAGEGATE_MAX_PIXELS_IN_FLIGHT (default: the gateway's)")
    p.add_argument("--requests", type=int, default=16)
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--size", default="4096x4096")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="imagegate-largemem-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEGATE_", "OPENAI_"))}
    env.update(
        IMAGEGATE_DATA_DIR=str(work / "data"),
        IMAGEGATE_PORT=str(port),
        IMAGEGATE_LOG_LEVEL="warning",
        IMAGEGATE_SIGNING_SECRET="bench",
    )
    if a.budget is not None:
        env["IMAGEGATE_MAX_PIXELS_IN_FLIGHT"] = str(a.budget)
    exe = str(Path(sys.executable).with_name("imagegate"))
    account = json.loads(
        subprocess.run(
            [exe, "accounts", "create", "mem", "--json"], env=env, check=True, capture_output=True, text=True
        ).stdout
    )
    key = json.loads(
        subprocess.run(
            [exe, "keys", "create", account["id"], "--test", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )["key"]
    with open(work / "gateway.log", "ab") as log:
        proc = subprocess.Popen([exe, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):  # bounded: up to 60 s for the gateway to answer
            with contextlib.suppress(OSError):
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            time.sleep(0.3)
        idle = vm_hwm_mb(proc.pid)
        started = time.monotonic()
        statuses = asyncio.run(fire(base, key, a.requests, a.n, a.size))
        wall = time.monotonic() - started
        print(
            json.dumps(
                {
                    "budget_pixels": a.budget,
                    "requests": a.requests,
                    "n": a.n,
                    "size": a.size,
                    "statuses": sorted(set(statuses)),
                    "ok": statuses.count(200),
                    "peak_rss_mb": round(vm_hwm_mb(proc.pid)),
                    "rss_before_mb": round(idle),
                    "wall_s": round(wall, 1),
                }
            )
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
