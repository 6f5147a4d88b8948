"""Markdown tables from bench/run.py's JSON lines: medians over repeats, and the issue's targets.

python bench/report.py bench/results/2026-11-25-1403.jsonl [docs/benchmarks.md]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from statistics import median

from scenarios import SCENARIOS

BEGIN, END = "<!-- results:begin (bench/run.py writes this part) -->", "<!-- results:end -->"
TARGET_NAMES = {"direct": "direct upstream", "imagegate": "imagegate", "litellm": "LiteLLM"}


def _rows_for(rows: list[dict], scenario: str, target: str) -> list[dict]:
    if target != "direct":
        return [r for r in rows if r["scenario"] == scenario and r["target"] == target]
    key = next((r["direct_key"] for r in rows if r["scenario"] == scenario), None)
    return [r for r in rows if r["target"] == "direct" and r.get("direct_key") == key]


def _num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def summary(runs: list[dict]) -> dict:
    """Medians (and the req/s range) of one scenario on one target."""

    def med(get):  # type: ignore[no-untyped-def]
        values = [get(r) for r in runs if get(r) is not None]
        return median(values) if values else None

    return {
        "n": len(runs),
        "rps": med(lambda r: r["rps"]),
        "rps_min": min(r["rps"] for r in runs),
        "rps_max": max(r["rps"] for r in runs),
        "mb_s": med(lambda r: r["mb_s"]),
        "p50": med(lambda r: r["latency_ms"]["p50"]),
        "p90": med(lambda r: r["latency_ms"]["p90"]),
        "p99": med(lambda r: r["latency_ms"]["p99"]),
        "errors": sum(r["error_count"] for r in runs),
        "error_kinds": {
            k: sum(r["errors"][k] for r in runs) for k in runs[0]["errors"] if any(r["errors"][k] for r in runs)
        },
        "rss": max(r["peak_rss_mb"] for r in runs),
        "rss_min": min(r["peak_rss_mb"] for r in runs),
        "cpu_ms": med(lambda r: r["cpu_ms_per_req"]),
        "upstream_max": max(r["upstream"]["max_in_flight"] for r in runs),
        "upstream_cpu_ms": med(
            lambda r: (
                1000 * r["processes"]["upstream"]["cpu_s"] / r["requests"]
                if "upstream" in r["processes"] and r["requests"]
                else None
            )
        ),
    }


def main_table(rows: list[dict]) -> list[str]:
    out = [
        "| scenario | target | req/s median (min–max) | MB/s | p50 ms | p90 ms | p99 ms | errors | peak RSS MB (min–max over repeats) | CPU ms/req | upstream max in flight |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for sc in SCENARIOS:
        first = True
        for target in TARGET_NAMES:
            runs = _rows_for(rows, sc.name, target)
            if not runs:
                continue
            s = summary(runs)
            label = (
                f"**{sc.name}**: {sc.question}; c={sc.concurrency}, {sc.size}, {sc.response_format}"
                + (f", {sc.output_format}" if sc.output_format != "png" else "")
                if first
                else ""
            )
            errors = str(s["errors"]) + (
                f" ({', '.join(f'{k} {v}' for k, v in s['error_kinds'].items())})" if s["errors"] else ""
            )
            rss = f"{_num(s['rss_min'], 0)}–{_num(s['rss'], 0)}" + (" (upstream)" if target == "direct" else "")
            out.append(
                f"| {label} | {TARGET_NAMES[target]} | {_num(s['rps'])} ({_num(s['rps_min'])}–{_num(s['rps_max'])}) "
                f"| {_num(s['mb_s'])} | {_num(s['p50'], 2)} | {_num(s['p90'], 2)} | {_num(s['p99'], 2)} | {errors} "
                f"| {rss} | {_num(s['cpu_ms'], 2) if target != 'direct' else '-'} | {s['upstream_max']} |"
            )
            first = False
    return out


def _get(rows: list[dict], scenario: str, target: str) -> dict | None:
    runs = _rows_for(rows, scenario, target)
    return summary(runs) if runs else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets_table(rows: list[dict]) -> list[str]:
    """The issue's targets, each with the measured figure and whether it is met."""
    g = {sc.name: _get(rows, sc.name, "imagegate") for sc in SCENARIOS}
    d = {sc.name: _get(rows, sc.name, "direct") for sc in SCENARIOS}
    ll = {sc.name: _get(rows, sc.name, "litellm") for sc in SCENARIOS}
    checks = []

    def add(what: str, target: str, value: str, ok: bool | None) -> None:
        checks.append(f"| {what} | {target} | {value} | {'-' if ok is None else ('met' if ok else '**not met**')} |")

    if g["c1"] and d["c1"]:
        p50, p99 = g["c1"]["p50"] - d["c1"]["p50"], g["c1"]["p99"] - d["c1"]["p99"]
        lite = (
            f" (LiteLLM +{ll['c1']['p50'] - d['c1']['p50']:.2f} / +{ll['c1']['p99'] - d['c1']['p99']:.2f})"
            if ll["c1"]
            else ""
        )
        add(
            "c1 added latency, p50 / p99",
            "≤ 1.5 ms / ≤ 4 ms",
            f"+{p50:.2f} ms / +{p99:.2f} ms{lite}",
            p50 <= 1.5 and p99 <= 4,
        )
    if g["c64"]:
        r = _ratio(g["c64"]["rps"], ll["c64"]["rps"] if ll["c64"] else None)
        add(
            "c64 throughput vs LiteLLM (same worker count)",
            "≥ 10×",
            f"{_num(g['c64']['rps'])} vs {_num(ll['c64']['rps']) if ll['c64'] else '-'} req/s = {_num(r, 2)}×",
            r is not None and r >= 10,
        )
        add("c64 gateway CPU per request", "≤ 1 ms", f"{g['c64']['cpu_ms']:.2f} ms", g["c64"]["cpu_ms"] <= 1)
    if g["inflight1000"] and d["inflight1000"]:
        r = _ratio(g["inflight1000"]["rps"], d["inflight1000"]["rps"])
        add(
            "inflight 1,000 × 2 s: req/s vs direct, errors",
            "≥ 95 %, 0 errors",
            f"{100 * r:.1f} % ({_num(g['inflight1000']['rps'])} vs {_num(d['inflight1000']['rps'])}), {g['inflight1000']['errors']} errors",
            r >= 0.95 and g["inflight1000"]["errors"] == 0,
        )
    if g["inflight10000"]:
        s = g["inflight10000"]
        vs = (
            f", {100 * _ratio(s['rps'], d['inflight10000']['rps']):.1f} % of direct req/s" if d["inflight10000"] else ""
        )
        add(
            "inflight 10,000 × 15 s: errors, peak RSS",
            "0 errors, ≤ 1 GiB",
            f"{s['errors']} errors, {_num(s['rss'], 0)} MB{vs}",
            s["errors"] == 0 and s["rss"] <= 1024,
        )
    if g["large1024-b64"]:
        s = g["large1024-b64"]
        r = _ratio(s["mb_s"], ll["large1024-b64"]["mb_s"] if ll["large1024-b64"] else None)
        add(
            "large 2.4 MB b64: MB/s vs LiteLLM",
            "≥ 5×",
            f"{_num(s['mb_s'])} vs {_num(ll['large1024-b64']['mb_s']) if ll['large1024-b64'] else '-'} MB/s = {_num(r, 2)}×",
            r is not None and r >= 5,
        )
        for name in ("large1024-b64", "large1024-url"):
            if g[name]:
                add(f"{name}: gateway CPU per image", "≤ 4 ms", f"{g[name]['cpu_ms']:.2f} ms", g[name]["cpu_ms"] <= 4)
    for name in ("large4096-b64", "large4096-url", "transcode1024", "transcode4096"):
        if g[name]:
            per_core = 1000 / g[name]["cpu_ms"] if g[name]["cpu_ms"] else None
            add(
                f"{name}: CPU per image, images/s per core",
                "-",
                f"{_num(g[name]['cpu_ms'])} ms, {_num(per_core, 2)} images/s per core, {_num(g[name]['mb_s'])} MB/s",
                None,
            )
    return ["| target of issue 6 | wanted | measured (medians) | |", "|---|---|---|---|", *checks]


