"""Images in an S3-compatible bucket (moto's server on loopback): both URL modes, HEAD, and the faults."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from PIL import Image

from tests.conftest import (
    ROOT,
    Account,
    Gateway,
    PostgresDatabase,
    _clean_environ,
    require_service,
    serve_gateway,
    serve_in_process,
    start_gateway,
)
from tests.support.assertions import assert_error
from tests.support.moto import MotoServer
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

BUCKET = "imagegate-test"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with MotoServer(tmp_path_factory.mktemp("moto")) as server:
        server.create_bucket(BUCKET)
        yield server


def _s3_env(moto: MotoServer, bucket: str = BUCKET, **extra: str) -> dict[str, str]:
    return {**moto.env, "IMAGEGATE_STORAGE_URL": f"s3://{bucket}/images", **extra}


@pytest.fixture(scope="module")
def s3_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, moto: MotoServer
) -> Iterator[Gateway]:
    yield from serve_in_process(tmp_path_factory, "s3-gateway", fake_openai, extra_env=_s3_env(moto))


@contextlib.contextmanager
def running_gateway(
    tmp_path_factory: pytest.TempPathFactory, name: str, upstream: FakeOpenAI | None, env: dict[str, str]
) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp(name) / "data", upstream, env)
    try:
        yield gateway
    finally:
        gateway.process.stop()


def _generate(gateway: Gateway, key: str, **kwargs: object) -> str:
    result = gateway.client(key).images.generate(model="gpt-image-2", prompt="a lighthouse", size="1024x1024", **kwargs)  # type: ignore[arg-type]
    assert result.data[0].url
    return result.data[0].url


def test_gateway_url_streams_the_object_with_its_content_type(s3_gateway: Gateway, moto: MotoServer) -> None:
    account = s3_gateway.new_account("0", test=True)
    url = _generate(s3_gateway, account.key, output_format="webp")
    assert url.startswith(s3_gateway.base_url + "/v1/files/img_")
    name = urlparse(url).path.rsplit("/", 1)[-1]
    stored = moto.client().get_object(Bucket=BUCKET, Key=f"images/{name}")
    assert stored["ContentType"] == "image/webp"
    body = stored["Body"].read()
    assert not (s3_gateway.data_dir / "images").exists() or not any((s3_gateway.data_dir / "images").rglob("img_*"))

    download = httpx.get(url, timeout=30)
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/webp"
    assert download.content == body

    head = httpx.head(url, timeout=30)
    assert head.status_code == 200
    assert head.headers["content-type"] == "image/webp"
    assert head.headers["content-length"] == str(len(body))
    assert head.content == b""


def test_bucket_mode_hands_out_the_buckets_presigned_url(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer
) -> None:
    env = _s3_env(moto, IMAGEGATE_URL_MODE="bucket", IMAGEGATE_URL_TTL_SECONDS="600")
    with running_gateway(tmp_path_factory, "bucket-mode", None, env) as gateway:
        account = gateway.new_account("0", test=True)
        result = gateway.client(account.key).images.generate(
            model="gpt-image-2", prompt="a lighthouse", output_format="png"
        )
        url = result.data[0].url or ""
        assert url.startswith(f"{moto.endpoint}/{BUCKET}/images/img_")
        query = parse_qs(urlparse(url).query)
        signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        assert signed_at + int(query["X-Amz-Expires"][0]) == result.created + 600  # the gateway URL's expiry
        download = httpx.get(url, timeout=30)
        assert download.status_code == 200
        assert download.content.startswith(b"\x89PNG")


def _serve_that_must_stop(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`imagegate serve` with a configuration it must refuse: it exits non-zero before binding."""
    result = subprocess.run(
        [sys.executable, "-m", "imagegate", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    return result


def test_missing_bucket_stops_serve_naming_it(tmp_path: Path, moto: MotoServer) -> None:
    env = {
        **_clean_environ(),
        **_s3_env(moto, bucket="no-such-bucket"),
        "IMAGEGATE_DATA_DIR": str(tmp_path / "data"),
        "IMAGEGATE_PORT": "1",  # never reached: serve must stop before binding
    }
    result = _serve_that_must_stop(env)
    assert "no-such-bucket" in result.stderr


def test_bucket_urls_on_a_file_store_stop_serve_saying_why(tmp_path: Path) -> None:
    env = {
        **_clean_environ(),
        "IMAGEGATE_DATA_DIR": str(tmp_path / "data"),
        "IMAGEGATE_URL_MODE": "bucket",
        "IMAGEGATE_PORT": "1",
    }
    result = _serve_that_must_stop(env)
    assert "IMAGEGATE_URL_MODE=bucket needs an s3://" in result.stderr
    assert "Traceback" not in result.stderr


def test_refused_write_is_503_unbilled_and_the_hold_released(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, moto: MotoServer
) -> None:
    moto.create_bucket("doomed")
    with running_gateway(tmp_path_factory, "doomed", fake_openai, _s3_env(moto, bucket="doomed")) as gateway:
        account: Account = gateway.new_account("10")
        before = gateway.balance(account.id)
        moto.drop_bucket("doomed")  # the store now refuses every write (NoSuchBucket)
        response = gateway.post_images(
            account.key, {"model": "gpt-image-2", "prompt": "a lighthouse", "size": "1024x1024"}
        )
        assert_error(response, 503, "service_unavailable", "storage_unavailable")
        assert gateway.balance(account.id) == before
        assert before[1] == 0
        row = gateway.usage_row(response.headers["x-request-id"])
        assert row is not None and row["cost_micros"] == 0 and row["error_code"] == "storage_unavailable"
        with gateway.http() as http:  # nothing was stored: nothing is in the library
            listed = http.get("/v1/images", headers={"Authorization": f"Bearer {account.key}"})
        assert listed.status_code == 200 and listed.json()["data"] == []


def test_unreachable_store_at_read_is_503_not_a_partial_body(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with MotoServer(tmp_path_factory.mktemp("moto-down")) as own:
        own.create_bucket(BUCKET)
        env = _s3_env(own, IMAGEGATE_STORAGE_TIMEOUT_SECONDS="3")
        with running_gateway(tmp_path_factory, "s3-down", None, env) as gateway:
            account = gateway.new_account("0", test=True)
            url = _generate(gateway, account.key)
            assert httpx.get(url, timeout=30).status_code == 200
            own.process.stop()
            started = time.monotonic()
            response = httpx.get(url, timeout=30)
            assert_error(response, 503, "service_unavailable", "storage_unavailable")
            assert time.monotonic() - started < 15
            assert httpx.head(url, timeout=30).status_code == 503
            # ...and a write now fails the same way, unbilled (a test key: nothing to bill anyway)
            failed = gateway.post_images(account.key, {"model": "gpt-image-2", "prompt": "a lighthouse"})
            assert_error(failed, 503, "service_unavailable", "storage_unavailable")


def test_head_on_a_file_url_is_200_without_a_body(gateway: Gateway, test_account: Account) -> None:
    url = _generate(gateway, test_account.key, output_format="png")
    download = httpx.get(url, timeout=30)
    head = httpx.head(url, timeout=30)
    assert head.status_code == 200, head.text
    assert head.headers["content-type"] == "image/png"
    assert head.headers["content-length"] == str(len(download.content))
    assert head.content == b""


def test_an_async_edit_job_keeps_its_upload_in_the_bucket_until_it_ends(s3_gateway: Gateway, moto: MotoServer) -> None:
    """The job's image goes to the bucket (under `jobs/<id>/`), where the worker reads it back; it is
    deleted when the job ends, and the result is stored in the bucket like any image."""
    import io
    import json

    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(picture, "PNG")
    account = s3_gateway.new_account("0", test=True)  # a test key: drawn by the preview, free
    client = s3_gateway.client(account.key)
    raw = client.images.with_raw_response.edit(
        model="nano-banana-2",
        image=("p.png", picture.getvalue(), "image/png"),
        prompt="a boat",
        extra_headers={"Prefer": "respond-async"},
    )
    assert raw.http_response.status_code == 202
    job_id = json.loads(raw.http_response.content)["id"]
    deadline = time.monotonic() + 30
    job: dict[str, object] = {"status": "queued"}
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:  # poll, bounded
        job = client.get(f"/images/jobs/{job_id}", cast_to=httpx.Response).json()
        time.sleep(0.05)
    assert job["status"] == "completed", job
    result = job["result"]
    assert isinstance(result, dict)
    name = urlparse(result["data"][0]["url"]).path.rsplit("/", 1)[-1]
    keys = moto.keys(BUCKET)
    assert f"images/{name}" in keys
    assert not [k for k in keys if k.startswith("images/jobs/")], keys


# -- a missing object is "not found", never "the store is down"


def test_the_store_reports_a_missing_object_as_missing_for_every_read_and_delete(
    tmp_path: Path, moto: MotoServer
) -> None:
    """GET, HEAD and the private reads of a key that is not there are `None` (the caller's 404); deleting
    it is done. obstore raises the builtin `FileNotFoundError` for these, which is also an `OSError`."""
    import asyncio

    from imagegate.config import load_settings
    from imagegate.storage.factory import build_store
    from imagegate.storage.signing import UrlSigner

    settings = load_settings({**_s3_env(moto), "IMAGEGATE_DATA_DIR": str(tmp_path)})

    async def scenario() -> None:
        store = build_store(settings.storage, settings.node, settings.storage_options, UrlSigner(b"missing-objects"))
        try:
            await store.put("img_present", "png", b"\x89PNG present")
            assert (await store.open("img_present.png", body=False)) is not None
            for name in ("img_never_stored.png", "img_present.png"):
                if name == "img_present.png":
                    await store.delete(name)  # deleted: from here on it is missing like the other
                assert await store.open(name) is None
                assert await store.open(name, body=False) is None
                await store.delete(name)  # deleting what is gone is done, not a failure
            assert await store.get_private("jobs/job_gone/0") is None
            await store.delete_private("jobs/job_gone/0")
        finally:
            await store.aclose()

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """One PostgreSQL database for this module's two nodes."""
    require_service("PostgreSQL", 5432)
    database = PostgresDatabase()
    yield database.create()
    database.drop()


@pytest.fixture(scope="module")
def s3_accepting_node(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer, module_postgres_url: str
) -> Iterator[Gateway]:
    """A node on PostgreSQL and the bucket that accepts async jobs but runs none (IMAGEGATE_JOB_WORKERS=0)."""
    env = _s3_env(moto, IMAGEGATE_DATABASE_URL=module_postgres_url, IMAGEGATE_JOB_WORKERS="0")
    yield from serve_gateway(tmp_path_factory, "s3-accepting", None, extra_env=env)


@pytest.fixture(scope="module")
def s3_working_node(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer, module_postgres_url: str, s3_accepting_node: Gateway
) -> Iterator[Gateway]:
    """A second node on the same database and bucket, with job workers (started after the first: it migrated)."""
    env = _s3_env(moto, IMAGEGATE_DATABASE_URL=module_postgres_url, IMAGEGATE_JOB_POLL_SECONDS="0.2")
    yield from serve_gateway(tmp_path_factory, "s3-working", None, extra_env=env)


def test_an_edit_job_whose_upload_left_the_bucket_fails_for_good_unbilled(
    request: pytest.FixtureRequest, s3_accepting_node: Gateway, moto: MotoServer
) -> None:
    """Its upload deleted (a bucket rule, an operator) before any worker ran it: the job fails with
    `job_uploads_gone`, a refusal that says to submit again, not a `storage_unavailable` outage."""
    import io
    import json

    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(picture, "PNG")
    account = s3_accepting_node.new_account("0", test=True)
    client = s3_accepting_node.client(account.key)
    raw = client.images.with_raw_response.edit(
        model="nano-banana-2",
        image=("p.png", picture.getvalue(), "image/png"),
        prompt="a boat",
        extra_headers={"Prefer": "respond-async"},
    )
    job_id = json.loads(raw.http_response.content)["id"]
    moto.client().delete_object(Bucket=BUCKET, Key=f"images/jobs/{job_id}/0")
    request.getfixturevalue("s3_working_node")  # only now does a node with workers run it
    deadline = time.monotonic() + 30
    job: dict[str, object] = {"status": "queued"}
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:  # poll, bounded
        job = client.get(f"/images/jobs/{job_id}", cast_to=httpx.Response).json()
        time.sleep(0.05)
    assert job["status"] == "failed", job
    error = job["error"]
    assert isinstance(error, dict) and error["code"] == "job_uploads_gone", error
    assert s3_accepting_node.balance(account.id) == (0, 0)


def test_a_deleted_image_is_404_from_either_node(
    s3_accepting_node: Gateway, s3_working_node: Gateway, moto: MotoServer
) -> None:
    """The owner deletes an image on one node; GET and HEAD of its URL on both nodes are 404, not 503."""
    account = s3_working_node.new_account("0", test=True)
    url = _generate(s3_working_node, account.key)
    image_id = urlparse(url).path.rsplit("/", 1)[-1].split(".", 1)[0]
    nodes = (s3_accepting_node, s3_working_node)
    for node in nodes:
        assert httpx.get(_on(url, node), timeout=30).status_code == 200
    with s3_accepting_node.http() as http:
        deleted = http.delete(f"/v1/images/{image_id}", headers={"Authorization": f"Bearer {account.key}"})
    assert deleted.status_code == 204
    assert not [k for k in moto.keys(BUCKET) if image_id in k]
    for node in nodes:
        assert_error(httpx.get(_on(url, node), timeout=30), 404, "not_found_error", "image_not_found")
        assert httpx.head(_on(url, node), timeout=30).status_code == 404


def _on(url: str, node: Gateway) -> str:
    """The same signed URL, asked of `node`."""
    parts = urlparse(url)
    return f"{node.base_url}{parts.path}?{parts.query}"


def _library_item(gateway: Gateway, key: str, image_id: str) -> dict[str, object]:
    with gateway.http() as http:
        listed = http.get("/v1/images", headers={"Authorization": f"Bearer {key}"}).json()["data"]
    (item,) = [i for i in listed if i["id"] == image_id]
    return item  # type: ignore[no-any-return]


def _thumbnail_of(response: httpx.Response) -> bytes:
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp", response.text
    with Image.open(io.BytesIO(response.content)) as small:
        assert small.format == "WEBP" and max(small.size) == 256
    return response.content


def test_a_thumbnail_is_made_into_the_bucket_on_its_first_view_and_leaves_with_its_image(
    s3_gateway: Gateway, moto: MotoServer
) -> None:
    account = s3_gateway.new_account("0", test=True)
    url = _generate(s3_gateway, account.key, output_format="png")
    image_id = urlparse(url).path.rsplit("/", 1)[-1].split(".", 1)[0]
    assert [k for k in moto.keys(BUCKET) if image_id in k] == [f"images/{image_id}.png"]  # none until viewed
    item = _library_item(s3_gateway, account.key, image_id)
    first = _thumbnail_of(httpx.get(str(item["thumbnail_url"]), timeout=30))
    assert sorted(k for k in moto.keys(BUCKET) if image_id in k) == [
        f"images/{image_id}.png",
        f"images/{image_id}.thumb.webp",
    ]
    thumbnail = moto.client().get_object(Bucket=BUCKET, Key=f"images/{image_id}.thumb.webp")
    assert thumbnail["ContentType"] == "image/webp"
    assert first == thumbnail["Body"].read()
    marked = first + b"kept"  # the stored object, told apart from a thumbnail made again
    moto.client().put_object(Bucket=BUCKET, Key=f"images/{image_id}.thumb.webp", Body=marked, ContentType="image/webp")
    assert httpx.get(str(item["thumbnail_url"]), timeout=30).content == marked  # served from the bucket
    with s3_gateway.http() as http:
        deleted = http.delete(f"/v1/images/{image_id}", headers={"Authorization": f"Bearer {account.key}"})
    assert deleted.status_code == 204
    assert not [k for k in moto.keys(BUCKET) if image_id in k]


def test_bucket_mode_serves_a_thumbnails_first_view_then_redirects_to_the_bucket(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer
) -> None:
    """The thumbnail URL is always the gateway's (it must be able to make one); once made it is a 302
    to the bucket's pre-signed URL, as the image's own URL is."""
    env = _s3_env(moto, IMAGEGATE_URL_MODE="bucket", IMAGEGATE_URL_TTL_SECONDS="600")
    with running_gateway(tmp_path_factory, "bucket-thumbnails", None, env) as gateway:
        account = gateway.new_account("0", test=True)
        url = _generate(gateway, account.key, output_format="png")
        image_id = urlparse(url).path.rsplit("/", 1)[-1].split(".", 1)[0]
        item = _library_item(gateway, account.key, image_id)
        assert str(item["url"]).startswith(f"{moto.endpoint}/{BUCKET}/images/{image_id}.png?")
        thumbnail_url = str(item["thumbnail_url"])
        assert thumbnail_url.startswith(f"{gateway.base_url}/v1/files/{image_id}.thumb.webp?")
        forged = thumbnail_url[:-4] + ("0000" if not thumbnail_url.endswith("0000") else "1111")
        assert_error(httpx.get(forged, timeout=30), 403, "permission_error", "invalid_signature")
        assert [k for k in moto.keys(BUCKET) if image_id in k] == [f"images/{image_id}.png"]
        first = _thumbnail_of(httpx.get(thumbnail_url, timeout=30))
        redirect = httpx.get(thumbnail_url, timeout=30)
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith(f"{moto.endpoint}/{BUCKET}/images/{image_id}.thumb.webp?")
        assert httpx.get(location, timeout=30).content == first


def test_the_sweep_deletes_an_expired_image_and_its_thumbnail_from_the_bucket(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer
) -> None:
    env = _s3_env(
        moto, IMAGEGATE_URL_TTL_SECONDS="5", IMAGEGATE_IMAGE_GRACE_SECONDS="0", IMAGEGATE_SWEEP_INTERVAL_SECONDS="0.2"
    )
    with running_gateway(tmp_path_factory, "s3-sweep", None, env) as gateway:
        account = gateway.new_account("0", test=True)
        image_id = urlparse(_generate(gateway, account.key)).path.rsplit("/", 1)[-1].split(".", 1)[0]
        _thumbnail_of(httpx.get(str(_library_item(gateway, account.key, image_id)["thumbnail_url"]), timeout=30))
        assert len([k for k in moto.keys(BUCKET) if image_id in k]) == 2  # the image and its thumbnail, viewed
        deadline = time.monotonic() + 60
        while [k for k in moto.keys(BUCKET) if image_id in k] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [k for k in moto.keys(BUCKET) if image_id in k], "the sweep left an object behind"
