"""Migrations 0014 (the image library) and 0015 (the ledger history's index) on a database with an image
from before them: it stays listed in the library (no prompt, no thumbnail, found by no search), new
images are searchable, and both migrations go down and up again cleanly on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from imagegate.db.engine import create_engine
from imagegate.db.images import ImageOwner, ImagesRepo, NewImage
from imagegate.domain.image_library import LibraryQuery
from tests.support.migrations import alembic_downgrade, alembic_upgrade

EARLIER_IMAGE = """
INSERT INTO images (id, account_id, ext, expires_at, request_id, model, size)
VALUES ('img_01jd000000000000000000000a', 'acct_1', 'png', 4000000000, 'req_1', 'gpt-image-2', '1024x1024')
"""


def test_earlier_images_stay_listed_and_new_ones_are_searchable(fresh_database: str) -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        engine = create_engine(fresh_database)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(alembic_upgrade, "0013")
                await conn.execute(text(EARLIER_IMAGE))
            async with engine.begin() as conn:
                await conn.run_sync(alembic_upgrade, "head")
            repo = ImagesRepo(engine)
            owner = ImageOwner("acct_1", "req_2", "gpt-image-2", "1024x1024", prompt="a paper lighthouse")
            await repo.record(owner, [NewImage("img_01jd000000000000000000000b", None, True)], "png", 4_000_000_000, 1)
            listed = [i.id[-1] for i in await repo.library("acct_1", 0, LibraryQuery())]
            found = [i.id[-1] for i in await repo.library("acct_1", 0, LibraryQuery(words=("lighthouse",)))]
            async with engine.begin() as conn:
                await conn.run_sync(alembic_downgrade, "0013")
            async with engine.begin() as conn:
                await conn.run_sync(alembic_upgrade, "head")
            again = [i.id[-1] for i in await ImagesRepo(engine).library("acct_1", 0, LibraryQuery())]
            return listed, found, again
        finally:
            await engine.dispose()

    listed, found, again = asyncio.run(scenario())
    assert listed == ["b", "a"] and found == ["b"]
    assert again == ["b", "a"]  # down and up again: the rows stay (the library's facts of 'b' are gone)
