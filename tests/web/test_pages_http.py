"""The pages over plain HTTP: status, content type, security headers, escaping, the admin session,
the model page's measured latency, its examples (highlighted, and run as written), the samples CLI,
and the account activity API the account page reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from imagegate.web.examples import examples
from tests.conftest import Gateway, serve_gateway
from tests.upstreams.fake_openai import FakeOpenAI
from tests.web.conftest import ADMIN_TOKEN, cli_json, new_account

HOSTILE = '<script>alert("x")</script>'
OPERATOR_CATALOG = f"""
[models.preview]
description = 'Free images {HOSTILE} & more'
when_to_use = ["Testing <b>without</b> cost"]
"""
PAGES = ["/", "/models", "/models/gpt-image-2", "/models/preview", "/playground", "/account", "/admin"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[Gateway]:
    config = Path(tmp_path_factory.mktemp("web-config")) / "imagegate.toml"
    config.write_text(OPERATOR_CATALOG)
    env = {"IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN, "IMAGEGATE_CONFIG": str(config)}
    yield from serve_gateway(tmp_path_factory, "web-http", fake_openai, extra_env=env)


def get(gateway: Gateway, path: str, **kwargs: Any) -> httpx.Response:
    with gateway.http() as http:
        return http.get(path, **kwargs)


@contextmanager
def admin_client(gateway: Gateway) -> Iterator[httpx.Client]:
    """A client holding an admin session, logged in through the login form."""
    with httpx.Client(base_url=gateway.base_url, timeout=60) as http:
        response = http.post("/admin/login", data={"token": ADMIN_TOKEN})
        assert response.status_code == 303 and response.headers["location"] == "/admin"
        yield http


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match
    return match.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_html_with_a_policy_against_inline_scripts(gateway: Gateway, path: str) -> None:
    response = get(gateway, path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # every script is a static file
    for src in re.findall(r'<script src="([^"]+)"', response.text):
        assert get(gateway, src).status_code == 200


def test_api_routes_are_unchanged_by_the_pages(gateway: Gateway) -> None:
    response = get(gateway, "/v1/models")
    assert response.headers["content-type"] == "application/json"
    assert "content-security-policy" not in response.headers
    missing = get(gateway, "/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_an_unknown_model_is_a_404_page(gateway: Gateway) -> None:
    hostile_id = "<img src=x onerror=alert(1)>"
    response = get(gateway, f"/models/{hostile_id}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert hostile_id not in response.text and "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_catalog_text_is_escaped(gateway: Gateway) -> None:
    for path in ("/models/preview", "/"):
        html = get(gateway, path).text
        assert HOSTILE not in html and "<b>without</b>" not in html
    html = get(gateway, "/models/preview").text
    assert "Free images &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html
    assert "Testing &lt;b&gt;without&lt;/b&gt; cost" in html


def test_admin_pages_need_the_token_and_escape_what_accounts_are_called(gateway: Gateway) -> None:
    assert "admin-token" in get(gateway, "/admin").text
    with httpx.Client(base_url=gateway.base_url, timeout=60) as http:
        wrong = http.post("/admin/login", data={"token": "wrong"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        assert http.post("/admin/login", data={"token": ""}).status_code == 401
    forged = {"imagegate_admin": "9999999999.00.deadbeef"}
    with httpx.Client(base_url=gateway.base_url, timeout=60, cookies=forged) as http:
        page = http.get("/admin")
        assert "accounts-h" not in page.text and "admin-token" in page.text
        assert http.post("/admin/accounts", data={"name": "x", "csrf": "00"}).status_code == 401
    cli_json(gateway, "accounts", "create", HOSTILE)
    with admin_client(gateway) as http:
        set_cookie = http.post("/admin/login", data={"token": ADMIN_TOKEN}).headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/admin" in set_cookie
        page = http.get("/admin")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert HOSTILE not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_admin_forms_refuse_a_missing_csrf_token_and_a_foreign_origin(gateway: Gateway) -> None:
    before = len(cli_json(gateway, "accounts", "list")["data"])
    with admin_client(gateway) as http:
        csrf = csrf_of(http.get("/admin").text)
        assert http.post("/admin/accounts", data={"name": "no csrf"}).status_code == 403
        assert http.post("/admin/accounts", data={"name": "bad csrf", "csrf": "0" * 64}).status_code == 403
        foreign = http.post(
            "/admin/accounts", data={"name": "foreign", "csrf": csrf}, headers={"origin": "https://evil.example"}
        )
        assert foreign.status_code == 401
        assert len(cli_json(gateway, "accounts", "list")["data"]) == before
        done = http.post("/admin/accounts", data={"name": "with csrf", "csrf": csrf})
        assert done.status_code == 303 and done.headers["location"] == "/admin?done=account"
    assert len(cli_json(gateway, "accounts", "list")["data"]) == before + 1


def test_admin_errors_are_shown_and_nothing_changes(gateway: Gateway) -> None:
    account = cli_json(gateway, "accounts", "create", "errors")
    with admin_client(gateway) as http:
        csrf = csrf_of(http.get("/admin").text)
        response = http.post(
            f"/admin/accounts/{account['id']}/credit", data={"amount_usd": "abc", "reason": "x", "csrf": csrf}
        )
        assert response.status_code == 400 and "is not a number" in response.text
    assert cli_json(gateway, "accounts", "show", account["id"])["balance_micros"] == 0


def test_every_numeric_admin_field_refuses_hostile_numbers_as_a_form_error(gateway: Gateway) -> None:
    """`"²".isdigit()` is true and `int()` refuses 5,000 digits: each is the form's 400, never a 500."""
    account = cli_json(gateway, "accounts", "create", "numbers")
    forms = [
        (f"/admin/accounts/{account['id']}/keys", "rpm", {}),
        (f"/admin/accounts/{account['id']}/credit", "amount_usd", {"reason": "x"}),
        ("/admin/prices", "amount_usd", {"model": "gpt-image-2", "quality": "high", "size": "1024x1024"}),
    ]
    prices_before = cli_json(gateway, "prices", "list")
    with admin_client(gateway) as http:
        csrf = csrf_of(http.get("/admin").text)
        for path, field, others in forms:
            for value in ("²", "①", "9" * 5000, "1e999999", "NaN", "-Infinity", "1\x00"):
                response = http.post(path, data={**others, field: value, "csrf": csrf})
                assert response.status_code == 400, (path, field, value[:20], response.status_code)
                assert response.headers["content-type"].startswith("text/html")
                assert 'id="admin-error"' in response.text, response.text[:300]
    assert cli_json(gateway, "keys", "list", account["id"])["data"] == []
    assert cli_json(gateway, "accounts", "show", account["id"])["balance_micros"] == 0
    assert cli_json(gateway, "prices", "list") == prices_before


