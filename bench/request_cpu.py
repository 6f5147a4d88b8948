"""Gateway CPU per request, feature by feature (issue 21: where the request path's CPU goes).

    .venv/bin/python bench/request_cpu.py [--rounds 12] [--requests 200] [--concurrency 16]
        [--variants base,no-access-log,...] [--idle-seconds 20]

Starts, on 127.0.0.1 only, the fake upstream and one gateway per variant (`imagegate serve`, 1 worker,
SQLite, a live key on a funded account, log level info so the access line is written, to a file), all
at once; then, `--rounds` times, sends each gateway a block of `--requests` tiny-image generations
(256x256, `response_format: url` unless the variant says otherwise: c64's request) over
`--concurrency` keep-alive connections, the variants' order rotated every round, and reads each
gateway process's CPU time from /proc before and after its block. The machine is shared, so the
figure is CPU per request of the gateway alone, and a variant is compared with `base` by the median
of its rounds' ratios (each round's blocks ran close together).

A variant is a set of settings (`IMAGEGATE_*`) and the request's `response_format`; see VARIANTS.
`--baseline-src DIR` (a tree made by `git archive COMMIT src | tar -x -C DIR`) adds the variants named
`old:NAME`: NAME's settings on that commit's code, so a change is measured against its parent in one run.
`--idle-seconds N` also measures each gateway's CPU while no request comes (the job workers', the
webhook loop's and the sweeps' polls), as CPU ms per second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chat_vs_images import block
from procstat import TICKS_PER_SECOND, tree_cpu_seconds
from run import BENCH, UPSTREAM_KEY, free_port, gateway_env, live_key, started, wait_until_up
from scenarios import PROMPT, TINY, operator_toml

VARIANTS: dict[str, tuple[dict[str, str], str]] = {
    "base": ({}, "url"),
    "no-access-log": ({"IMAGEGATE_ACCESS_LOG": "false"}, "url"),
    "log-warning": ({"IMAGEGATE_LOG_LEVEL": "warning"}, "url"),
    "json-log": ({"IMAGEGATE_LOG_FORMAT": "json"}, "url"),
    "no-c2pa": ({"IMAGEGATE_C2PA": "off"}, "url"),
    "no-library-prompts": ({"IMAGEGATE_LIBRARY_PROMPTS": "false"}, "url"),
    "metrics": ({"IMAGEGATE_METRICS": "true"}, "url"),
    "b64": ({}, "b64_json"),
    "b64-no-c2pa": ({"IMAGEGATE_C2PA": "off"}, "b64_json"),
    "no-job-workers": ({"IMAGEGATE_JOB_WORKERS": "0"}, "url"),
    "lean": ({"IMAGEGATE_C2PA": "off"}, "b64_json"),
    "lean-no-access-log": ({"IMAGEGATE_C2PA": "off", "IMAGEGATE_ACCESS_LOG": "false"}, "b64_json"),
}
"""name -> (settings over the bench's, response_format)."""


def variant(name: str) -> tuple[dict[str, str], str]:
    """`old:NAME` is NAME run on the baseline's code."""
    return VARIANTS[name.removeprefix("old:")]


def body(response_format: str) -> bytes:
    return json.dumps(
        {"model": TINY.name, "prompt": PROMPT, "n": 1, "size": "256x256", "response_format": response_format}
    ).encode()


def cpu_us_per_request(gateway: tuple[int, int, str], name: str, requests: int, concurrency: int) -> float:
    """One block of `requests` of variant `name`'s kind: the gateway process's CPU per request, in µs."""
    pid, port, key = gateway
    before = tree_cpu_seconds(pid)
    block(port, key, "/v1/images/generations", body(variant(name)[1]), requests, concurrency, 100)
    return (settled_cpu_seconds(pid) - before) * 1e6 / requests


def settled_cpu_seconds(pid: int, quiet: float = 0.2, at_most: float = 30) -> float:
    """The process's CPU time once it has gone quiet (at most one clock tick in `quiet` seconds): work
    done after the answers (thumbnails, log lines) counts for the block that caused it."""
    deadline = time.monotonic() + at_most
    last = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)  # sampling the process's CPU rate, not waiting for a state
        now = tree_cpu_seconds(pid)
        if now - last <= 1 / TICKS_PER_SECOND:
            return now
        last = now
    return last


def thumbnails_made(work: Path, name: str) -> dict[str, int]:
    """The gateway's stored images, and how many of them have their thumbnail (read after it stopped)."""
    with contextlib.closing(sqlite3.connect(work / name.replace(":", "-") / "data" / "imagegate.db")) as db:
        stored, with_thumbnail = db.execute("SELECT count(*), coalesce(sum(thumbnail), 0) FROM images").fetchone()
    return {"stored": stored, "with_thumbnail": with_thumbnail}


