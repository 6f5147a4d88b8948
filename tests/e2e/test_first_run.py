"""The README's first run: start on embedded defaults, take the printed test key, run the curl."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import httpx
from PIL import Image

from tests.conftest import ROOT, _clean_environ
from tests.support.processes import ManagedProcess, free_port

CURL_BODY = {
    "model": "gpt-image-2",
    "prompt": "A kettle on the left and a mug on the right, both steaming, on a marble counter",
    "size": "1024x1024",
    "quality": "high",
}


def test_first_start_prints_a_test_key_that_serves_the_readme_curl(tmp_path: Path) -> None:
    port = free_port()
    env = {**_clean_environ(), "IMAGEGATE_DATA_DIR": str(tmp_path / "data"), "IMAGEGATE_PORT": str(port)}
    server = ManagedProcess(
        [sys.executable, "-m", "imagegate", "serve"], env, tmp_path / "serve.log", cwd=ROOT, inherit_env=False
    )
    server.start(ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60)
    try:
        printed = re.search(r"export IMAGEGATE_API_KEY=(ig_test_\S+)", server.log_text())
        assert printed, server.log_text()
        key = printed.group(1)
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/images/generations",
            json=CURL_BODY,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        image = Image.open(io.BytesIO(httpx.get(response.json()["data"][0]["url"], timeout=30).content))
        assert (image.format, image.size) == ("PNG", (1024, 1024))
    finally:
        server.stop()

    # A second start on the same data dir keeps the account and prints no new key.
    again = ManagedProcess(
        [sys.executable, "-m", "imagegate", "serve"], env, tmp_path / "serve2.log", cwd=ROOT, inherit_env=False
    )
    again.start(ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60)
    try:
        assert "IMAGEGATE_API_KEY" not in again.log_text()
        account = httpx.get(
            f"http://127.0.0.1:{port}/v1/account", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert account.json()["key"]["mode"] == "test"
    finally:
        again.stop()
