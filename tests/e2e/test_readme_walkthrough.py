"""The README's first hour, run as written: from a fresh clone, the start command, then each example in
the README's order (the curl, the Python example, the live-key steps), read from README.md itself.

The clone is `git clone` of this checkout's committed HEAD, so its scripts and README are the ones
under test. What a user would do by hand is done the same way here: the printed `export` line is
pasted, the `…` placeholders take the values the previous step printed, the upstream is the fake
OpenAI on loopback (the README's comment names OPENAI_BASE_URL for that), Ctrl-C is SIGINT, and a
terminal's foreground `./scripts/serve` is run with `exec` so that its process is the server's. The
one other change: port 8000 becomes a free port (IMAGEGATE_PORT, and `127.0.0.1:8000` in the text),
so that the test never collides with a gateway someone is running.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import ROOT, UPSTREAM_KEY, _clean_environ
from tests.support.processes import ManagedProcess, free_port
from tests.upstreams.fake_openai import FakeOpenAI

FIRST_START_SECONDS = 480
"""The first start creates .venv and installs imagegate from the local wheels and pip cache."""


def readme_blocks(readme: Path) -> list[tuple[str, str]]:
    """(language, text) of each fenced block from "## Start it" up to "## Run the tests"."""
    text = readme.read_text("utf-8")
    section = text[text.index("## Start it") : text.index("## Run the tests")]
    return [(m[1], m[2]) for m in re.finditer(r"^```(\w*)\n(.*?)^```", section, re.DOTALL | re.MULTILINE)]


class Walkthrough:
    def __init__(self, clone: Path, port: int) -> None:
        self.clone = clone
        self.port = port
        self.env = {**_clean_environ(), "IMAGEGATE_PORT": str(port)}
        self.env.pop("VIRTUAL_ENV", None)

    def text(self, block: str) -> str:
        return block.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")

    def run(self, block: str, env: dict[str, str] | None = None) -> str:
        """One terminal command (or a few lines of them), as bash runs it; its stdout."""
        result = subprocess.run(
            ["bash", "-c", self.text(block)],
            check=False,
            cwd=self.clone,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{block!r} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, block: str, log: str, timeout: float, env: dict[str, str] | None = None) -> ManagedProcess:
        """A block whose last line starts the server in the foreground."""
        lines = self.text(block).rstrip("\n").split("\n")
        assert lines[-1].strip() == "./scripts/serve", block
        script = "\n".join([*lines[:-1], "exec ./scripts/serve"])
        server = ManagedProcess(
            ["bash", "-c", script],
            {**self.env, **(env or {})},
            self.clone.parent / log,
            cwd=self.clone,
            inherit_env=False,
        )
        server.start(ready_url=f"http://127.0.0.1:{self.port}/healthz", timeout=timeout)
        return server


def ctrl_c(server: ManagedProcess) -> None:
    """What Ctrl-C in the server's terminal does; the server must exit by itself, promptly."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGINT)
    proc = server._proc
    assert proc is not None
    proc.wait(timeout=30)
    server.stop()


def test_the_readme_first_hour_from_a_fresh_clone(tmp_path: Path, upstream: FakeOpenAI) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    clone = tmp_path / "imagegate"
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(clone)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True, timeout=120)
    blocks = readme_blocks(clone / "README.md")
    start, key_line, curl, python, run_python, live, restart, live_key = blocks[:8]
    assert python[0] == "python" and start[1].strip() == "./scripts/serve", blocks
    walk = Walkthrough(clone, free_port())

    # ## Start it
    server = walk.start(start[1], "serve-1.log", FIRST_START_SECONDS)
    try:
        printed = server.log_text()
        shape = key_line[1].strip().split("…")[0]  # `export IMAGEGATE_API_KEY=ig_test_`
        found = re.search(re.escape(shape) + r"\S+", printed)
        assert found, printed
        test_key = found.group(0).split("=", 1)[1]
        for shown in (
            str(clone / "data"),
            f"127.0.0.1:{walk.port}/models",
            f"127.0.0.1:{walk.port}/playground",
            ".venv/bin/imagegate keys create acct_",
            ".venv/bin/imagegate doctor",
        ):
            assert shown in printed, f"the tour lacks {shown!r}:\n{printed}"
        second_terminal = {"IMAGEGATE_API_KEY": test_key}

        answer = json.loads(walk.run(curl[1], second_terminal))
        assert answer["billing"]["amount_micros"] == 0 and answer["billing"]["live_amount_micros"] > 0
        image = Image.open(io.BytesIO(httpx.get(answer["data"][0]["url"], timeout=30).content))
        assert (image.format, image.size) == ("PNG", (1024, 1024))

        (clone / "example.py").write_text(walk.text(python[1]), "utf-8")
        url, billing = walk.run(run_python[1], second_terminal).strip().split("\n")
        assert url.startswith(f"http://127.0.0.1:{walk.port}/v1/files/img_")
        assert "'amount_micros': 0" in billing and "live_amount_micros" in billing

        # ### Live keys: made while the first server keeps running
        create, top_up, make_key = [line for line in live[1].splitlines() if line.strip()]
        account_id = json.loads(walk.run(create, second_terminal))["id"]
        walk.run(top_up.replace("acct_…", account_id), second_terminal)
        live_key_value = json.loads(walk.run(make_key.replace("acct_…", account_id), second_terminal))["key"]
        assert live_key_value.startswith("ig_live_")
    finally:
        ctrl_c(server)
    assert "POST /v1/images/generations 200" in server.log_text()  # the access lines of the curl and example.py

    # stop it (Ctrl-C above), the upstream's credentials, doctor, start again
    upstream_env = {"OPENAI_BASE_URL": upstream.base_url}
    server = walk.start(restart[1].replace("sk-…", UPSTREAM_KEY), "serve-2.log", 120, upstream_env)
    try:
        printed = server.log_text()
        doctor_line = next((line for line in printed.splitlines() if "route gpt-image-2/openai" in line), "")
        assert doctor_line.startswith("ok") and "accepted the key" in doctor_line, printed
        assert "IMAGEGATE_API_KEY" not in printed  # not a first run: no new test key

        assert live_key[1].strip() == "export IMAGEGATE_API_KEY=ig_live_…"
        second_terminal = {"IMAGEGATE_API_KEY": live_key_value}
        answer = json.loads(walk.run(curl[1], second_terminal))
        cost = answer["billing"]["amount_micros"]
        assert cost > 0 and "live_amount_micros" not in answer["billing"]
        assert [r.path for r in upstream.requests].count("/v1/images/generations") == 1
        acme: dict[str, Any] = json.loads(walk.run(f".venv/bin/imagegate accounts show {account_id} --json"))
        assert acme["balance_micros"] == 25_000_000 - cost
    finally:
        ctrl_c(server)
