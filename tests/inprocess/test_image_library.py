"""GET /v1/images, the image library, in process on SQLite (FTS5) and PostgreSQL (full-text search):
every stored image with what made it, found by the words of its prompt (typed words are never search
syntax), paged, the caller's own only; a thumbnail made on its URL's first fetch and kept beside the
image (none for an image nobody views), its URL signed like the image's; an owner's delete and the
retention sweep take the image, its thumbnail and its index entry together. Hostile parameters are 400s."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text

from imagegate.db.engine import create_engine
from imagegate.storage.signing import UrlSigner
from tests.conftest import PostgresDatabase, require_service
from tests.support.assertions import assert_error

from .app import InProcess, app_settings, offline_routes, open_app

OFFLINE = offline_routes("gpt-image-2", "nano-banana-2")
"""gpt-image-2 and nano-banana-2 at their real prices, drawn by the offline preview."""
LOW_1024 = 6_000
"""gpt-image-2's price of one low-quality 1024x1024 image, in micro-USD."""
PROMPTS = {
    "lighthouse": "A Lighthouse on a cliff at dawn, watercolour",
    "kite": "a red kite over the sea",
    "fox": "Ein Fuchs im Schnee, café-Stil",
}
Scenario = Callable[[InProcess], Awaitable[None]]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment of a gateway on SQLite (FTS5) or on a fresh PostgreSQL database (tsvector)."""
    if request.param == "sqlite":
        yield {}
        return
    require_service("PostgreSQL", 5432)
    postgres = PostgresDatabase()
    yield {"IMAGEGATE_DATABASE_URL": postgres.create()}
    postgres.drop()


def run_app(tmp_path: Path, env: dict[str, str], scenario: Scenario) -> None:
    async def go() -> None:
        settings = app_settings(tmp_path / "data", OFFLINE, IMAGEGATE_JOB_WORKERS="0", **env)
        async with open_app(settings) as app:
            await scenario(app)

    asyncio.run(go())


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def generate(app: InProcess, key: str, prompt: str, **extra: Any) -> dict[str, Any]:
    body = {"model": "gpt-image-2", "prompt": prompt, "quality": "low", "size": "1024x1024", **extra}
    response = await app.http.post("/v1/images/generations", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def library(app: InProcess, key: str, **params: str) -> dict[str, Any]:
    response = await app.http.get("/v1/images", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def thumbnails_stored(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "data" / "images").rglob("img_*.thumb.webp"))


async def thumbnail(app: InProcess, item: dict[str, Any]) -> bytes:
    """The item's thumbnail, fetched by its URL: a WebP at most 256 px on its longer side."""
    response = await app.http.get(item["thumbnail_url"])
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp", response.text
    with Image.open(io.BytesIO(response.content)) as small:
        assert small.format == "WEBP" and max(small.size) == 256
    return response.content


async def found(app: InProcess, key: str, query: str) -> set[str]:
    """The prompts of the images a search finds."""
    return {item["prompt"] for item in (await library(app, key, query=query))["data"]}


async def index_rows(app: InProcess) -> tuple[int, int]:
    """(images with a prompt, entries of the search index): equal when the index is exact."""
    engine = create_engine(app.settings.database.url)
    try:
        async with engine.connect() as conn:
            prompted = (await conn.execute(text("SELECT count(*) FROM images WHERE prompt IS NOT NULL"))).scalar()
            if engine.dialect.name == "sqlite":
                indexed = (await conn.execute(text("SELECT count(*) FROM images_fts"))).scalar()
            else:
                indexed = (await conn.execute(text("SELECT count(*) FROM images WHERE search IS NOT NULL"))).scalar()
    finally:
        await engine.dispose()
    return int(prompted or 0), int(indexed or 0)


