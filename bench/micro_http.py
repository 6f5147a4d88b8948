"""Floors for the HTTP layers: CPU per request of a minimal ASGI app under uvicorn (httptools + uvloop).

    .venv/bin/python bench/micro_http.py [--seconds 10]

Modes, each served by its own uvicorn process and loaded with wrk at c=64 (127.0.0.1 only):
  static   answer a fixed JSON body (uvicorn + ASGI floor)
  httpx    also POST the request to bench/fake_upstream.py with a shared httpx.AsyncClient
  aiohttp  the same with a shared aiohttp.ClientSession (when aiohttp is installed)
  fastapi  the static answer through a FastAPI route that reads the body (framework cost)
Prints CPU ms per request of the server process for each: what is left when the gateway's own work is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from procstat import tree_cpu_seconds

HERE = Path(__file__).resolve().parent
MODES = ("static", "fastapi", "httpx", "aiohttp")
BODY = b'{"created":1,"data":[{"url":"http://127.0.0.1/x.png"}]}'

APP = r"""
import httpx, json, os
try:
    import aiohttp
except ImportError:
    aiohttp = None
from fastapi import FastAPI, Request
from fastapi.responses import Response
BODY = __BODY__
UPSTREAM = os.environ.get("MICRO_UPSTREAM")
MODE = os.environ["MICRO_MODE"]
client = None
async def app(scope, receive, send):
    global client
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                if MODE == "aiohttp":
                    client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                else:
                    client = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=200))
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"}); return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    if MODE == "httpx":
        r = await client.post(UPSTREAM, content=body, headers={"authorization": "Bearer k", "content-type": "application/json"})
        r.json()
    elif MODE == "aiohttp":
        async with client.post(UPSTREAM, data=body, headers={"authorization": "Bearer k", "content-type": "application/json"}) as r:
            json.loads(await r.read())
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
fast = FastAPI()
@fast.post("/v1/images/generations")
async def generate(request: Request):
    await request.body()
    return Response(BODY, media_type="application/json")
""".replace("__BODY__", repr(BODY))


def run_mode(mode: str, seconds: int, upstream: str, work: Path) -> dict:
    (work / "micro_app.py").write_text(APP)
    port = 9400 + MODES.index(mode)
    env = dict(os.environ, MICRO_MODE=mode, MICRO_UPSTREAM=upstream, PYTHONPATH=str(work))
    target = "micro_app:fast" if mode == "fastapi" else "micro_app:app"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--port",
            str(port),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        time.sleep(3)
        body = json.dumps({"model": "fake/img=flat", "prompt": "x", "size": "256x256"})
        wrk_env = dict(os.environ, BENCH_BODY=body, BENCH_KEY="k", BENCH_CAP="1000000")
        before = tree_cpu_seconds(server.pid)
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c64",
                f"-d{seconds}s",
                "-s",
                str(HERE / "post.lua"),
                f"http://127.0.0.1:{port}/v1/images/generations",
            ],
            env=wrk_env,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        ).stdout
        cpu = tree_cpu_seconds(server.pid) - before
        result = json.loads(
            next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))[len("BENCH_JSON ") :]
        )
        n = result["requests"]
        return {
            "mode": mode,
            "rps": round(n / result["seconds"]),
            "cpu_ms_per_req": round(1000 * cpu / n, 3),
            "errors": sum(result["errors"].values()),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    a = parser.parse_args()
    work = Path("/tmp/imagegate-micro-http")
    work.mkdir(exist_ok=True)
    fake = subprocess.Popen(
        [sys.executable, str(HERE / "fake_upstream.py"), "--port", "9399", "--render", "256x256:flat"],
        stdout=subprocess.PIPE,
    )
    try:
        fake.stdout.readline()
        for mode in MODES:
            if mode == "aiohttp" and subprocess.run([sys.executable, "-c", "import aiohttp"]).returncode != 0:
                continue
            print(
                json.dumps(run_mode(mode, a.seconds, "http://127.0.0.1:9399/v1/images/generations", work)), flush=True
            )
    finally:
        fake.terminate()
        fake.wait(timeout=10)


if __name__ == "__main__":
    main()
