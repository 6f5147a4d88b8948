"""Downloads of stored images: the gateway's `/v1/files/…` beside nginx serving the same files from disk.

    .venv/bin/python bench/downloads.py [--quick] [--workers 1] [--repeats 3] [--seconds 8]

Issue 13, item 7. Starts on 127.0.0.1 only the fake upstream, a gateway (`imagegate serve`, SQLite,
its own data dir, a live key on a funded account) and nginx (`/usr/sbin/nginx`, as many worker
processes as the gateway has workers, `sendfile on`, access log off) whose root is the gateway's data
dir. Makes one 1024² and one 4096² image through the gateway (response_format url: stored on disk,
a signed URL back), checks that both servers return the same bytes, then fetches each file with wrk
GET at c1 and c64 from each server in turn (order rotated per repeat), sampling each server's CPU
and RSS from /proc. Every run is bounded by its duration and by --max-requests. Prints a markdown
table of medians and writes the raw rows to bench/results/<stamp>-downloads.jsonl (.tmp with
--quick). Every process started here is stopped by its own PID at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from procstat import Sampler
from run import (
    BENCH,
    ROOT,
    UPSTREAM_KEY,
    free_port,
    gateway_env,
    http_get,
    http_post,
    live_key,
    machine,
    raise_fd_limit,
    settle,
    started,
    wait_until_up,
)
from scenarios import operator_toml

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SIZES = ("1024x1024", "4096x4096")


def nginx_conf(work: Path, root: Path, port: int, workers: int) -> str:
    user = "user root root;\n" if os.geteuid() == 0 else ""  # the files are in a 0700 temporary dir
    return f"""{user}worker_processes {workers};
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ image/png png; image/webp webp; image/jpeg jpg; }}
    client_body_temp_path {work}/nginx-tmp;
    proxy_temp_path {work}/nginx-tmp;
    fastcgi_temp_path {work}/nginx-tmp;
    uwsgi_temp_path {work}/nginx-tmp;
    scgi_temp_path {work}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def stored_image(base: str, key: str, size: str, data_dir: Path) -> tuple[str, Path]:
    """Make one image through the gateway; its signed URL's path and the file behind it."""
    body = json.dumps({"model": "bench-large", "prompt": "a fox", "size": size, "response_format": "url"})
    status, raw = http_post(f"{base}/v1/images/generations", body, key, timeout=120)
    if status != 200:
        raise SystemExit(f"generation of {size} failed: HTTP {status}: {raw[:300]!r}")
    url = json.loads(raw)["data"][0]["url"]
    path_and_query = url.split("://", 1)[1].split("/", 1)[1]
    name = path_and_query.split("?", 1)[0].rsplit("/", 1)[1]
    found = list(data_dir.rglob(name))
    if len(found) != 1:
        raise SystemExit(f"{name}: expected one file under {data_dir}, found {found}")
    return "/" + path_and_query, found[0]


