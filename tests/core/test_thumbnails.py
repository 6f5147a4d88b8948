"""The library's thumbnails are made on their first view, then kept: an image stored has none; its
first view makes it (a WebP of at most 256 px), stores it beside the image and marks the row; later
views are served from the store; concurrent first views make it once; an image that makes none (too
many pixels, or bytes that do not decode) is served in its place, never decoded again."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imagegate.config import Settings
from imagegate.db.images import ImageOwner, NewImage
from imagegate.domain.blobs import Blob
from imagegate.domain.ids import new_id
from imagegate.service.images.thumbnails import Thumbnails
from imagegate.storage.filesystem import FilesystemBlobStore
from imagegate.storage.signing import UrlSigner

from .harness import Core, core_settings, run_core

OWNER = "acct_thumbs"


@pytest.fixture
def sqlite_settings(tmp_path: Path, core_config: Path) -> Iterator[Settings]:
    yield core_settings(tmp_path / "data", core_config)


def png(size: tuple[int, int] = (512, 384), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 1 if mode == "1" else (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


async def stored(core: Core, store: FilesystemBlobStore, data: bytes) -> str:
    """One image recorded and stored as `Delivery` stores it (no thumbnail)."""
    image_id = new_id("img")
    now = int(time.time())
    await core.db.images.record(ImageOwner(OWNER, prompt="a red square"), [NewImage(image_id)], "png", now + 3600, now)
    await store.put(image_id, "png", data)
    return image_id


def store_of(core: Core) -> FilesystemBlobStore:
    return FilesystemBlobStore(
        core.settings.node.data_dir / "images", UrlSigner("s" * 32), core.settings.node.base_url()
    )


def thumbnail_file(store: FilesystemBlobStore, image_id: str) -> Path:
    path = store.path_for(f"{image_id}.thumb.webp")
    assert path is not None
    return path


async def body_of(blob: Blob | None) -> bytes:
    assert blob is not None
    if blob.path is not None:
        return blob.path.read_bytes()
    assert blob.chunks is not None
    return b"".join([bytes(chunk) async for chunk in blob.chunks])


async def marked(core: Core, image_id: str) -> bool:
    image = await core.db.images.owned(image_id, OWNER)
    assert image is not None
    return image.thumbnail


def test_the_first_view_makes_the_thumbnail_and_later_views_are_served_from_the_store(
    sqlite_settings: Settings,
) -> None:
    async def scenario(core: Core) -> None:
        store = store_of(core)
        thumbnails = Thumbnails(store, core.db.images)
        image_id = await stored(core, store, png())
        assert not thumbnail_file(store, image_id).exists() and not await marked(core, image_id)

        first = await thumbnails.open(image_id, int(time.time()) + 60)
        assert first is not None and first.content_type == "image/webp"
        with Image.open(io.BytesIO(await body_of(first))) as small:
            assert (small.format, small.size) == ("WEBP", (256, 192))
        kept = thumbnail_file(store, image_id)
        assert kept.exists() and await marked(core, image_id)  # stored beside the image; the sweep will see it
        made_at = kept.stat()

        second = await thumbnails.open(image_id, int(time.time()) + 60)
        assert second is not None and second.path == kept  # the stored file, sent as it is
        assert (kept.stat().st_ino, kept.stat().st_mtime_ns) == (made_at.st_ino, made_at.st_mtime_ns)
        assert thumbnails.made == 1

    run_core(sqlite_settings, scenario)


def test_concurrent_first_views_make_one_thumbnail(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        store = store_of(core)
        thumbnails = Thumbnails(store, core.db.images)
        image_id = await stored(core, store, png((1024, 1024)))
        views = await asyncio.gather(*(thumbnails.open(image_id, int(time.time()) + 60) for _ in range(8)))
        bodies = {await body_of(view) for view in views}
        assert len(bodies) == 1 and thumbnails.made == 1
        assert thumbnail_file(store, image_id).read_bytes() == bodies.pop()

    run_core(sqlite_settings, scenario)


@pytest.mark.parametrize(
    "data",
    [png((7000, 7000), mode="1"), png()[:200]],
    ids=["past-the-pixel-limit", "does-not-decode"],
)
def test_an_image_that_makes_no_thumbnail_is_served_in_its_place(sqlite_settings: Settings, data: bytes) -> None:
    async def scenario(core: Core) -> None:
        store = store_of(core)
        thumbnails = Thumbnails(store, core.db.images)
        image_id = await stored(core, store, data)
        for _ in range(2):  # the second view decodes nothing: the image is remembered
            served = await thumbnails.open(image_id, int(time.time()) + 60)
            assert served is not None and served.content_type == "image/png" and await body_of(served) == data
        assert not thumbnail_file(store, image_id).exists() and not await marked(core, image_id)
        assert thumbnails.made == 0

    run_core(sqlite_settings, scenario)


def test_an_image_without_a_row_or_a_file_gets_no_thumbnail(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        store = store_of(core)
        thumbnails = Thumbnails(store, core.db.images)
        unknown = new_id("img")
        await store.put(unknown, "png", png())  # an object no row names: nothing to make it of
        assert await thumbnails.open(unknown, int(time.time()) + 60) is None
        deleted = await stored(core, store, png())
        await store.delete(f"{deleted}.png")  # its owner's delete has taken the file, not yet the row
        assert await thumbnails.open(deleted, int(time.time()) + 60) is None
        assert not thumbnail_file(store, unknown).exists() and not thumbnail_file(store, deleted).exists()

    run_core(sqlite_settings, scenario)
