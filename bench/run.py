"""Run every scenario of issue 6 against the direct upstream, imagegate and (optionally) LiteLLM.

    .venv/bin/python bench/run.py [--quick] [--litellm /tmp/litellm-venv/bin/litellm]
    # issue 13: PostgreSQL and 2 workers beside LiteLLM with 2 workers, c64 only
    .venv/bin/python bench/run.py --postgres --workers 2 --litellm … --litellm-workers 2 --only c64

Starts, on 127.0.0.1 only, the fake upstream (bench/fake_upstream.py), a gateway (`imagegate serve`
with its own data dir, SQLite — or with `--postgres` a throwaway database on the local PostgreSQL,
created here and dropped at the end —, a funded account and a live key made with the CLI) and LiteLLM when
asked; checks one answer per scenario and target (a real image of the right size and format); then
runs each scenario with wrk, the targets one after another, for --repeats rounds, sampling the
targets' CPU and RSS from /proc. Writes the raw rows (JSON lines) to bench/results/ and the table
into docs/benchmarks.md between its `results` markers. Every run is bounded by its duration and by
--max-requests; every process started here is stopped by its own PID at the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import io
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from procstat import Sampler, tree_cpu_seconds
from report import render, splice
from scenarios import SCENARIOS, Scenario, litellm_yaml, operator_toml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
UPSTREAM_KEY = "sk-bench-upstream"
LITELLM_MASTER_KEY = "sk-bench-master"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
FD_LIMIT = 65536


# --------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit() -> int:
    """10,000 client connections need ~20,000 descriptors in the gateway; children inherit this."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, max(hard, FD_LIMIT)))
    except (ValueError, OSError):  # not root: go as far as the hard limit allows
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def http_get(url: str, timeout: float = 5) -> bytes:
    with NO_PROXY.open(url, timeout=timeout) as resp:
        return resp.read()


def http_post(url: str, body: str, key: str, timeout: float = 60) -> tuple[int, bytes]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with NO_PROXY.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise SystemExit(f"{url}: the process exited ({proc.returncode}); see {log}\n{tail}")
        try:
            http_get(url, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s; see {log}")


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A process in its own session, stopped (its group, by its own id) when the block ends."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --------------------------------------------------------------------------- the gateway
def gateway_env(work: Path, port: int, upstream_port: int, database_url: str | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("IMAGEGATE_", "OPENAI_", "AZURE_", "GEMINI_", "ARK_"))
    }
    env.update(
        IMAGEGATE_DATA_DIR=str(work / "data"),
        IMAGEGATE_CONFIG=str(work / "bench-models.toml"),
        IMAGEGATE_PORT=str(port),
        IMAGEGATE_SIGNING_SECRET="bench-signing-secret",
        IMAGEGATE_LOG_LEVEL="warning",
        IMAGEGATE_MAX_CONNECTIONS_PER_CLIENT="0",  # every load generator connects from 127.0.0.1
        OPENAI_API_KEY=UPSTREAM_KEY,
        OPENAI_BASE_URL=f"http://127.0.0.1:{upstream_port}/v1",
    )
    if database_url:
        env["IMAGEGATE_DATABASE_URL"] = database_url
    env.update(item.split("=", 1) for item in os.environ.get("BENCH_GATEWAY_ENV", "").split() if "=" in item)
    return env


def cli(env: dict[str, str], *args: str) -> dict:
    exe = Path(sys.executable).with_name("imagegate")
    done = subprocess.run([str(exe), *args, "--json"], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"imagegate {' '.join(args)} failed: {done.stderr}")
    return json.loads(done.stdout)


def live_key(env: dict[str, str], accounts: int = 1) -> str:
    """Funded accounts with a live key each, made the way an operator makes them (keys space-separated:
    wrk's post.lua uses them in turn)."""
    keys = []
    for i in range(accounts):
        account = cli(env, "accounts", "create", f"bench-{i}")
        cli(env, "credit", "add", account["id"], "1000000", "--reason", "benchmark funding")
        keys.append(cli(env, "keys", "create", account["id"])["key"])
    return " ".join(keys)


