"""Signed, expiring download URLs of the embedded store: GET /v1/files/{image_id}.{ext}."""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from PIL import Image

from imagegate.domain.ids import new_id
from imagegate.storage.signing import UrlSigner
from tests.conftest import SIGNING_SECRET, Account, Gateway, start_gateway

pytestmark = pytest.mark.tier("in_process")


def fetch(url: str) -> httpx.Response:
    """Download a returned URL the way a browser would: no key."""
    return httpx.get(url, timeout=30)


def split(url: str) -> tuple[str, dict[str, str]]:
    """(the file's path, its query parameters) of a returned URL."""
    parsed = urlparse(url)
    query = {name: values[0] for name, values in parse_qs(parsed.query).items()}
    return parsed.path, query


def get(gateway: Gateway, path: str, query: dict[str, str]) -> httpx.Response:
    with gateway.http() as http:
        return http.get(f"{path}?{urlencode(query)}" if query else path)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if status == 403:
        assert error["type"] == "permission_error"


def generate_url(gateway: Gateway, account: Account, **kwargs: object) -> tuple[int, str]:
    result = gateway.client(account.key).images.generate(model="gpt-image-2", prompt="a lighthouse", **kwargs)  # type: ignore[arg-type]
    assert len(result.data) == 1 and result.data[0].url
    return result.created, result.data[0].url


@pytest.fixture
def signed(gateway: Gateway, test_account: Account) -> tuple[int, str]:
    return generate_url(gateway, test_account, size="1024x1536", output_format="webp")


def test_fetch_needs_no_key_and_returns_the_image(gateway: Gateway, signed: tuple[int, str]) -> None:
    _, url = signed
    assert urlparse(url).netloc == urlparse(gateway.base_url).netloc
    download = fetch(url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(download.content))
    image.load()
    assert (image.format, image.size) == ("WEBP", (1024, 1536))


def test_url_expires_a_day_after_created_by_default(signed: tuple[int, str]) -> None:
    created, url = signed
    path, query = split(url)
    assert path.startswith("/v1/files/img_") and path.endswith(".webp")
    assert int(query["expires"]) == created + 86400
    assert len(query["signature"]) == 64


def _flip_hex(signature: str) -> str:
    return ("0" if signature[0] != "0" else "1") + signature[1:]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda q: {**q, "signature": _flip_hex(q["signature"])}, id="one-hex-char-of-signature"),
        pytest.param(lambda q: {**q, "expires": str(int(q["expires"]) + 1)}, id="expires-plus-one"),
        pytest.param(lambda q: {**q, "expires": str(int(q["expires"]) + 10 * 365 * 86400)}, id="expires-far-future"),
        pytest.param(lambda q: {"expires": q["expires"]}, id="no-signature"),
        pytest.param(lambda q: {"signature": q["signature"]}, id="no-expires"),
        pytest.param(lambda q: {**q, "signature": ""}, id="empty-signature"),
        pytest.param(lambda q: {**q, "signature": q["signature"].upper()}, id="uppercase-signature"),
        pytest.param(lambda q: {**q, "expires": "abc"}, id="non-numeric-expires"),
        pytest.param(lambda q: {}, id="no-query"),
    ],
)
def test_tampered_url_is_invalid_signature(gateway: Gateway, signed: tuple[int, str], tamper) -> None:  # type: ignore[no-untyped-def]
    path, query = split(signed[1])
    response = get(gateway, path, tamper(query))
    assert_error(response, 403, "invalid_signature")
    assert not response.content.startswith(b"RIFF")


def test_signature_of_another_image_is_invalid(
    gateway: Gateway, test_account: Account, signed: tuple[int, str]
) -> None:
    path, query = split(signed[1])
    _, other_url = generate_url(gateway, test_account, size="1024x1536", output_format="webp")
    other_path, other_query = split(other_url)
    assert other_path != path
    assert_error(get(gateway, path, {**query, "signature": other_query["signature"]}), 403, "invalid_signature")
    assert_error(get(gateway, other_path, query), 403, "invalid_signature")
    # ...and the same image under another extension is another name, so also not signed
    assert_error(get(gateway, path.replace(".webp", ".png"), query), 403, "invalid_signature")


def test_validly_signed_unknown_image_is_404(gateway: Gateway) -> None:
    signer = UrlSigner(SIGNING_SECRET.encode())
    name = f"{new_id('img')}.png"
    expires = int(time.time()) + 3600
    response = get(
        gateway, f"/v1/files/{name}", {"expires": str(expires), "signature": signer.signature(name, expires)}
    )
    assert_error(response, 404, "image_not_found")


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "..%2Fetc%2Fpasswd",
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "img_x.gif",
        "imagegate.db",
        "signing-secret",
        "img_00000000000000000000000000.gif",
    ],
)
def test_names_that_are_not_ours_never_serve_a_file(gateway: Gateway, name: str) -> None:
    signer = UrlSigner(SIGNING_SECRET.encode())
    expires = int(time.time()) + 3600
    for query in ({}, {"expires": str(expires), "signature": signer.signature(name, expires)}):
        with gateway.http() as http:
            response = http.get(f"/v1/files/{name}", params=query)
        assert response.status_code in (403, 404), response.text
        assert response.headers["content-type"].startswith("application/json")
        assert "error" in response.json()
        assert b"root:" not in response.content
        assert SIGNING_SECRET.encode() not in response.content


def test_url_expires_after_the_configured_ttl(tmp_path: Path) -> None:
    # 5 s: the first fetch must come before the expiry, which (from a whole-second `created`) can be
    # as little as 4 s after the answer (with 2 s it was 1 s: a race a loaded machine could lose)
    gw = start_gateway(tmp_path / "data", None, {"IMAGEGATE_URL_TTL_SECONDS": "5"})
    try:
        account = gw.new_account("0", test=True)
        created, url = generate_url(gw, account, size="1024x1024")
        expires = int(split(url)[1]["expires"])
        assert expires == created + 5

        first = fetch(url)
        assert first.status_code == 200
        assert first.headers["content-type"] == "image/png"

        give_up = time.monotonic() + 10
        while time.time() <= expires + 0.5:
            assert time.monotonic() < give_up, "the URL's expiry is not within 10 s"
            time.sleep(0.1)
        assert_error(fetch(url), 403, "url_expired")
    finally:
        gw.stop()