def run_wrk(url: str, concurrency: int, seconds: int, max_requests: int) -> dict:
    threads = min(2, concurrency)
    env = dict(os.environ, BENCH_METHOD="GET", BENCH_CAP=str(-(-max_requests // threads)))
    cmd = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "60s"]
    cmd += ["-s", str(BENCH / "post.lua"), url]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    line = next((text for text in done.stdout.splitlines() if text.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
    return json.loads(line[len("BENCH_JSON ") :])


def measure(
    target: str, pid: int, url: str, size: str, c: int, a: argparse.Namespace, upstream: str, watch: list[int]
) -> dict:
    settle(watch, upstream)
    sampler = Sampler({"target": pid})
    sampler.start()
    result = run_wrk(url, c, a.seconds, a.max_requests)
    procs = sampler.finish()
    n, secs = result["requests"], result["seconds"] or 1e-9
    row = {
        "size": size,
        "concurrency": c,
        "target": target,
        "requests": n,
        "seconds": secs,
        "rps": round(n / secs, 1),
        "mb_s": round(result["bytes"] / secs / 1e6, 1),
        "latency_ms": result["latency_ms"],
        "errors": result["errors"],
        "error_count": sum(result["errors"].values()),
        "cpu_s": procs["target"]["cpu_s"],
        "cpu_ms_per_req": round(1000 * procs["target"]["cpu_s"] / n, 3) if n else None,
        "peak_rss_mb": procs["target"]["peak_rss_mb"],
        "host_busy_cores": sampler.host_busy_cores(secs),
        "ts": dt.datetime.now().isoformat(timespec="seconds"),
    }
    lat = row["latency_ms"]
    print(
        f"  {size:9} c{c:<3} {target:8} {row['rps']:>8.1f} req/s {row['mb_s']:>8.1f} MB/s  p50 {lat['p50']:>8.2f}"
        f"  p99 {lat['p99']:>8.2f} ms  err {row['error_count']}  cpu {row['cpu_ms_per_req']} ms/req"
        f"  rss {row['peak_rss_mb']} MB",
        flush=True,
    )
    return row


def table(rows: list[dict]) -> str:
    out = [
        "| image | c | server | MB/s median (min–max) | req/s | p50 ms | p99 ms | errors | CPU ms/req | peak RSS MB | gateway ÷ nginx MB/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in SIZES:
        for c in sorted({r["concurrency"] for r in rows}):
            med = {}
            for target in ("gateway", "nginx"):
                runs = [r for r in rows if (r["size"], r["concurrency"], r["target"]) == (size, c, target)]
                if not runs:
                    continue
                mb = [r["mb_s"] for r in runs]
                med[target] = statistics.median(mb)
                cpu = [r["cpu_ms_per_req"] for r in runs if r["cpu_ms_per_req"] is not None]
                ratio = ""
                if target == "nginx" and "gateway" in med and med["nginx"]:
                    ratio = f"**{med['gateway'] / med['nginx']:.2f}**"
                out.append(
                    f"| {size} | {c} | {target} | {statistics.median(mb):,.0f} ({min(mb):,.0f}–{max(mb):,.0f}) "
                    f"| {statistics.median(r['rps'] for r in runs):,.1f} "
                    f"| {statistics.median(r['latency_ms']['p50'] for r in runs):,.2f} "
                    f"| {statistics.median(r['latency_ms']['p99'] for r in runs):,.2f} "
                    f"| {sum(r['error_count'] for r in runs)} "
                    f"| {statistics.median(cpu) if cpu else 0:,.2f} "
                    f"| {max(r['peak_rss_mb'] for r in runs):,.0f} | {ratio} |"
                )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 repeat of 4 s runs; results go to *.tmp")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--seconds", type=int, default=None, help="length of one run (default 8, --quick 4)")
    p.add_argument("--concurrency", default="1,64")
    p.add_argument("--workers", type=int, default=1, help="imagegate serve --workers N; nginx gets as many")
    p.add_argument("--max-requests", type=int, default=1_000_000)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    a.repeats = a.repeats or (1 if a.quick else 3)
    a.seconds = a.seconds or (4 if a.quick else 8)
    raise_fd_limit()
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    out = BENCH / "results" / (f"{stamp}-downloads.jsonl" + (".tmp" if a.quick else ""))
    work = Path(tempfile.mkdtemp(prefix="imagegate-downloads-"))
    (work / "bench-models.toml").write_text(operator_toml())
    (work / "nginx-tmp").mkdir()
    rows: list[dict] = []
    with contextlib.ExitStack() as stack:
        if not a.keep:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        upstream_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
        fake = stack.enter_context(
            started(
                [
                    sys.executable,
                    str(BENCH / "fake_upstream.py"),
                    "--port",
                    str(upstream_port),
                    "--api-key",
                    UPSTREAM_KEY,
                ],
                dict(os.environ),
                work / "fake-upstream.log",
            )
        )
        upstream = f"http://127.0.0.1:{upstream_port}"
        wait_until_up(f"{upstream}/healthz", fake, work / "fake-upstream.log", 120)
        env = gateway_env(work, gateway_port, upstream_port)
        key = live_key(env)
        cmd = [str(Path(sys.executable).with_name("imagegate")), "serve", "--workers", str(a.workers)]
        gw = stack.enter_context(started(cmd, env, work / "gateway.log"))
        gateway = f"http://127.0.0.1:{gateway_port}"
        wait_until_up(f"{gateway}/healthz", gw, work / "gateway.log", 120)
        data_dir = work / "data"
        files = {size: stored_image(gateway, key, size, data_dir) for size in SIZES}
        (work / "nginx.conf").write_text(nginx_conf(work, data_dir, nginx_port, a.workers))
        ngx = stack.enter_context(
            started([NGINX, "-p", str(work), "-c", str(work / "nginx.conf")], {}, work / "nginx.log")
        )
        nginx = f"http://127.0.0.1:{nginx_port}"
        urls = {}
        for size, (gw_path, file) in files.items():
            ngx_path = "/" + str(file.relative_to(data_dir))
            wait_until_up(nginx + ngx_path, ngx, work / "nginx.log", 30)
            want = file.read_bytes()
            for name, url in (("gateway", gateway + gw_path), ("nginx", nginx + ngx_path)):
                if http_get(url, timeout=60) != want:
                    raise SystemExit(f"{name} did not return the stored bytes of {file.name}")
            urls[size] = {"gateway": gateway + gw_path, "nginx": nginx + ngx_path, "bytes": len(want)}
            print(f"{size}: {len(want):,} bytes, same from both servers", flush=True)
        meta = {
            "meta": {
                "date": stamp,
                "machine": machine(),
                "workers": a.workers,
                "nginx": subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip(),
                "repeats": a.repeats,
                "seconds": a.seconds,
                "files": urls,
            }
        }
        out.write_text(json.dumps(meta) + "\n")
        pids = {"gateway": gw.pid, "nginx": ngx.pid}
        order = ["gateway", "nginx"]
        for rep in range(1, a.repeats + 1):
            print(f"repeat {rep}/{a.repeats}", flush=True)
            for size in SIZES:
                for c in (int(x) for x in a.concurrency.split(",")):
                    for target in order[(rep - 1) % 2 :] + order[: (rep - 1) % 2]:
                        row = measure(
                            target, pids[target], urls[size][target], size, c, a, upstream, list(pids.values())
                        )
                        row["rep"] = rep
                        rows.append(row)
                        with open(out, "a") as fh:
                            fh.write(json.dumps(row) + "\n")
    m = meta["meta"]["machine"]
    print(
        f"\nMeasured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {m['cores']} cores ({m['cpu']}), "
        f"{meta['meta']['nginx']}, gateway `--workers {a.workers}`, nginx `worker_processes {a.workers}`; "
        f"median of {a.repeats}, {a.seconds} s runs. Raw rows: `{out.relative_to(ROOT)}`.\n"
    )
    print(table(rows))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
