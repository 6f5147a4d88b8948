"""Lighthouse (npm `lighthouse`, pinned in tests/web/lighthouse) scores `/`, a model page and the
playground in Debian's Chromium, with its default mobile emulation and throttling: 95 or more in
every category. The scores, and every audit that cost points, are kept as an artefact
(tests/artifacts/web/lighthouse.json)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import Gateway
from tests.support.js import npm_package
from tests.web.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium

LIGHTHOUSE_DIR = Path(__file__).resolve().parent / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
PAGES = ("/", "/models/gpt-image-2", "/playground")
MINIMUM = 0.95
RUN_TIMEOUT_SECONDS = 240


def lighthouse(node: str, url: str, out: Path) -> dict[str, Any]:
    """One Lighthouse run of `url`: its JSON report."""
    flags = " ".join([*CHROMIUM_ARGS, "--disable-quic", f"--user-data-dir={out.parent / 'profile'}"])
    done = subprocess.run(
        [
            node,
            str(LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"),
            url,
            "--output=json",
            f"--output-path={out}",
            f"--chrome-path={CHROMIUM}",
            f"--chrome-flags={flags}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--quiet",
        ],
        cwd=LIGHTHOUSE_DIR,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, f"lighthouse {url} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """Each category's score, and the audits that cost it points (with their weight and value)."""
    scores = {name: report["categories"][name]["score"] for name in CATEGORIES}
    lost = [
        {"category": name, "audit": ref["id"], "score": audit["score"], "weight": ref["weight"]}
        | ({"value": audit["displayValue"]} if audit.get("displayValue") else {})
        for name in CATEGORIES
        for ref in report["categories"][name]["auditRefs"]
        if ref["weight"] > 0 and (audit := report["audits"][ref["id"]])["score"] is not None and audit["score"] < 1
    ]
    return {"scores": scores, "lost": lost, "lighthouse": report["lighthouseVersion"]}


def test_lighthouse_scores_95_or_more_in_every_category(web_gateway: Gateway, tmp_path: Path) -> None:
    require_chromium()
    node = npm_package(LIGHTHOUSE_DIR, "lighthouse")
    results: dict[str, Any] = {}
    for path in PAGES:
        out = tmp_path / f"{path.strip('/').replace('/', '_') or 'index'}.json"
        results[path] = summary(lighthouse(node, web_gateway.base_url + path, out))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "lighthouse.json").write_text(json.dumps(results, indent=2))
    low = {
        path: {name: score for name, score in found["scores"].items() if score is None or score < MINIMUM}
        for path, found in results.items()
    }
    assert {path: scores for path, scores in low.items() if scores} == {}, json.dumps(results, indent=2)