# --------------------------------------------------------------------------- targets
@dataclass
class Target:
    name: str
    pid: int
    key: str
    base: str  # http://127.0.0.1:PORT
    enabled: bool = True  # the upstream is always there, but its direct runs may be skipped

    def runs(self, sc: Scenario) -> bool:
        return self.enabled and (self.name != "litellm" or sc.litellm)

    def url(self, sc: Scenario) -> str:
        if self.name == "direct":
            return f"{self.base}/{sc.behaviour.segments}/v1/images/generations"
        return f"{self.base}/v1/images/generations"

    def body(self, sc: Scenario) -> str:
        return {"direct": sc.upstream_body, "litellm": sc.litellm_body}.get(self.name, sc.gateway_body)()


def check_answer(target: Target, sc: Scenario) -> str:
    """One request: a real image of the asked size and format must come back. '' when fine."""
    from PIL import Image

    status, raw = http_post(target.url(sc), target.body(sc), target.key.split()[0], timeout=120)
    if status != 200:
        return f"{target.name}/{sc.name}: HTTP {status}: {raw[:300]!r}"
    item = json.loads(raw)["data"][0]
    data = base64.b64decode(item["b64_json"]) if item.get("b64_json") else http_get(item["url"], timeout=60)
    want_format = sc.output_format if target.name == "imagegate" else "png"
    with Image.open(io.BytesIO(data)) as image:
        got = (image.format.lower(), f"{image.width}x{image.height}")
    if got != (want_format, sc.size):
        return f"{target.name}/{sc.name}: got {got}, expected {(want_format, sc.size)}"
    return ""


