"""Issue 21's goal table: imagegate beside LiteLLM, one run per layout, each goal measured and checked.

    .venv/bin/python bench/goal_table.py --litellm /tmp/litellm-venv/bin/litellm            # ~15 min on 2 cores
    .venv/bin/python bench/goal_table.py --litellm /tmp/litellm-venv/bin/litellm --quick    # ~4 min, to try it

One invocation runs the layouts one after another; within a layout the targets take turns (bench/run.py's
matrix: order rotated per repeat, medians of --repeats):

  sqlite-w1  imagegate on SQLite, 1 worker, vs LiteLLM 1 worker vs the direct upstream: c1 and c64
  pg-w2      imagegate on a throwaway PostgreSQL database, 2 workers, with every request on ONE account
             and spread over 16 accounts (one gateway, two key sets), vs LiteLLM 2 workers: c64

imagegate answers every scenario twice: with its default `url` (stored and signed) and with `b64_json`,
the like-for-like row (LiteLLM passes the upstream's base64 on and cannot store). Writes the raw rows to
bench/results/ and the table "goal | wanted | measured | met?" with the medians into the goal markers of
docs/benchmarks.md (--quick: to bench/results/*.md.tmp unless --doc says otherwise), stamped with the
date, the machine, its load average at the start and the commit.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import run
from report import _num, splice, summary
from scenarios import SCENARIOS, Scenario, operator_toml

BEGIN, END = "<!-- goal:begin (bench/goal_table.py writes this part) -->", "<!-- goal:end -->"
ONE, SPREAD = "imagegate", "imagegate-16"  # target names: one hot account; 16 accounts in turn


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    options: tuple[str, ...]  # bench/run.py's options for this layout
    scenarios: tuple[str, ...]
    spread: bool = False  # also a target whose requests go to all the accounts in turn


LAYOUTS = (
    Layout(
        "sqlite-w1",
        "imagegate SQLite, 1 worker; LiteLLM 1 worker; direct upstream",
        ("--workers", "1", "--litellm-workers", "1"),
        ("c1", "c64"),
    ),
    Layout(
        "pg-w2",
        "imagegate PostgreSQL, 2 workers, 1 and 16 accounts; LiteLLM 2 workers",
        (
            "--postgres",
            "--workers",
            "2",
            "--litellm-workers",
            "2",
            "--accounts",
            "16",
            "--targets",
            "imagegate,litellm",
        ),
        ("c64",),
        spread=True,
    ),
)


def with_b64(names: tuple[str, ...]) -> list[Scenario]:
    """Each scenario as asked (`url`) and its `b64_json` twin, which LiteLLM skips (it ran the same body)."""
    chosen = [sc for sc in SCENARIOS if sc.name in names]
    twins = [dataclasses.replace(sc, name=f"{sc.name}-b64", response_format="b64_json", litellm=False) for sc in chosen]
    return [s for pair in zip(chosen, twins, strict=True) for s in pair]


def run_layout(layout: Layout, g: argparse.Namespace, out: Path) -> tuple[dict, list[dict]]:
    """Start the layout's targets, check an answer from each, run the matrix, verify the ledger."""
    a = run.parse_args([*layout.options, "--repeats", str(g.repeats), "--max-requests", str(g.max_requests)])
    a.quick, a.litellm = g.quick, g.litellm
    scenarios = with_b64(layout.scenarios)
    work = Path(tempfile.mkdtemp(prefix=f"imagegate-goal-{layout.name}-"))
    (work / "bench-models.toml").write_text(operator_toml())
    meta: dict = {"layout": layout.name, "title": layout.title, "workers": a.workers, "database": "SQLite"}
    try:
        with run.running_targets(a, work, meta) as targets:
            if layout.spread:  # the same gateway: its first account alone, and all its accounts in turn
                gateway = next(t for t in targets if t.name == "imagegate")
                targets.append(dataclasses.replace(gateway, name=SPREAD))
                gateway.key = gateway.key.split()[0]
            run.preflight(targets, scenarios)
            with open(out, "a") as fh:
                fh.write(json.dumps({"meta": meta}) + "\n")
            rows = run.matrix(targets, scenarios, a, out)
            meta["ledger"] = run.cli(run.gateway_env(work, 0, 0, a.database_url), "ledger", "verify")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return meta, [dict(row, layout=layout.name) for row in rows]