def test_admin_logout_ends_the_session_in_the_browser(gateway: Gateway) -> None:
    with admin_client(gateway) as http:
        csrf = csrf_of(http.get("/admin").text)
        out = http.post("/admin/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert 'imagegate_admin=""' in out.headers["set-cookie"] and "max-age=0" in out.headers["set-cookie"].lower()
        assert "admin-token" in http.get("/admin").text


def test_the_model_page_shows_measured_latency_once_there_is_data(gateway: Gateway) -> None:
    html = get(gateway, "/models/gpt-image-2").text
    assert re.search(r'id="measured-overall".*?not enough data \(0 live requests\)', html, re.S)
    account = new_account(gateway, "latency", "5")
    client = gateway.client(account.key)
    for _ in range(3):
        client.images.generate(model="gpt-image-2", prompt="a red cube", size="1024x1024", quality="high")
    html = get(gateway, "/models/gpt-image-2").text
    overall = re.search(r'id="measured-overall".*?</tr>', html, re.S)
    reference = re.search(r'id="measured-reference".*?</tr>', html, re.S)
    assert overall and "1024x1024 high" in reference.group(0) if reference else False
    for row in (overall.group(0), reference.group(0)):  # type: ignore[union-attr]
        assert re.search(r"median \d+\.\d s, p90 \d+\.\d s \(3 live requests\)", row), row
    assert "not enough data (0 live requests)" in get(gateway, "/models/nano-banana-2").text


def test_account_activity_is_the_callers_own_last_30_days(gateway: Gateway) -> None:
    mine = new_account(gateway, "activity", "5")
    other = new_account(gateway, "other", "5")
    gateway.client(mine.key).images.generate(model="gpt-image-2", prompt="a cat", size="1024x1024", quality="low", n=2)
    gateway.client(other.key).images.generate(model="gpt-image-2", prompt="a dog", size="1024x1024", quality="low")
    response = get(gateway, "/v1/account/activity", headers={"Authorization": f"Bearer {mine.key}"})
    assert response.status_code == 200
    body = response.json()
    assert body["account_id"] == mine.id and len(body["days"]) == 30
    today = body["days"][-1]
    assert (today["cost_micros"], today["images"], today["requests"]) == (12000, 2, 1)
    assert sum(d["requests"] for d in body["days"]) == 1
    (recent,) = body["recent"]
    assert (recent["model"], recent["status"], recent["delivered"], recent["cost_micros"]) == (
        "gpt-image-2",
        200,
        2,
        12000,
    )
    assert [(i["request_id"], i["model"], i["size"]) for i in body["images"]] == [
        (recent["id"], "gpt-image-2", "1024x1024")
    ] * 2
    for image in body["images"]:
        assert image["expires"] > time.time() + 86000
        fetched = httpx.get(image["url"])
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    gateway.client(mine.key).images.generate(
        model="gpt-image-2", prompt="a b64 cat", quality="low", response_format="b64_json"
    )
    again = get(gateway, "/v1/account/activity", headers={"Authorization": f"Bearer {mine.key}"}).json()
    assert len(again["recent"]) == 2 and len(again["images"]) == 2  # b64_json answers keep no images
    assert get(gateway, "/v1/account/activity").json()["error"]["code"] == "missing_api_key"


def code_of(html: str, example: str) -> str:
    """An example's code as a reader copies it: the text of its highlighted block."""
    match = re.search(rf'<code class="hl" id="code-{example}">(.*?)</code>', html, re.S)
    assert match, example
    return unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def test_examples_are_highlighted_on_the_server_and_copy_as_plain_code(gateway: Gateway) -> None:
    html = get(gateway, "/models/gpt-image-2").text
    assert '<span class="kn">import</span>' in html  # Pygments' token classes, no inline style
    assert "style=" not in html
    body = {
        "model": "gpt-image-2",
        "prompt": "A kettle on the left and a mug on the right, both steaming, on a marble counter",
        "size": "1024x1024",
        "n": 1,
        "quality": "medium",
    }
    for example in examples(gateway.base_url, body):
        assert code_of(html, example.id) == example.code


@pytest.mark.parametrize(
    ("model", "names"),
    [("gpt-image-2", ["python", "chat", "responses"]), ("nano-banana-2", ["python", "edit-python"])],
)
def test_the_python_examples_of_a_model_page_run_as_written(
    gateway: Gateway, tmp_path: Path, model: str, names: list[str]
) -> None:
    """Copied from the page and run with the official SDK and a test key: each example gets its image."""
    key = new_account(gateway, f"examples {model}", test=True).key
    html = get(gateway, f"/models/{model}").text
    Image.new("RGB", (64, 64), (10, 120, 200)).save(tmp_path / "photo.png")  # what the edit example sends
    for name in names:
        done = subprocess.run(
            [sys.executable, "-c", code_of(html, name)],
            cwd=tmp_path,
            env={"PATH": os.environ.get("PATH", ""), "IMAGEGATE_API_KEY": key},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{model} {name}:\n{done.stderr[-2000:]}"
        assert done.stdout.strip(), name


def png_file(path: Path, size: tuple[int, int]) -> Path:
    Image.new("RGB", size, (220, 120, 40)).save(path)
    return path


def test_the_samples_cli_fills_the_gallery_of_a_model_page(gateway: Gateway, tmp_path: Path) -> None:
    picture = png_file(tmp_path / "kettle.png", (1024, 1024))
    added = cli_json(gateway, "samples", "add", "nano-banana-2", str(picture), "--prompt", "A copper kettle")
    assert added["params"] == {"size": "1024x1024"} and added["url"] == f"/samples/{added['id']}.png"
    html = get(gateway, "/models/nano-banana-2").text
    gallery = re.search(r'id="gallery".*?</section>', html, re.S)
    assert gallery and "A copper kettle" in gallery.group(0) and f'src="{added["url"]}"' in gallery.group(0)
    assert 'href="#examples"' in html  # the section menu names it
    served = get(gateway, added["url"])
    assert served.status_code == 200 and served.content == picture.read_bytes()
    listed = cli_json(gateway, "samples", "list", "--model", "nano-banana-2")["data"]
    assert [s["id"] for s in listed] == [added["id"]]

    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(AssertionError, match='"param": "file"'):
        gateway.cli("samples", "add", "nano-banana-2", str(bad), "--prompt", "x", "--json")
    with pytest.raises(AssertionError, match=r"error: .*style"):  # nano-banana-2 has no styles
        gateway.cli("samples", "add", "nano-banana-2", str(picture), "--prompt", "x", "--param", "style=vivid")
    assert cli_json(gateway, "samples", "list")["data"] == listed  # nothing kept

    assert cli_json(gateway, "samples", "remove", added["id"])["deleted"] is True
    assert get(gateway, added["url"]).status_code == 404
    assert 'id="gallery"' not in get(gateway, "/models/nano-banana-2").text