def profile(a: argparse.Namespace, gateways: dict[str, tuple[int, int, str]], names: list[str]) -> None:
    """py-spy (`--native`, all threads, raw collapsed stacks) on each gateway during one block of its requests."""
    a.profile.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    for name in names:
        pid = gateways[name][0]
        out = a.profile / f"{name.replace(':', '-')}.txt"
        cmd = [spy, "record", "--pid", str(pid), "--native", "--threads", "--format", "raw", "--rate", "200"]
        with subprocess.Popen(
            [*cmd, "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) as spy_proc:
            time.sleep(1)  # py-spy attaches
            cpu_ms = cpu_us_per_request(gateways[name], name, a.requests * 2, a.concurrency) / 1000
            spy_proc.send_signal(signal.SIGINT)
            spy_proc.wait(timeout=60)
        print(f"profile of {name}: {out} ({cpu_ms:.2f} ms CPU per request)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=200, help="requests per block")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--variants", default="base,no-access-log,no-c2pa,no-library-prompts,b64", help="the first is the reference"
    )
    parser.add_argument("--idle-seconds", type=float, default=0, help="also measure idle CPU for this long")
    parser.add_argument("--gateway-env", default="", help="NAME=VALUE … set on every gateway")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="a source tree (`git archive COMMIT src | tar -x -C DIR`): variants named old:NAME run its code",
    )
    parser.add_argument("--profile", type=Path, help="also py-spy one more block per variant: raw profiles here")
    a = parser.parse_args(argv)
    names = a.variants.split(",")
    unknown = [n for n in names if n.removeprefix("old:") not in VARIANTS]
    if unknown or (any(n.startswith("old:") for n in names) and not a.baseline_src):
        raise SystemExit(f"variants must be among {sorted(VARIANTS)}; unknown: {unknown}")
    with tempfile.TemporaryDirectory(prefix="imagegate-request-cpu-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        (work / "bench-models.toml").write_text(operator_toml())
        upstream_port = free_port()
        fake_cmd = [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(upstream_port)]
        fake = stack.enter_context(started([*fake_cmd, "--api-key", UPSTREAM_KEY], dict(os.environ), work / "fake.log"))
        wait_until_up(f"http://127.0.0.1:{upstream_port}/healthz", fake, work / "fake.log", 120)
        gateways: dict[str, tuple[int, int, str]] = {}  # name -> (pid, port, key)
        for name in names:
            settings, _ = variant(name)
            port = free_port()
            (work / name.replace(":", "-")).mkdir()
            env = gateway_env(work / name.replace(":", "-"), port, upstream_port)
            env["IMAGEGATE_CONFIG"] = str(work / "bench-models.toml")
            env["IMAGEGATE_LOG_LEVEL"] = "info"
            env.update(item.split("=", 1) for item in a.gateway_env.split() if "=" in item)
            env.update(settings)
            if name.startswith("old:"):  # the baseline's code, ahead of the installed one
                env["PYTHONPATH"] = str(a.baseline_src.resolve() / "src")
            key = live_key(env)
            cmd = [str(Path(sys.executable).with_name("imagegate")), "serve", "--workers", "1"]
            log = work / f"{name.replace(':', '-')}.log"
            proc = stack.enter_context(started(cmd, env, log))
            wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, log, 120)
            gateways[name] = (proc.pid, port, key)
        for name in names:  # warm every path before measuring
            cpu_us_per_request(gateways[name], name, 50, a.concurrency)
        per_request: dict[str, list[float]] = {n: [] for n in names}
        for round_ in range(a.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                per_request[name].append(cpu_us_per_request(gateways[name], name, a.requests, a.concurrency))
        if a.profile:
            profile(a, gateways, names)
        idle: dict[str, float] = {}
        if a.idle_seconds:
            before_idle = {n: tree_cpu_seconds(gateways[n][0]) for n in names}
            time.sleep(a.idle_seconds)  # the measurement itself: CPU over a stretch of wall time
            idle = {
                n: round((tree_cpu_seconds(gateways[n][0]) - before_idle[n]) * 1000 / a.idle_seconds, 2) for n in names
            }
        base = per_request[names[0]]  # the reference: the first variant named
        results = []
        for name in names:
            ratios = [v / b for v, b in zip(per_request[name], base, strict=True)]
            row = {
                "variant": name,
                "settings": variant(name)[0],
                "response_format": variant(name)[1],
                "us_per_request": round(statistics.median(per_request[name])),
                "ratio_to_base": round(statistics.median(ratios), 3),
                "delta_us": round(statistics.median(v - b for v, b in zip(per_request[name], base, strict=True))),
                "blocks_us": [round(v) for v in per_request[name]],
            }
            if idle:
                row["idle_cpu_ms_per_s"] = idle[name]
            if f"old:{name}" in per_request:  # this code against the baseline's, same settings, round by round
                paired = zip(per_request[name], per_request[f"old:{name}"], strict=True)
                row["ratio_to_old"] = round(statistics.median(v / o for v, o in paired), 3)
            if variant(name)[1] == "url":
                row["thumbnails"] = thumbnails_made(work, name)
            results.append(row)
            print(
                f"{name:22} {row['us_per_request']:6} µs/request  ×{row['ratio_to_base']:.3f} of base "
                f"(median Δ {row['delta_us']:+} µs)"
                + (f"  ×{row['ratio_to_old']:.3f} of old:{name}" if "ratio_to_old" in row else "")
                + (f"  idle {idle[name]} ms CPU/s" if idle else "")
                + (f"  thumbnails {row['thumbnails']}" if "thumbnails" in row else "")
            )
        print(
            json.dumps(
                {
                    "rounds": a.rounds,
                    "requests": a.requests,
                    "concurrency": a.concurrency,
                    "load_average": os.getloadavg(),
                    "results": results,
                }
            )
        )


if __name__ == "__main__":
    main()