# --------------------------------------------------------------------------- the table
Stats = Callable[[str, str, str], dict | None]


def goal_rows(get: Stats) -> list[str]:
    """One line per goal and answer format: wanted, measured (medians), met?"""
    lines = []

    def add(goal: str, wanted: str, measured: str, ok: bool | None) -> None:
        lines.append(f"| {goal} | {wanted} | {measured} | {'-' if ok is None else ('yes' if ok else '**no**')} |")

    def errors(*stats: dict) -> str:
        n = sum(s["errors"] for s in stats)
        return f", **{n} errors**" if n else ""

    def faster(goal: str, want: float, mine: dict | None, other: dict | None, percent: bool = False) -> None:
        """`mine` serves at least `want` times `other`'s requests per second (without errors of its own)."""
        if mine and other:
            r = mine["rps"] / other["rps"]
            shown = (lambda x: f"{100 * x:.0f} %") if percent else (lambda x: f"{x:.2f}×")
            measured = f"{_num(mine['rps'])} vs {_num(other['rps'])} req/s = **{shown(r)}**{errors(mine, other)}"
            wanted = f"≥ {100 * want:g} %" if percent else f"≥ {want:g}×"
            add(goal, wanted, measured, r >= want and not mine["errors"])

    for fmt, sfx in (("url", ""), ("b64_json", "-b64")):
        g, ll = get("sqlite-w1", f"c64{sfx}", ONE), get("sqlite-w1", "c64", "litellm")
        faster(f"(a) c64 req/s vs LiteLLM, SQLite, 1 worker each, `{fmt}`", 10, g, ll)
        if g:
            add(
                f"(a) c64 gateway CPU per request, `{fmt}`",
                "≤ 1.20 ms",
                f"**{g['cpu_ms']:.2f} ms** (LiteLLM {ll['cpu_ms']:.2f} ms)" if ll else f"**{g['cpu_ms']:.2f} ms**",
                g["cpu_ms"] <= 1.2,
            )
    for fmt, sfx in (("url", ""), ("b64_json", "-b64")):
        one, ll = get("pg-w2", f"c64{sfx}", ONE), get("pg-w2", "c64", "litellm")
        faster(f"(b) c64 req/s on ONE account vs LiteLLM, PostgreSQL, 2 workers each, `{fmt}`", 5, one, ll)
        spread = get("pg-w2", f"c64{sfx}", SPREAD)
        faster(f"(b) c64 req/s on ONE account, against 16 accounts in turn, `{fmt}`", 0.9, one, spread, percent=True)
    d, ll = get("sqlite-w1", "c1", "direct"), get("sqlite-w1", "c1", "litellm")
    for fmt, sfx in (("url", ""), ("b64_json", "-b64")):
        g = get("sqlite-w1", f"c1{sfx}", ONE)
        if g and d:
            p50, p99 = g["p50"] - d["p50"], g["p99"] - d["p99"]
            lite = f" (LiteLLM +{ll['p50'] - d['p50']:.2f} / +{ll['p99'] - d['p99']:.2f})" if ll else ""
            add(
                f"(c) c1 latency added over the direct upstream, p50 / p99, SQLite, 1 worker, `{fmt}`",
                "≤ 1.5 ms / ≤ 4 ms",
                f"**+{p50:.2f} / +{p99:.2f} ms**{lite}{errors(g)}",
                p50 <= 1.5 and p99 <= 4 and not g["errors"],
            )
    return ["| goal | wanted | measured (medians) | met? |", "|---|---|---|---|", *lines]


