"""C2PA provenance on every image the gateway hands out (issue 22, part 1), in process: each surface
(the Images API's URL and b64_json answers, edits, streams with their partial images, async jobs,
chat's data URLs, Responses' `result`) and each format, read back with c2pa-python as a client would;
the upstream's own manifest kept as the parent ingredient, through conversions and upscaling; test-mode
previews; IMAGEGATE_C2PA=off; the operator's certificate; credentials that cannot sign refuse to start."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import stat
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from PIL import Image

from imagegate import __version__
from imagegate.cli import main
from imagegate.provenance.credentials import DOCUMENT_SIGNING, CredentialsError, issue_chain
from imagegate.service.operator.doctor import diagnose
from imagegate.wiring import open_doctor
from tests.support.provenance import (
    TRAINED,
    VENDOR_GENERATOR,
    actions_of,
    active_manifest,
    failures,
    manifest_store,
    mime_of,
    vendor_signed,
)
from tests.upstreams.fake_openai import FakeOpenAI

from .app import InProcess, app_settings, open_app

UPSTREAM_KEY = "sk-fake-upstream-provenance"
PLACEHOLDER = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
ON_UPSTREAM = """
[models.gpt-image-2]
img2img = true
"""
"""gpt-image-2 on its OpenAI route (the fake upstream), edits on: the upstream draws every format asked."""
CONVERTING = """
[models.gpt-image-2]
img2img = true

[[models.gpt-image-2.routes]]
name = "openai"
provider = "openai"
credentials = "openai"
upstream_model = "gpt-image-2"
native_formats = ["png"]
upscaled_from = { "1536x1024" = "768x512" }
"""
"""A route that draws only PNG, and 1536x1024 at half the size: the gateway re-encodes WEBP and upscales
(a size below the heap trim's, which would outlive this test's event loop)."""
FIELDS = {"model": "gpt-image-2", "prompt": "a red kite over the sea", "quality": "low", "size": "1024x1024"}
ASYNC = {"Prefer": "respond-async"}
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
Scenario = Callable[[InProcess], Awaitable[None]]


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


def run_app(tmp_path: Path, scenario: Scenario, catalog: str | None = None, **env: str) -> None:
    async def go() -> None:
        async with open_app(app_settings(tmp_path / "data", catalog, **env)) as app:
            await scenario(app)

    asyncio.run(go())


def on_upstream(tmp_path: Path, fake: FakeOpenAI, scenario: Scenario, catalog: str = ON_UPSTREAM, **env: str) -> None:
    run_app(tmp_path, scenario, catalog, OPENAI_API_KEY=UPSTREAM_KEY, OPENAI_BASE_URL=fake.base_url, **env)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def unpacked(b64_or_data_url: str) -> bytes:
    return base64.b64decode(b64_or_data_url.rpartition(",")[2])


def events(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream."""
    found = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                found.append(json.loads(line.removeprefix("data: ")))
    return found