def preflight(targets: list[Target], scenarios: list[Scenario]) -> None:
    jobs = [(t, sc) for sc in scenarios for t in targets if t.runs(sc)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        problems = [p for p in pool.map(lambda job: check_answer(*job), jobs) if p]
    if problems:
        raise SystemExit("preflight failed:\n  " + "\n  ".join(problems))
    print(f"preflight: {len(jobs)} answers checked (image decodes, size and format as asked)", flush=True)


# --------------------------------------------------------------------------- one load run
def settle(pids: list[int], upstream: str, max_wait: float = 240) -> float:
    """Wait until every watched tree is idle and the upstream has nothing in flight; seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < max_wait:
        before = sum(tree_cpu_seconds(p) for p in pids)
        time.sleep(1)
        busy = sum(tree_cpu_seconds(p) for p in pids) - before
        in_flight = json.loads(http_get(f"{upstream}/_stats"))["in_flight"]
        if busy < 0.05 and in_flight <= 0:
            return round(time.monotonic() - start, 1)
    print(f"  !! targets still busy after {max_wait:.0f} s; running anyway", flush=True)
    return round(time.monotonic() - start, 1)


def run_wrk(target: Target, sc: Scenario, seconds: int, max_requests: int) -> dict:
    threads = min(2, sc.concurrency)
    env = dict(os.environ, BENCH_BODY=target.body(sc), BENCH_KEY=target.key, BENCH_CAP=str(-(-max_requests // threads)))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{sc.concurrency}",
        f"-d{seconds}s",
        "--timeout",
        "60s",
        "-s",
        str(BENCH / "post.lua"),
        target.url(sc),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    line = next((text for text in done.stdout.splitlines() if text.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
    return json.loads(line[len("BENCH_JSON ") :])


def measure(target: Target, sc: Scenario, seconds: int, max_requests: int, upstream: Target, watch: list[int]) -> dict:
    waited = settle(watch, upstream.base)
    http_post(f"{upstream.base}/_stats", "", "")
    roots = {"target": target.pid} if target.name == "direct" else {"target": target.pid, "upstream": upstream.pid}
    sampler = Sampler(roots)
    sampler.start()
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_wrk(target, sc, seconds, max_requests)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = sampler.finish()
    upstream_stats = json.loads(http_get(f"{upstream.base}/_stats"))
    n, secs = result["requests"], result["seconds"] or 1e-9
    cpu = procs["target"]["cpu_s"]
    row = {
        "scenario": sc.name,
        "target": target.name,
        "concurrency": sc.concurrency,
        "seconds": secs,
        "requests": n,
        "rps": round(n / secs, 1),
        "mb_s": round(result["bytes"] / secs / 1e6, 1),
        "bytes_per_response": result["bytes"] // n if n else 0,
        "latency_ms": result["latency_ms"],
        "errors": result["errors"],
        "error_count": sum(result["errors"].values()),
        "cpu_s": cpu,
        "cpu_ms_per_req": round(1000 * cpu / n, 3) if n else None,
        "peak_rss_mb": procs["target"]["peak_rss_mb"],
        "start_rss_mb": procs["target"]["start_rss_mb"],
        "processes": procs,
        "wrk_cpu_s": round(wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime, 2),
        "host_busy_cores": sampler.host_busy_cores(secs),
        "settle_s": waited,
        "upstream": upstream_stats,
        "ts": dt.datetime.now().isoformat(timespec="seconds"),
    }
    lat = row["latency_ms"]
    print(
        f"  {sc.name:15} {target.name:9} {row['rps']:>9.1f} req/s  p50 {lat['p50']:>8.2f}  p99 {lat['p99']:>9.2f} ms"
        f"  err {row['error_count']:>5}  cpu {row['cpu_ms_per_req']} ms/req  rss {row['peak_rss_mb']} MB"
        f"  upstream max {upstream_stats['max_in_flight']}",
        flush=True,
    )
    return row


def matrix(targets: list[Target], scenarios: list[Scenario], a: argparse.Namespace, out: Path) -> list[dict]:
    """Each repeat: each scenario, the targets in turn (order rotated per repeat so drift hits all alike)."""
    upstream = next(t for t in targets if t.name == "direct")
    watch = [t.pid for t in targets]
    rows = []
    for rep in range(1, a.repeats + 1):
        print(f"repeat {rep}/{a.repeats}", flush=True)
        direct_done = set()  # scenarios that send the upstream the same request share a direct run
        for sc in scenarios:
            seconds = sc.quick_seconds if a.quick else sc.seconds
            order = targets[rep - 1 :] + targets[: rep - 1]
            for target in (t for t in order if t.runs(sc)):
                if target.name == "direct":
                    if sc.direct_key in direct_done:
                        continue
                    direct_done.add(sc.direct_key)
                row = measure(target, sc, seconds, a.max_requests, upstream, watch)
                row.update(rep=rep, direct_key=sc.direct_key)
                rows.append(row)
                with open(out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    return rows


# --------------------------------------------------------------------------- profile
def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each thread of `pid`, by native thread id."""
    cpu = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        cpu[int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return cpu


def thread_names(raw_profile: Path) -> dict[int, str]:
    """Native thread id -> a name for its kind, from py-spy's `thread (tid): name` roots."""
    names = {}
    with open(raw_profile) as fh:
        for line in fh:
            root = line.split(";", 1)[0]
            if root.startswith("thread ("):
                tid, _, name = root[len("thread (") :].partition(")")
                name = name.lstrip(": ") or "unnamed"
                if "_connection_worker_thread" in name:
                    name = "aiosqlite connection threads"
                elif name.startswith("uvloop_"):
                    name = "asyncio default executor (to_thread)"
                names[int(tid)] = name
    return names


def profile(gateway: Target, sc: Scenario, seconds: int, a: argparse.Namespace, upstream: Target, out: Path) -> None:
    """One extra, unrecorded run of `sc` with py-spy attached to the gateway (raw collapsed stacks),
    plus the CPU of each of the gateway's threads, by name, from /proc."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    settle([gateway.pid, upstream.pid], upstream.base)
    cmd = [
        pyspy,
        "record",
        "--pid",
        str(gateway.pid),
        "--duration",
        str(max(2, seconds - 2)),
        "--rate",
        "250",
        "--nonblocking",
        "--threads",
        "--format",
        "raw",
        "-o",
        str(out),
    ]
    if a.workers > 1:
        cmd.append("--subprocesses")
    if a.native:  # needs py-spy to pause the process for each sample: slower, shares still hold
        cmd = [c for c in cmd if c != "--nonblocking"] + ["--native"]
    spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    time.sleep(1)
    before = thread_cpu(gateway.pid)
    row = measure(gateway, sc, seconds, a.max_requests, upstream, [gateway.pid, upstream.pid])
    after = thread_cpu(gateway.pid)
    spy.wait(timeout=seconds + 60)
    names, by_name = thread_names(out), {}
    for tid, cpu in after.items():
        name = names.get(tid, "threads py-spy never saw busy")
        by_name[name] = by_name.get(name, 0.0) + cpu - before.get(tid, 0.0)
    row["thread_cpu_ms_per_req"] = {
        name: round(1000 * cpu / max(1, row["requests"]), 3)
        for name, cpu in sorted(by_name.items(), key=lambda kv: -kv[1])
    }
    out.with_suffix(".json").write_text(json.dumps(row, indent=1))
    print(f"profile: {out} ({row['requests']} requests while sampling): {row['thread_cpu_ms_per_req']}", flush=True)


# --------------------------------------------------------------------------- main
def machine() -> dict:
    with open("/proc/cpuinfo") as fh:
        cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    with open("/proc/meminfo") as fh:
        mem = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal"))
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    from importlib.metadata import version

    libs = {
        p: version(p)
        for p in (
            "uvicorn",
            "fastapi",
            "starlette",
            "httptools",
            "uvloop",
            "sqlalchemy",
            "aiosqlite",
            "aiohttp",
            "pybase64",
            "pillow",
        )
    }
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": round(mem / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk,
        "libs": libs,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # BENCH_GATEWAY_ENV="IMAGEGATE_METRICS=true …": extra settings for the gateway under test
    p.add_argument("--quick", action="store_true", help="1 repeat, short durations; results go to bench/results/*.tmp")
    p.add_argument("--repeats", type=int, default=None, help="rounds over all scenarios (default 3, --quick 1)")
    p.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    p.add_argument("--targets", default="direct,imagegate,litellm", help="which targets to run")
    p.add_argument("--litellm", default=None, help="path of the `litellm` command; LiteLLM is skipped without it")
    p.add_argument("--workers", type=int, default=1, help="imagegate serve --workers N")
    p.add_argument(
        "--postgres-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the throwaway database only (ALTER DATABASE … SET), e.g. synchronous_commit=off",
    )
    p.add_argument(
        "--accounts",
        type=int,
        default=1,
        help="imagegate: N funded accounts, a live key each, used in turn (1: every request on one account)",
    )
    p.add_argument("--litellm-workers", type=int, default=1, help="litellm --num_workers N")
    p.add_argument(
        "--postgres",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/postgres",
        default=None,
        help="run the gateway on a throwaway database (created, then dropped) on this PostgreSQL server "
        "(an admin URL; default postgresql://postgres@127.0.0.1:5432/postgres)",
    )
    p.add_argument("--max-requests", type=int, default=1_000_000, help="request cap of one run")
    p.add_argument(
        "--profile",
        default=None,
        help="comma-separated scenarios to profile the gateway in with py-spy, after the table's runs",
    )
    p.add_argument("--native", action="store_true", help="py-spy --native: C frames too (uvloop, sqlite3, zlib)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, data dir) in /tmp")
    p.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown file to update")
    a = p.parse_args(argv)
    a.repeats = a.repeats or (1 if a.quick else 3)
    return a


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    fd_limit = raise_fd_limit()
    scenarios = [sc for sc in SCENARIOS if not a.only or sc.name in a.only.split(",")]
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    out = results / (f"{stamp}-quick.jsonl.tmp" if a.quick else f"{stamp}.jsonl")
    work = Path(tempfile.mkdtemp(prefix="imagegate-bench-"))
    (work / "bench-models.toml").write_text(operator_toml())
    meta = {
        "meta": {
            "date": stamp,
            "machine": machine(),
            "fd_limit": fd_limit,
            "repeats": a.repeats,
            "quick": a.quick,
            "workers": a.workers,
            "litellm_workers": a.litellm_workers,
            "accounts": a.accounts,
            "database": "SQLite",
            "work_dir": str(work),
        }
    }
    with contextlib.ExitStack() as stack:
        if not a.keep:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        targets = stack.enter_context(running_targets(a, work, meta["meta"]))
        preflight(targets, scenarios)
        out.write_text(json.dumps(meta) + "\n")
        rows = matrix(targets, scenarios, a, out)
        gateway = next((t for t in targets if t.name == "imagegate"), None)
        for sc in (s for s in SCENARIOS if gateway is not None and s.name in (a.profile or "").split(",")):
            seconds = sc.quick_seconds if a.quick else sc.seconds
            profile(gateway, sc, seconds, a, targets[0], results / f"{stamp}-profile-{sc.name}.txt")
        if gateway is not None:
            meta["meta"]["ledger"] = cli(gateway_env(work, 0, 0, a.database_url), "ledger", "verify")
    with open(out) as fh:
        lines = [json.loads(line) for line in fh]
    lines[0] = meta
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    table = render(meta["meta"], rows, out.relative_to(ROOT))
    doc = Path(a.doc) if not a.quick else out.with_name(out.name.replace(".jsonl.tmp", ".md.tmp"))
    splice(doc, table)
    print(f"wrote {out.relative_to(ROOT)} and {doc}", flush=True)


def postgres_version(url: str) -> str:
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def ask() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            return str(await conn.fetchval("SHOW server_version")).split()[0]
        finally:
            await conn.close()

    return asyncio.run(ask())


@contextlib.contextmanager
def running_targets(a: argparse.Namespace, work: Path, meta: dict) -> Iterator[list[Target]]:
    """The fake upstream, the gateway (on a throwaway database with --postgres) and LiteLLM, as `a` asks;
    all stopped, and the database dropped, when the block ends. Sets `a.database_url` and `meta`'s database."""
    with contextlib.ExitStack() as stack:
        a.database_url = None
        if a.postgres and "imagegate" in a.targets.split(","):
            from pgdb import ThrowawayDatabase

            database = ThrowawayDatabase(a.postgres)
            a.database_url = database.create(dict(s.split("=", 1) for s in a.postgres_setting))
            stack.callback(database.drop)  # after the gateway has stopped (callbacks run last-in first-out)
            meta["database"] = f"PostgreSQL {postgres_version(a.database_url)} (throwaway database {database.name})"
        yield start_targets(stack, a, work, meta)


def start_targets(stack: contextlib.ExitStack, a: argparse.Namespace, work: Path, meta: dict) -> list[Target]:
    wanted = a.targets.split(",")
    upstream_port, gateway_port = free_port(), free_port()
    fake = stack.enter_context(
        started(
            [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(upstream_port), "--api-key", UPSTREAM_KEY],
            dict(os.environ),
            work / "fake-upstream.log",
        )
    )
    wait_until_up(f"http://127.0.0.1:{upstream_port}/healthz", fake, work / "fake-upstream.log", 120)
    targets = [Target("direct", fake.pid, UPSTREAM_KEY, f"http://127.0.0.1:{upstream_port}")]
    if "imagegate" in wanted:
        env = gateway_env(work, gateway_port, upstream_port, a.database_url)
        key = live_key(env, a.accounts)
        cmd = [str(Path(sys.executable).with_name("imagegate")), "serve", "--workers", str(a.workers)]
        gw = stack.enter_context(started(cmd, env, work / "gateway.log"))
        wait_until_up(f"http://127.0.0.1:{gateway_port}/healthz", gw, work / "gateway.log", 120)
        targets.append(Target("imagegate", gw.pid, key, f"http://127.0.0.1:{gateway_port}"))
    if "litellm" in wanted and a.litellm:
        port = free_port()
        (work / "litellm.yaml").write_text(litellm_yaml(upstream_port, UPSTREAM_KEY, LITELLM_MASTER_KEY))
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
        cmd = [a.litellm, "--config", str(work / "litellm.yaml"), "--host", "127.0.0.1", "--port", str(port)]
        if a.litellm_workers > 1:  # parent + workers; the sampler watches the parent's whole tree
            cmd += ["--num_workers", str(a.litellm_workers)]
        ll = stack.enter_context(started(cmd, env, work / "litellm.log"))
        wait_until_up(f"http://127.0.0.1:{port}/health/liveliness", ll, work / "litellm.log", 300)
        python = Path(a.litellm).with_name("python")
        meta["litellm"] = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        targets.append(Target("litellm", ll.pid, LITELLM_MASTER_KEY, f"http://127.0.0.1:{port}"))
    targets[0].enabled = "direct" in wanted
    return targets


if __name__ == "__main__":
    main()