def _accounts(n: int) -> str:
    return "a live key on a funded account" if n == 1 else f"{n} funded accounts with a live key each, used in turn"


def render(meta: dict, rows: list[dict], source: str | Path) -> str:
    m = meta["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libs"].items())
    lw = meta.get("litellm_workers", 1)
    lite = (
        f"LiteLLM {meta['litellm']} ({lw} uvicorn worker{'s' if lw > 1 else ''}, its defaults otherwise)"
        if meta.get("litellm")
        else "LiteLLM not run"
    )
    ledger = meta.get("ledger", {})
    repeats = (
        f"Quick run: {meta['repeats']} repeat(s), short durations."
        if meta["quick"]
        else f"Median of {meta['repeats']} repeats."
    )
    lines = [
        f"Measured {meta['date'][:10]} {meta['date'][11:13]}:{meta['date'][13:15]} UTC on {m['cores']} cores ({m['cpu']}), {m['mem_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}; {m['wrk']}; {libs}. imagegate: `imagegate serve --workers {meta['workers']}`, {meta.get('database', 'SQLite')}, "
        f"{_accounts(meta.get('accounts', 1))}; {lite}. Open-file limit {meta['fd_limit']} (raised to the hard limit). "
        f"{repeats} "
        f"Raw rows: `{source}`. Ledger verified after the run: {ledger.get('ok', '?')} "
        f"({ledger.get('accounts_checked', '?')} account(s)).",
        "",
        *main_table(rows),
        "",
        *targets_table(rows),
    ]
    return "\n".join(lines)


def splice(doc: Path, table: str, begin: str = BEGIN, end: str = END) -> None:
    """Put `table` between the markers `begin` and `end` of `doc` (a new file when there is none; a file
    without the markers is left alone rather than overwritten)."""
    block = f"{begin}\n{table}\n{end}"
    if not doc.exists():
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(f"# Benchmarks\n\n{block}\n")
    elif begin in doc.read_text():
        doc.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, doc.read_text(), flags=re.S))
    else:
        raise SystemExit(f"{doc} has no `{begin}` marker: add it (and `{end}`) where the table goes")


def main(argv: list[str]) -> None:
    """`report.py RESULTS.jsonl [DOC.md]`: print the tables, or put them into DOC.md's results block."""
    with open(argv[0]) as fh:
        lines = [json.loads(line) for line in fh]
    table = render(lines[0]["meta"], [row for row in lines[1:] if "scenario" in row], argv[0])
    if len(argv) > 1:
        splice(Path(argv[1]), table)
    else:
        print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