def assert_marked_by_the_gateway(data: bytes, fmt: str, size: tuple[int, int] = (1024, 1024)) -> dict[str, Any]:
    """A valid manifest of imagegate's on an image of the format and size asked: created by gpt-image-2
    (OpenAI), a trained model; no parent. Returns the manifest."""
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == (PIL_FORMATS[fmt], size)
    manifest = active_manifest(data)
    assert manifest["claim_generator_info"][0]["name"] == "imagegate"
    assert manifest["claim_generator_info"][0]["version"] == __version__
    assert manifest["signature_info"]["common_name"] == "imagegate C2PA signer"
    first = actions_of(manifest)[0]
    assert (first["action"], first["digitalSourceType"]) == ("c2pa.created", TRAINED)
    assert first["softwareAgent"] == {"name": "gpt-image-2", "vendor": "OpenAI"}
    assert failures(data) == []
    return manifest


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_every_surface_hands_out_images_carrying_the_gateways_manifest(
    tmp_path: Path, fake_upstream: FakeOpenAI, fmt: str
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key("100")
        body = {**FIELDS, "output_format": fmt}
        delivered: dict[str, bytes] = {}

        b64 = await app.http.post(
            "/v1/images/generations", json={**body, "response_format": "b64_json"}, headers=auth(key)
        )
        assert b64.status_code == 200, b64.text
        delivered["images b64_json"] = unpacked(b64.json()["data"][0]["b64_json"])

        url = await app.http.post("/v1/images/generations", json=body, headers=auth(key))
        assert url.status_code == 200, url.text
        download = await app.http.get(url.json()["data"][0]["url"])
        assert download.status_code == 200 and download.headers["content-type"] == f"image/{fmt}"
        delivered["images url"] = download.content

        edit = await app.http.post(
            "/v1/images/edits",
            data={**body, "response_format": "b64_json"},
            files={"image": ("photo.png", photo(), "image/png")},
            headers=auth(key),
        )
        assert edit.status_code == 200, edit.text
        delivered["edit"] = unpacked(edit.json()["data"][0]["b64_json"])

        stream = await app.http.post(
            "/v1/images/generations", json={**body, "stream": True, "partial_images": 2}, headers=auth(key)
        )
        assert stream.status_code == 200, stream.text
        sent = events(stream.text)
        assert [e["type"] for e in sent] == [
            "image_generation.partial_image",
            "image_generation.partial_image",
            "image_generation.completed",
        ]
        for i, event in enumerate(sent):
            delivered[f"stream {event['type']} {i}"] = unpacked(event["b64_json"])

        accepted = await app.http.post("/v1/images/generations", json=body, headers={**auth(key), **ASYNC})
        assert accepted.status_code == 202, accepted.text
        assert await app.gateway.job_workers.run_one()
        job = (await app.http.get(accepted.headers["location"], headers=auth(key))).json()
        assert job["status"] == "completed", job
        delivered["job url"] = (await app.http.get(job["result"]["data"][0]["url"])).content

        chat = await app.http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-image-2",
                "messages": [{"role": "user", "content": FIELDS["prompt"]}],
                "quality": "low",
                "output_format": fmt,
            },
            headers=auth(key),
        )
        assert chat.status_code == 200, chat.text
        (image,) = chat.json()["choices"][0]["message"]["images"]
        assert image["image_url"]["url"].startswith(f"data:image/{fmt};base64,")
        delivered["chat data url"] = unpacked(image["image_url"]["url"])

        tool = {"type": "image_generation", "model": "gpt-image-2", "quality": "low", "size": "1024x1024"}
        responses = await app.http.post(
            "/v1/responses",
            json={"model": "gpt-5", "input": FIELDS["prompt"], "tools": [{**tool, "output_format": fmt}]},
            headers=auth(key),
        )
        assert responses.status_code == 200, responses.text
        delivered["responses result"] = unpacked(responses.json()["output"][0]["result"])

        streamed = await app.http.post(
            "/v1/responses",
            json={
                "model": "gpt-5",
                "input": FIELDS["prompt"],
                "stream": True,
                "tools": [{**tool, "output_format": fmt, "partial_images": 1}],
            },
            headers=auth(key),
        )
        assert streamed.status_code == 200, streamed.text
        by_type = {e["type"]: e for e in events(streamed.text)}
        partial = by_type["response.image_generation_call.partial_image"]["partial_image_b64"]
        delivered["responses stream partial"] = unpacked(partial)
        delivered["responses stream done"] = unpacked(by_type["response.output_item.done"]["item"]["result"])

        for surface, data in delivered.items():
            manifest = assert_marked_by_the_gateway(data, fmt)
            assert "ingredients" not in manifest or manifest["ingredients"] == [], surface
            assert [a["action"] for a in actions_of(manifest)] == ["c2pa.created"], surface  # nothing changed

    fake_upstream.reset()
    on_upstream(tmp_path, fake_upstream, scenario, IMAGEGATE_JOB_WORKERS="0")  # the test runs the job


