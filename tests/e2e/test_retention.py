"""Retention: images are deleted after their URL expires (plus the grace period), and by their owner."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Gateway, require_service, start_gateway
from tests.support.assertions import assert_error
from tests.support.moto import MotoServer

SOAK_IMAGES = 24
FAST_SWEEP = {
    "IMAGEGATE_URL_TTL_SECONDS": "2",
    "IMAGEGATE_IMAGE_GRACE_SECONDS": "0",
    "IMAGEGATE_SWEEP_INTERVAL_SECONDS": "0.2",
}


@contextlib.contextmanager
def running_gateway(tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp(name) / "data", None, env)
    try:
        yield gateway
    finally:
        gateway.process.stop()


def _make_images(gateway: Gateway, key: str, count: int) -> list[str]:
    client = gateway.client(key)
    urls: list[str] = []
    while len(urls) < count:
        result = client.images.generate(model="gpt-image-2", prompt="a lighthouse", size="1024x1024", n=4)
        urls.extend(item.url for item in result.data if item.url)
    return urls


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("img_*") if p.is_file()] if root.exists() else []


def _wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    delay = 0.05
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    return check()


def test_soak_images_with_a_2s_ttl_leave_no_files_after_the_sweep(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_gateway(tmp_path_factory, "soak-files", FAST_SWEEP) as gateway:
        key = gateway.new_account("0", test=True).key
        urls = _make_images(gateway, key, SOAK_IMAGES)
        images = gateway.data_dir / "images"
        assert len(_files(images)) >= SOAK_IMAGES - 4  # the first ones may already be swept
        assert _wait_until(lambda: not _files(images), 20), f"{len(_files(images))} files left"
        assert len(urls) >= SOAK_IMAGES


def test_soak_on_s3_two_nodes_on_postgresql_leave_no_objects(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> None:
    """Two gateways share PostgreSQL and the bucket; both sweep (SKIP LOCKED), neither fails."""
    require_service("PostgreSQL", 5432)
    with MotoServer(tmp_path_factory.mktemp("moto-soak")) as moto:
        moto.create_bucket("soak")
        env = {**FAST_SWEEP, **moto.env, "IMAGEGATE_STORAGE_URL": "s3://soak/p", "IMAGEGATE_DATABASE_URL": postgres_url}
        with (
            running_gateway(tmp_path_factory, "soak-a", env) as a,
            running_gateway(tmp_path_factory, "soak-b", env) as b,
        ):
            key = a.new_account("0", test=True).key
            _make_images(a, key, SOAK_IMAGES // 2)
            _make_images(b, key, SOAK_IMAGES // 2)
            assert moto.keys("soak")
            assert _wait_until(lambda: not moto.keys("soak"), 20), f"{len(moto.keys('soak'))} objects left"
            for node in (a, b):
                assert "Traceback" not in node.process.log_text(), node.process.log_tail()


def test_owner_deletes_an_image_and_its_url_is_404(gateway: Gateway) -> None:
    owner = gateway.new_account("0", test=True)
    other = gateway.new_account("0", test=True)
    url = _make_images(gateway, owner.key, 1)[0]
    image_id = url.split("/v1/files/", 1)[1].split(".", 1)[0]
    with gateway.http() as http:
        assert httpx.get(url, timeout=30).status_code == 200
        refused = http.delete(f"/v1/images/{image_id}", headers={"Authorization": f"Bearer {other.key}"})
        assert_error(refused, 404, "not_found_error", "image_not_found")
        assert httpx.get(url, timeout=30).status_code == 200  # another account's delete changed nothing
        unauthenticated = http.delete(f"/v1/images/{image_id}")
        assert unauthenticated.status_code == 401
        deleted = http.delete(f"/v1/images/{image_id}", headers={"Authorization": f"Bearer {owner.key}"})
        assert deleted.status_code == 204 and deleted.content == b""
        assert_error(httpx.get(url, timeout=30), 404, "not_found_error", "image_not_found")
        again = http.delete(f"/v1/images/{image_id}", headers={"Authorization": f"Bearer {owner.key}"})
        assert_error(again, 404, "not_found_error", "image_not_found")
        for bad in ("img_NOT-AN-ID", "img_" + "0" * 27):
            wrong = http.delete(f"/v1/images/{bad}", headers={"Authorization": f"Bearer {owner.key}"})
            assert_error(wrong, 404, "not_found_error", "image_not_found")
        not_an_image = http.delete("/v1/images/edits", headers={"Authorization": f"Bearer {owner.key}"})
        assert not_an_image.status_code in (404, 405), not_an_image.text