def raw_rows(rows: list[dict]) -> list[str]:
    out = [
        "| layout | scenario | target | req/s median (min–max) | p50 ms | p99 ms | errors | CPU ms/req | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    seen = list(dict.fromkeys((r["layout"], r["scenario"], r["target"]) for r in rows))
    for layout, scenario, target in sorted(seen, key=lambda k: (k[0] != "sqlite-w1", k[1], k[2])):
        s = summary([r for r in rows if (r["layout"], r["scenario"], r["target"]) == (layout, scenario, target)])
        cpu = _num(s["cpu_ms"], 2) if target != "direct" else "-"
        out.append(
            f"| {layout} | {scenario} | {target} | {_num(s['rps'])} ({_num(s['rps_min'])}–{_num(s['rps_max'])}) "
            f"| {_num(s['p50'], 2)} | {_num(s['p99'], 2)} | {s['errors']} | {cpu} | {_num(s['rss'], 0)} |"
        )
    return out


def render(meta: dict, layouts: list[dict], rows: list[dict], source: str) -> str:
    def get(layout: str, scenario: str, target: str) -> dict | None:
        runs = [r for r in rows if (r["layout"], r["scenario"], r["target"]) == (layout, scenario, target)]
        return summary(runs) if runs else None

    m = meta["machine"]
    done = "; ".join(
        f"{lay['layout']}: {lay['database']}, LiteLLM {lay.get('litellm', 'not run')}, ledger verified "
        f"{lay.get('ledger', {}).get('ok', '?')}"
        for lay in layouts
    )
    c64 = next(sc for sc in SCENARIOS if sc.name == "c64")
    how = (
        f"quick run: {meta['repeats']} repeat(s) of {c64.quick_seconds} s"
        if meta["quick"]
        else f"medians of {meta['repeats']} repeats of {c64.seconds} s"
    )
    return "\n".join(
        [
            f"Measured {meta['date']} UTC at commit `{meta['commit']}` on {m['cores']} cores ({m['cpu']}), "
            f"{m['mem_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, {m['wrk']}; load average "
            f"{meta['loadavg']} at the start; {how}, c64 and c1 on the tiny 256² image; the whole run took "
            f"{meta['minutes']} min. {done}. Raw rows: `{source}`.",
            "",
            *goal_rows(get),
            "",
            *raw_rows(rows),
        ]
    )


# --------------------------------------------------------------------------- main
def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=run.ROOT, capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (
        " dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--litellm", required=True, help="path of the `litellm` command (LiteLLM with its proxy extra)")
    p.add_argument("--quick", action="store_true", help="1 repeat, 5 s runs; the table goes to a .md.tmp file")
    p.add_argument("--repeats", type=int, default=None, help="rounds per layout (default 3, --quick 1)")
    p.add_argument("--layouts", default=",".join(lay.name for lay in LAYOUTS), help="which layouts to run")
    p.add_argument("--max-requests", type=int, default=1_000_000, help="request cap of one run")
    p.add_argument("--doc", default=None, help="markdown file with the goal markers (default docs/benchmarks.md)")
    g = p.parse_args(argv)
    g.repeats = g.repeats or (1 if g.quick else 3)
    started, now = time.monotonic(), dt.datetime.now(dt.UTC)
    run.raise_fd_limit()
    meta = {
        "date": now.strftime("%Y-%m-%d %H:%M"),
        "commit": commit(),
        "machine": run.machine(),
        "loadavg": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "repeats": g.repeats,
        "quick": g.quick,
    }
    results = run.BENCH / "results"
    results.mkdir(exist_ok=True)
    out = results / f"{now:%Y-%m-%d-%H%M}-goal{'-quick.jsonl.tmp' if g.quick else '.jsonl'}"
    out.write_text(json.dumps({"meta": meta}) + "\n")
    layouts, rows = [], []
    for layout in (lay for lay in LAYOUTS if lay.name in g.layouts.split(",")):
        print(f"== {layout.name}: {layout.title}", flush=True)
        found, got = run_layout(layout, g, out)
        layouts.append(found)
        rows += got
    meta["minutes"] = round((time.monotonic() - started) / 60, 1)
    out.write_text("".join(json.dumps(line) + "\n" for line in [{"meta": meta, "layouts": layouts}, *rows]))
    default_doc = (
        out.with_name(out.name.replace(".jsonl.tmp", ".md.tmp")) if g.quick else run.ROOT / "docs" / "benchmarks.md"
    )
    doc = Path(g.doc) if g.doc else default_doc
    table = render(meta, layouts, rows, str(out.relative_to(run.ROOT)))
    splice(doc, table, BEGIN, END)
    print(table, f"\nwrote {out.relative_to(run.ROOT)} and {doc}", sep="\n", flush=True)


if __name__ == "__main__":
    main()
