"""The image library's question (`GET /v1/images?query=&model=&after=&limit=`), read from a query string.

A search is plain words: the words of `query` are its runs of letters, digits and combining marks
(everything else separates them), and an image matches when each one begins a word of its prompt or revised prompt
("cat" finds "cats"). The words reach a full-text engine only as quoted terms (`fts5_query`,
`tsquery`), so `"`, `*`, `AND`, `OR`, `NOT`, `NEAR(`, `-`, `:` or `^` typed by a user are separators
or plain text, never operators. A query with no letters or digits matches nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from .errors import InvalidRequest
from .paging import page_cursor, page_size
from .text import check_text

MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 16
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_MODEL_CHARS = 64  # images.model is VARCHAR(64)
ModelResolver = Callable[[str], str]
"""A model name as typed -> the id images are stored under (an alias to its model; unknown names as given)."""


@dataclass(frozen=True, slots=True)
class LibraryQuery:
    words: tuple[str, ...] = ()
    """Words every listed image's prompt must have (as word prefixes, in any case); () for no search."""
    matches_nothing: bool = False
    """A query was given but holds no word: nothing can match it."""
    model: str | None = None
    after: str | None = None
    """The last image id of the previous page: this page starts after it."""
    limit: int = DEFAULT_LIMIT


def read_library_query(
    query: str | None, model: str | None, after: str | None, limit: str | None, *, resolve_model: ModelResolver
) -> LibraryQuery:
    """The question, or a 400 naming the parameter that cannot be used."""
    words: tuple[str, ...] = ()
    nothing = False
    if query is not None and query.strip():
        words = search_words(query)
        nothing = not words
    return LibraryQuery(
        words,
        nothing,
        _model(model, resolve_model),
        page_cursor(after, "img", "an image id (img_…)"),
        page_size(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )


def search_words(query: str) -> tuple[str, ...]:
    """The distinct words of `query`, in order (NFC first, so a decomposed é is one letter); each engine
    folds their case as it folds the prompts' (so both sides always agree)."""
    check_text(query, "query", MAX_QUERY_CHARS)
    runs = groupby(unicodedata.normalize("NFC", query), key=_in_word)
    found = dict.fromkeys("".join(chars) for inside, chars in runs if inside)
    if len(found) > MAX_QUERY_WORDS:
        raise InvalidRequest(f"'query' may have at most {MAX_QUERY_WORDS} words.", param="query")
    return tuple(found)


def _in_word(char: str) -> bool:
    """Letters, decimal digits and combining marks of any script: what both engines index as words
    (`_`, punctuation and symbols such as ② or ² separate words, as their tokenizers do)."""
    return char.isalpha() or char.isdecimal() or unicodedata.category(char).startswith("M")


def fts5_query(wanted: LibraryQuery) -> str:
    """SQLite FTS5: each word a quoted prefix term (`"cat"* "red"*`); terms side by side must all match."""
    return " ".join(f'"{word}"*' for word in wanted.words)


def tsquery(wanted: LibraryQuery) -> str:
    """PostgreSQL `to_tsquery('simple', …)`: each word a quoted prefix lexeme, all of them (`'cat':* & 'red':*`)."""
    return " & ".join(f"'{word}':*" for word in wanted.words)


def _model(value: str | None, resolve: ModelResolver) -> str | None:
    if value is None or not value.strip():
        return None
    check_text(value, "model", MAX_MODEL_CHARS)
    return resolve(value.strip())


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_WORDS",
    "LibraryQuery",
    "fts5_query",
    "read_library_query",
    "search_words",
    "tsquery",
]
