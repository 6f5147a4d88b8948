"""The library's thumbnails are made after the answer, by a bounded queue: an image queued is listed
with its thumbnail once made; one that found the queue full is listed without one (the library shows
the image); one deleted before its thumbnail was marked leaves no thumbnail behind."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imagegate.config import Settings
from imagegate.db.images import ImageOwner, NewImage
from imagegate.domain.ids import new_id
from imagegate.service.images.thumbnails import Thumbnails
from imagegate.storage.filesystem import FilesystemBlobStore
from imagegate.storage.signing import UrlSigner

from .harness import Core, core_settings, run_core


@pytest.fixture
def sqlite_settings(tmp_path: Path, core_config: Path) -> Iterator[Settings]:
    yield core_settings(tmp_path / "data", core_config)


def png(side: int = 512) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


async def stored(core: Core, store: FilesystemBlobStore, count: int) -> list[str]:
    """`count` images recorded and stored as `Delivery` stores them (no thumbnail yet)."""
    ids = [new_id("img") for _ in range(count)]
    now = int(time.time())
    await core.db.images.record(
        ImageOwner("acct_thumbs", prompt="a red square"), [NewImage(i) for i in ids], "png", now + 3600, now
    )
    for image_id in ids:
        await store.put(image_id, "png", png())
    return ids


def store_of(core: Core) -> FilesystemBlobStore:
    return FilesystemBlobStore(
        core.settings.node.data_dir / "images", UrlSigner("s" * 32), core.settings.node.base_url()
    )


def thumbnail_file(store: FilesystemBlobStore, image_id: str) -> Path:
    path = store.path_for(f"{image_id}.thumb.webp")
    assert path is not None
    return path


def test_a_full_queue_leaves_the_image_listed_without_a_thumbnail(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        store = store_of(core)
        thumbnails = Thumbnails(store, core.db.images, max_queued=1)
        first, second, third = await stored(core, store, 3)
        assert [thumbnails.submit(i, png(), 512 * 512) for i in (first, second, third)] == [True, False, False]
        await thumbnails.idle()
        listed = {i: await core.db.images.owned(i, "acct_thumbs") for i in (first, second, third)}
        assert {i: bool(image and image.thumbnail) for i, image in listed.items()} == {
            first: True,
            second: False,
            third: False,
        }
        with Image.open(thumbnail_file(store, first)) as small:
            assert (small.format, small.size) == ("WEBP", (256, 256))
        assert not thumbnail_file(store, second).exists() and thumbnails.dropped == 2
        await thumbnails.aclose()

    run_core(sqlite_settings, scenario)


def test_an_image_deleted_before_its_thumbnail_was_marked_leaves_no_thumbnail(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        store = store_of(core)
        thumbnails = Thumbnails(store, core.db.images)
        (image_id,) = await stored(core, store, 1)
        assert thumbnails.submit(image_id, png(), 512 * 512)
        await core.db.images.forget(image_id)  # the owner deleted it while its thumbnail was queued
        await thumbnails.idle()
        assert await core.db.images.owned(image_id, "acct_thumbs") is None
        assert not thumbnail_file(store, image_id).exists()
        await thumbnails.aclose()

    run_core(sqlite_settings, scenario)


def test_a_stop_finishes_what_is_queued(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        store = store_of(core)
        thumbnails = Thumbnails(store, core.db.images)
        ids = await stored(core, store, 3)
        assert all(thumbnails.submit(i, png(), 512 * 512) for i in ids)
        await thumbnails.aclose()
        assert all(thumbnail_file(store, i).exists() for i in ids)
        listed = [await core.db.images.owned(i, "acct_thumbs") for i in ids]
        assert all(image is not None and image.thumbnail for image in listed)
        assert not thumbnails.submit(new_id("img"), png(), 512 * 512)  # stopped: no more

    run_core(sqlite_settings, scenario)
