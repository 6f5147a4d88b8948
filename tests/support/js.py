"""The JavaScript client harness (`tests/js/`): the official `openai` npm package at the version
`package-lock.json` pins, installed by `npm ci` the first time a test needs it (a clone has no
`node_modules`) and not again while the pinned version is there, so later runs need no network.
Without node or npm the tests skip, saying why; under CI=true that is a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parents[1] / "js"
INSTALL_TIMEOUT_SECONDS = 300


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        reason = f"{tool} is not installed (the JavaScript client tests need node and npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: required, not skipped)", pytrace=False)
        pytest.skip(reason)
    return found


def _pinned(directory: Path, package: str) -> str:
    lock = json.loads((directory / "package-lock.json").read_text("utf-8"))
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def _installed(directory: Path, package: str) -> str | None:
    manifest = directory / "node_modules" / package / "package.json"
    return str(json.loads(manifest.read_text("utf-8"))["version"]) if manifest.exists() else None


def npm_package(directory: Path, package: str) -> str:
    """The `node` to run `package` with from `directory`, once `npm ci` has installed the version its
    `package-lock.json` pins (not again while that version is there)."""
    node = _require("node")
    if _installed(directory, package) != _pinned(directory, package):
        npm = _require("npm")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=directory,
            check=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    assert _installed(directory, package) == _pinned(directory, package)
    return node


def js_clients() -> str:
    """The `node` to run `tests/js/*.mjs` with, once the pinned packages are installed."""
    return npm_package(JS_DIR, "openai")


def run_script(node: str, script: str, env: dict[str, str], timeout: float = 120) -> dict[str, object]:
    """Run `tests/js/<script>` and read the one JSON line it prints."""
    done = subprocess.run(
        [node, script],
        cwd=JS_DIR,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


__all__ = ["JS_DIR", "js_clients", "npm_package", "run_script"]