def test_every_stored_image_is_listed_with_what_made_it_and_a_thumbnail(
    tmp_path: Path, database: dict[str, str]
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        answer = await generate(app, key, PROMPTS["kite"], n=2, output_format="webp")
        await generate(app, key, "kept nowhere", response_format="b64_json")
        chat = {"model": "gpt-image-2", "messages": [{"role": "user", "content": "a chat lighthouse"}]}
        inline = await app.http.post("/v1/chat/completions", json={**chat, "quality": "low"}, headers=auth(key))
        stored = await app.http.post(
            "/v1/chat/completions", json={**chat, "quality": "low", "response_format": "url"}, headers=auth(key)
        )
        assert inline.status_code == stored.status_code == 200, (inline.text, stored.text)
        tool = {"type": "image_generation", "model": "gpt-image-2", "quality": "low", "size": "1024x1024"}
        responses = await app.http.post(
            "/v1/responses", json={"model": "gpt-5", "input": "a responses fox", "tools": [tool]}, headers=auth(key)
        )
        assert responses.status_code == 200, responses.text

        page = await library(app, key)
        listed = page["data"]
        assert [i["prompt"] for i in listed] == ["a chat lighthouse", PROMPTS["kite"], PROMPTS["kite"]]
        assert page["has_more"] is False and page["first_id"] == listed[0]["id"] and page["last_id"] == listed[-1]["id"]
        assert [i["surface"] for i in listed] == ["chat", "images", "images"]
        assert thumbnails_stored(tmp_path) == []  # nobody has viewed one yet
        kite = [i for i in listed if i["prompt"] == PROMPTS["kite"]]
        assert {i["url"] for i in kite} == {d["url"] for d in answer["data"]}  # signed until the same moment
        for item in kite:
            assert item["revised_prompt"] == PROMPTS["kite"]
            assert (item["model"], item["size"], item["quality"], item["output_format"]) == (
                "gpt-image-2",
                "1024x1024",
                "low",
                "webp",
            )
            assert (item["cost_micros"], item["currency"]) == (LOW_1024, "USD")
            assert item["created"] == answer["created"] and item["expires"] == answer["created"] + 86400
            assert item["thumbnail_url"].startswith(f"{app.gateway.base_url}/v1/files/{item['id']}.thumb.webp?")
            await thumbnail(app, item)
            full = await app.http.get(item["url"])
            assert full.status_code == 200 and full.headers["content-type"] == "image/webp"
        assert thumbnails_stored(tmp_path) == sorted(f"{i['id']}.thumb.webp" for i in kite)  # the viewed ones only
        assert await index_rows(app) == (3, 3)

    run_app(tmp_path, database, scenario)


def test_search_finds_images_by_the_words_of_their_prompts(tmp_path: Path, database: dict[str, str]) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        for prompt in PROMPTS.values():
            await generate(app, key, prompt)
        assert await found(app, key, "lighthouse") == {PROMPTS["lighthouse"]}
        assert await found(app, key, "LIGHT") == {PROMPTS["lighthouse"]}  # a word's beginning, in any case
        assert await found(app, key, "red sea") == {PROMPTS["kite"]}  # every word
        assert await found(app, key, "red lighthouse") == set()
        assert await found(app, key, "café") == {PROMPTS["fox"]}
        assert await found(app, key, "cafe\u0301") == {PROMPTS["fox"]}  # decomposed, the same word
        assert await found(app, key, "fuchs, schnee!") == {PROMPTS["fox"]}
        assert await found(app, key, "  ") == set(PROMPTS.values())  # blank: no search
        assert await found(app, key, "submarine") == set()
        models = await library(app, key, model="gpt-image-2", query="kite")
        assert [i["prompt"] for i in models["data"]] == [PROMPTS["kite"]]
        assert (await library(app, key, model="nano-banana-2"))["data"] == []

    run_app(tmp_path, database, scenario)


INJECTIONS = {
    '"': set(),
    "*": set(),
    '"kite': {"kite"},
    'kite"*': {"kite"},
    "kite OR lighthouse": set(),  # OR is a word here, and no prompt has it
    "kite AND": set(),
    "NOT kite": set(),
    "-kite": {"kite"},
    "kite NEAR(sea red)": set(),  # 'near' is a word here, and the kite's prompt has none
    "body:kite": set(),  # a column filter in FTS5 syntax; here the words 'body' and 'kite'
    "^kite": {"kite"},
    "kite:*": {"kite"},
    "kite & !sea": {"kite"},
    "kite | lighthouse": set(),
    "'kite' <-> 'sea'": {"kite"},
    "(kite)": {"kite"},
    "a\\": {"kite", "lighthouse"},
    "kite_sea": {"kite"},
    "② kite²": {"kite"},  # symbols separate words, as both engines' tokenizers have them
}


def test_search_syntax_typed_by_a_user_is_plain_words(tmp_path: Path, database: dict[str, str]) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        for name in ("kite", "lighthouse"):
            await generate(app, key, PROMPTS[name])
        for query, names in INJECTIONS.items():
            assert await found(app, key, query) == {PROMPTS[n] for n in names}, query

    run_app(tmp_path, database, scenario)


def test_pages_follow_the_cursor_without_gaps_or_repeats(tmp_path: Path, database: dict[str, str]) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        made = [d["url"] for _ in range(3) for d in (await generate(app, key, "a paged kite", n=2))["data"]]
        seen: list[str] = []
        after: str | None = None
        pages = 0
        for _ in range(10):  # bounded: 6 images, 4 per page
            page = await library(app, key, query="kite", limit="4", **({"after": after} if after else {}))
            seen += [item["id"] for item in page["data"]]
            after, pages = page["last_id"], pages + 1
            if not page["has_more"]:
                break
        assert pages == 2 and len(seen) == len(set(seen)) == len(made) == 6
        assert seen == sorted(seen, reverse=True)  # newest first
        last = await library(app, key, after=seen[-1])
        assert last == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}

    run_app(tmp_path, database, scenario)


