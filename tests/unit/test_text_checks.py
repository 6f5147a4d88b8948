"""The one text check (domain/text.py) and the JSON body parser built on it (domain/json_body.py)."""

from __future__ import annotations

import pytest

from imagegate.domain.errors import InvalidRequest
from imagegate.domain.json_body import parse_json_object
from imagegate.domain.storable import printable, unstorable_at
from imagegate.domain.text import MAX_JSON_DEPTH, MAX_JSON_VALUES, check_text


@pytest.mark.parametrize(
    ("text", "at"),
    [("abc", None), ("a\x00b", 1), ("\ud800", 0), ("ok \udfff", 3), ("\udc00\ud800", 0), ("é 😀 \x7f", None)],
)
def test_unstorable_characters_are_found(text: str, at: int | None) -> None:
    assert unstorable_at(text) == at


def test_check_text_names_the_field_and_renders() -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_text("a\x00b", "user")
    assert refused.value.param == "user" and refused.value.code == "invalid_value"
    with pytest.raises(InvalidRequest) as too_long:
        check_text("x" * 11, "name", max_chars=10)
    assert too_long.value.param == "name"
    assert printable("a\ud800\x00b") == "a\ufffd\ufffdb"


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        (b'{"user":"a\\u0000b"}', "invalid_value", "user"),
        (b'{"\\ud800":1}', "invalid_value", None),
        (b'{"user":{"x":["\\udfff"]}}', "invalid_value", "user"),
        (b'{"prompt":"\xed\xa0\x80"}', "invalid_value", "prompt"),
        (b"[" * 1000 + b"]" * 1000, "invalid_json", None),
        (b'{"user":' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}", "invalid_json", "user"),
        (b"[" + b",".join([b"1"] * (MAX_JSON_VALUES + 1)) + b"]", "invalid_json", None),
        (b'{"n":' + b"9" * 5000 + b"}", "invalid_json", None),
        (b"\xff\xfe{", "invalid_json", None),
    ],
)
def test_hostile_bodies_are_the_contracts_400(raw: bytes, code: str, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_json_object(raw)
    assert (refused.value.code, refused.value.param) == (code, param)


def test_ordinary_bodies_pass_unchanged() -> None:
    body = b'{"model":"m","prompt":"an apple \\ud83c\\udf4e","n":2,"user":null,"tags":[["a"]]}'
    assert parse_json_object(body) == {
        "model": "m",
        "prompt": "an apple \U0001f34e",
        "n": 2,
        "user": None,
        "tags": [["a"]],
    }