def test_the_upstreams_own_manifest_becomes_the_parent_through_conversion_and_upscaling(
    tmp_path: Path, fake_upstream: FakeOpenAI
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key("100")

        async def b64_image(**extra: Any) -> bytes:
            body = {**FIELDS, "response_format": "b64_json", **extra}
            response = await app.http.post("/v1/images/generations", json=body, headers=auth(key))
            assert response.status_code == 200, response.text
            return unpacked(response.json()["data"][0]["b64_json"])

        cases = {
            "as delivered": (await b64_image(output_format="png"), "png", (1024, 1024), []),
            "converted": (await b64_image(output_format="webp"), "webp", (1024, 1024), ["c2pa.converted"]),
            "upscaled": (await b64_image(size="1536x1024"), "png", (1536, 1024), ["c2pa.resized"]),
        }
        for name, (data, fmt, size, edits) in cases.items():
            manifest = assert_marked_by_the_gateway_over_a_parent(data, fmt, size)
            assert [a["action"] for a in actions_of(manifest)] == ["c2pa.opened", *edits], name
        converted, upscaled = (
            actions_of(active_manifest(cases["converted"][0]))[1],
            actions_of(active_manifest(cases["upscaled"][0]))[1],
        )
        assert converted["description"] == "re-encoded from PNG to WEBP"
        assert converted["softwareAgent"] == {"name": "imagegate", "version": __version__}
        assert upscaled["description"] == "upscaled from 768x512 to 1536x1024 (Lanczos)"

        stream = await app.http.post(
            "/v1/images/generations", json={**FIELDS, "stream": True, "partial_images": 1}, headers=auth(key)
        )
        assert stream.status_code == 200, stream.text
        for event in events(stream.text):  # the partial image and the completed one alike
            assert_marked_by_the_gateway_over_a_parent(unpacked(event["b64_json"]), "png", (1024, 1024))

    fake_upstream.reset()
    fake_upstream.stamp = vendor_signed
    on_upstream(tmp_path, fake_upstream, scenario, CONVERTING)


def assert_marked_by_the_gateway_over_a_parent(data: bytes, fmt: str, size: tuple[int, int]) -> dict[str, Any]:
    """The gateway's manifest opens the upstream's image as its parent, whose own manifest (the test
    vendor's) is kept in the store, the whole store valid."""
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == (PIL_FORMATS[fmt], size)
    store = manifest_store(data)
    assert store is not None
    manifest = store["manifests"][store["active_manifest"]]
    assert manifest["claim_generator_info"][0]["name"] == "imagegate"
    first = actions_of(manifest)[0]
    assert (first["action"], first["digitalSourceType"]) == ("c2pa.opened", TRAINED)
    assert first["softwareAgent"] == {"name": "gpt-image-2", "vendor": "OpenAI"}
    (parent,) = manifest["ingredients"]
    assert parent["relationship"] == "parentOf"
    upstream = store["manifests"][parent["active_manifest"]]
    assert upstream["claim_generator_info"][0]["name"] == VENDOR_GENERATOR
    assert upstream["signature_info"]["common_name"] == "Test Vendor C2PA signer"
    assert [a["action"] for a in actions_of(upstream)] == ["c2pa.created"]
    assert failures(data) == []
    return dict(manifest)


def broken_manifest(data: bytes, _fmt: str) -> bytes:
    """A PNG with a `caBX` chunk that is not a manifest store (an upstream's manifest gone bad)."""
    chunk = b"caBX" + b"\x00\x00\x00\x10jumbnot a store"
    return data[:33] + struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


def test_an_upstream_manifest_that_cannot_be_read_is_replaced_by_the_gateways(
    tmp_path: Path, fake_upstream: FakeOpenAI
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        body = {**FIELDS, "response_format": "b64_json"}
        response = await app.http.post("/v1/images/generations", json=body, headers=auth(key))
        assert response.status_code == 200, response.text
        manifest = assert_marked_by_the_gateway(unpacked(response.json()["data"][0]["b64_json"]), "png")
        assert [a["action"] for a in actions_of(manifest)] == ["c2pa.created"] and not manifest.get("ingredients")

    fake_upstream.reset()
    fake_upstream.stamp = broken_manifest
    on_upstream(tmp_path, fake_upstream, scenario)


def test_test_mode_previews_are_marked_as_the_gateways_placeholders_and_the_model_page_says_so(
    tmp_path: Path,
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key("0", test=True)
        for fmt in ("png", "jpeg", "webp"):
            body = {**FIELDS, "output_format": fmt, "response_format": "b64_json"}
            response = await app.http.post("/v1/images/generations", json=body, headers=auth(key))
            assert response.status_code == 200, response.text
            data = unpacked(response.json()["data"][0]["b64_json"])
            manifest = active_manifest(data)
            assert mime_of(data) == f"image/{fmt}" and failures(data) == []
            assert manifest["claim_generator_info"][0]["name"] == "imagegate"
            (created,) = actions_of(manifest)
            assert (created["action"], created["digitalSourceType"]) == ("c2pa.created", PLACEHOLDER)
            assert created["softwareAgent"]["name"] == "imagegate preview"
            assert "gpt-image-2 (OpenAI)" in created["description"]

        page = (await app.http.get("/models/gpt-image-2")).text  # the model page says so
        assert "Every image carries <strong>Content Credentials</strong>" in page
        assert "generated by an AI model, GPT-Image 2 (OpenAI)" in page and "contentcredentials.org/verify" in page
        assert "a placeholder drawn by the gateway" in (await app.http.get("/models/preview")).text

    run_app(tmp_path, scenario)


def test_c2pa_off_hands_out_unmarked_images_and_doctor_warns(tmp_path: Path) -> None:
    settings: list[Any] = []

    async def scenario(app: InProcess) -> None:
        settings.append(app.settings)
        key = await app.new_key("0", test=True)
        body = {**FIELDS, "response_format": "b64_json"}
        response = await app.http.post("/v1/images/generations", json=body, headers=auth(key))
        assert response.status_code == 200, response.text
        assert manifest_store(unpacked(response.json()["data"][0]["b64_json"])) is None
        page = (await app.http.get("/models/gpt-image-2")).text
        assert "carry no Content Credentials" in page and "Every image carries" not in page

    run_app(tmp_path, scenario, IMAGEGATE_C2PA="off")
    assert not (tmp_path / "data" / "c2pa").exists()  # no chain was made either
    checks = {c.name: c for c in asyncio.run(diagnose(lambda: settings[0], open_doctor, offline=True))}
    assert checks["c2pa"].status == "warn" and "IMAGEGATE_C2PA=off" in checks["c2pa"].detail
    assert checks["c2pa"].fix is not None and "IMAGEGATE_C2PA" in checks["c2pa"].fix


def test_the_gateways_own_chain_is_made_once_and_doctor_says_it_is_on_no_trust_list(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"IMAGEGATE_DATA_DIR": str(tmp_path / "data"), "IMAGEGATE_SIGNING_SECRET": "provenance-test-secret"}
    result = runner.invoke(main, ["init", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert "own chain" in json.loads(result.output)["c2pa_signer"]
    chain, key = tmp_path / "data" / "c2pa" / "chain.pem", tmp_path / "data" / "c2pa" / "key.pem"
    assert chain.read_bytes().count(b"BEGIN CERTIFICATE") == 2  # the leaf and the CA that issued it
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = chain.read_bytes()
    assert runner.invoke(main, ["init"], env=env).exit_code == 0
    assert chain.read_bytes() == first  # kept, not made again

    settings = app_settings(tmp_path / "data")
    checks = {c.name: c for c in asyncio.run(diagnose(lambda: settings, open_doctor, offline=True))}
    assert checks["c2pa"].status == "warn" and "not from a trusted list" in checks["c2pa"].detail
    assert checks["c2pa"].fix is not None and "IMAGEGATE_C2PA_CERT" in checks["c2pa"].fix


def operator_files(
    folder: Path, name: str = "Example Operator", usages: tuple[ObjectIdentifier, ...] = (DOCUMENT_SIGNING,)
) -> tuple[Path, Path]:
    """An operator's chain and key, its leaf with the extended key `usages` (documentSigning: the one a
    document signing certificate has, which c2pa-rs alone would not accept)."""
    chain, key = issue_chain(name, f"{name} Ltd", usages)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chain.pem").write_bytes(chain)
    (folder / "key.pem").write_bytes(key)
    return folder / "chain.pem", folder / "key.pem"


def test_an_operators_certificate_signs_when_given(tmp_path: Path) -> None:
    cert, key_file = operator_files(tmp_path / "operator")
    settings: list[Any] = []

    async def scenario(app: InProcess) -> None:
        settings.append(app.settings)
        key = await app.new_key("0", test=True)
        body = {**FIELDS, "response_format": "b64_json"}
        response = await app.http.post("/v1/images/generations", json=body, headers=auth(key))
        assert response.status_code == 200, response.text
        data = unpacked(response.json()["data"][0]["b64_json"])
        signature = active_manifest(data)["signature_info"]
        assert (signature["common_name"], signature["issuer"]) == (
            "Example Operator C2PA signer",
            "Example Operator Ltd",
        )
        assert failures(data) == []

    run_app(tmp_path, scenario, IMAGEGATE_C2PA_CERT=str(cert), IMAGEGATE_C2PA_KEY=str(key_file))
    assert not (tmp_path / "data" / "c2pa").exists()  # the gateway made no chain of its own
    checks = {c.name: c for c in asyncio.run(diagnose(lambda: settings[0], open_doctor, offline=True))}
    assert checks["c2pa"].status == "ok" and "Example Operator C2PA signer" in checks["c2pa"].detail


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            lambda ops, _other: {
                "IMAGEGATE_C2PA_CERT": str(ops / "missing.pem"),
                "IMAGEGATE_C2PA_KEY": str(ops / "key.pem"),
            },
            "IMAGEGATE_C2PA_CERT: cannot read {ops}/missing.pem: No such file or directory",
            id="missing",
        ),
        pytest.param(
            lambda ops, _other: {
                "IMAGEGATE_C2PA_CERT": str(ops / "key.pem"),
                "IMAGEGATE_C2PA_KEY": str(ops / "key.pem"),
            },
            "IMAGEGATE_C2PA_CERT: {ops}/key.pem holds no PEM certificate",
            id="not-a-certificate",
        ),
        pytest.param(
            lambda ops, other: {
                "IMAGEGATE_C2PA_CERT": str(ops / "chain.pem"),
                "IMAGEGATE_C2PA_KEY": str(other / "key.pem"),
            },
            "IMAGEGATE_C2PA_KEY: {other}/key.pem is not the key of the first certificate in {ops}/chain.pem",
            id="someone-elses-key",
        ),
        pytest.param(
            lambda ops, _other: {"IMAGEGATE_C2PA_CERT": str(ops / "chain.pem")},
            "set both IMAGEGATE_C2PA_CERT and IMAGEGATE_C2PA_KEY, or neither",
            id="cert-alone",
        ),
        pytest.param(
            lambda ops, _other: {
                "IMAGEGATE_C2PA_CERT": str(ops.parent / "code-signing" / "chain.pem"),
                "IMAGEGATE_C2PA_KEY": str(ops.parent / "code-signing" / "key.pem"),
            },
            "{ops.parent}/code-signing/chain.pem, {ops.parent}/code-signing/key.pem cannot sign: "
            "Signature: the certificate is invalid",
            id="a-code-signing-certificate",
        ),
    ],
)
def test_credentials_that_cannot_sign_refuse_to_start_with_a_clear_message(
    tmp_path: Path, files: Callable[[Path, Path], dict[str, str]], message: str
) -> None:
    ops, other, code = tmp_path / "operator", tmp_path / "other", tmp_path / "code-signing"
    operator_files(ops)
    operator_files(other, "Someone Else")
    operator_files(code, "Code Signer", (ExtendedKeyUsageOID.CODE_SIGNING,))
    env = {"IMAGEGATE_DATA_DIR": str(tmp_path / "data"), "IMAGEGATE_SIGNING_SECRET": "provenance-test-secret"}
    env.update(files(ops, other))
    expected = message.format(ops=ops, other=other)

    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 1, result.output
    assert f"Error: cannot sign C2PA manifests: {expected}" in " ".join(result.output.split()), result.output

    async def start() -> None:
        async with open_app(app_settings(tmp_path / "data", None, **files(ops, other))):
            pass  # pragma: no cover - it must not start

    with pytest.raises(CredentialsError, match=re.escape(expected)):
        asyncio.run(start())