def test_each_caller_sees_only_their_own_images(tmp_path: Path, database: dict[str, str]) -> None:
    async def scenario(app: InProcess) -> None:
        mine, theirs = await app.new_key(), await app.new_key()
        await generate(app, theirs, PROMPTS["kite"])
        assert (await library(app, mine))["data"] == []
        assert (await library(app, mine, query="kite"))["data"] == []
        item = (await library(app, theirs))["data"][0]
        refused = await app.http.delete(f"/v1/images/{item['id']}", headers=auth(mine))
        assert_error(refused, 404, "not_found_error", "image_not_found")
        assert len((await library(app, theirs))["data"]) == 1

    run_app(tmp_path, database, scenario)


def test_delete_and_retention_take_the_image_its_thumbnail_and_its_index_entry(
    tmp_path: Path, database: dict[str, str]
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        for name in ("kite", "lighthouse"):
            await generate(app, key, PROMPTS[name])
        kite, lighthouse = [(await library(app, key, query=n))["data"][0] for n in ("kite", "lighthouse")]
        for item in (kite, lighthouse):
            await thumbnail(app, item)  # viewed: both thumbnails are stored
        assert len(thumbnails_stored(tmp_path)) == 2
        assert await index_rows(app) == (2, 2)

        deleted = await app.http.delete(f"/v1/images/{kite['id']}", headers=auth(key))
        assert deleted.status_code == 204
        for url in (kite["url"], kite["thumbnail_url"]):
            assert (await app.http.get(url)).status_code == 404
        assert await found(app, key, "kite") == set()
        assert await index_rows(app) == (1, 1)

        assert await app.gateway.retention.sweep(now=lighthouse["expires"] + 10**6) == 1
        for url in (lighthouse["url"], lighthouse["thumbnail_url"]):
            assert (await app.http.get(url)).status_code == 404
        assert (await library(app, key))["data"] == []
        assert await index_rows(app) == (0, 0)
        assert not list((tmp_path / "data" / "images").rglob("img_*")), "an object outlived its image"

    run_app(tmp_path, database, scenario)


def test_a_thumbnail_is_made_once_on_its_signed_urls_first_fetch_and_then_served_as_stored(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        answer = await generate(app, key, PROMPTS["kite"], output_format="png")
        (item,) = (await library(app, key))["data"]
        name = f"{item['id']}.thumb.webp"
        signer = UrlSigner(app.settings.storage.signing_secret)
        path, query = item["thumbnail_url"].split("?", 1)
        forged = f"{path}?{query[:-4]}{'0000' if not query.endswith('0000') else '1111'}"
        assert_error(await app.http.get(forged), 403, "permission_error", "invalid_signature")
        image_signature = answer["data"][0]["url"].split("?", 1)[1]  # the image's own, not its thumbnail's
        assert_error(await app.http.get(f"{path}?{image_signature}"), 403, "permission_error", "invalid_signature")
        past = int(time.time()) - 1
        expired = f"{path}?expires={past}&signature={signer.signature(name, past)}"
        assert_error(await app.http.get(expired), 403, "permission_error", "url_expired")
        assert thumbnails_stored(tmp_path) == []  # no refused URL made one

        first = await thumbnail(app, item)
        (stored,) = (tmp_path / "data" / "images").rglob(name)
        made = stored.stat()
        assert stored.read_bytes() == first
        second = await app.http.get(item["thumbnail_url"])
        assert second.status_code == 200 and second.content == first
        again = stored.stat()  # served from the store: the file was not written again
        assert (again.st_ino, again.st_mtime_ns) == (made.st_ino, made.st_mtime_ns)
        head = await app.http.head(item["thumbnail_url"])
        assert head.status_code == 200 and head.headers["content-length"] == str(len(first))

    run_app(tmp_path, {}, scenario)


def test_an_expired_image_leaves_the_library_before_it_is_swept(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        answer = await generate(app, key, PROMPTS["kite"])
        deadline = time.monotonic() + 30
        while (await library(app, key))["data"] and time.monotonic() < deadline:  # its URL lives 1 s
            await asyncio.sleep(0.2)
        assert (await library(app, key))["data"] == [] and time.time() > answer["created"] + 1
        assert await index_rows(app) == (1, 1)  # still stored (the sweep's grace), no longer listed

    run_app(tmp_path, {"IMAGEGATE_URL_TTL_SECONDS": "1"}, scenario)


HOSTILE = [
    ({"query": "kite\x00"}, "query"),
    ({"query": "k" * 257}, "query"),
    ({"query": " ".join(f"w{i}" for i in range(17))}, "query"),
    ({"model": "gpt\x00image"}, "model"),
    ({"model": "m" * 65}, "model"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "²"}, "limit"),
    ({"limit": "9" * 5000}, "limit"),
    ({"limit": "1e3"}, "limit"),
    ({"limit": "NaN"}, "limit"),
    ({"after": "img_../../etc/passwd"}, "after"),
    ({"after": "IMG_01JD0000000000000000000000"}, "after"),
    ({"after": "img_\x00"}, "after"),
    ({"after": "9" * 5000}, "after"),
]


def test_hostile_parameters_are_400s_naming_the_parameter(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        await generate(app, key, PROMPTS["kite"])
        for params, param in HOSTILE:
            response = await app.http.get("/v1/images", params=params, headers=auth(key))
            assert_error(response, 400, "invalid_request_error", "invalid_value", param=param)
        raw = await app.http.get("/v1/images?query=%ED%A0%80kite", headers=auth(key))  # a lone surrogate's bytes
        assert raw.status_code == 200
        assert_error(await app.http.get("/v1/images"), 401, "authentication_error", "missing_api_key")

    run_app(tmp_path, {}, scenario)


def test_without_library_prompts_images_are_listed_but_not_searchable(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        await generate(app, key, PROMPTS["kite"])
        (item,) = (await library(app, key))["data"]
        assert (item["prompt"], item["revised_prompt"], item["model"]) == (None, None, "gpt-image-2")
        assert (await library(app, key, query="kite"))["data"] == []
        assert await index_rows(app) == (0, 0)

    run_app(tmp_path, {"IMAGEGATE_LIBRARY_PROMPTS": "false"}, scenario)
