"""Hostile requests, sent as raw bytes over a socket: each is a clean 4xx in the contract's error shape,
and none leaves anything behind (balance and held unchanged, the upstream never called).

The kinds: text a database cannot store (NUL, lone surrogates) in every stored field, JSON nested far
past any real body, numbers no parser should turn into money or time, query values no URL ought to
carry. Runs on SQLite and on PostgreSQL (the session's `database_url`): NUL and out-of-range integers
are what PostgreSQL refuses where SQLite does not, so both engines matter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Account, Gateway, serve_in_process
from tests.support.rawhttp import RawResponse, raw_request
from tests.upstreams.fake_openai import FakeOpenAI

ADMIN_TOKEN = "hostile-admin-token"
OK = '"model":"gpt-image-2","prompt":"a red apple on a table","quality":"low"'
DEEP = 1000


@pytest.fixture(scope="module")
def hostile_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, database_url: str | None
) -> Iterator[Gateway]:
    yield from serve_in_process(
        tmp_path_factory, "hostile", fake_openai, database_url, {"IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN}
    )


@pytest.fixture(scope="module")
def live(hostile_gateway: Gateway) -> Account:
    return hostile_gateway.new_account("10")


def clean_4xx(
    response: RawResponse, status: int | None = None, param: Any = ..., code: str | None = None
) -> dict[str, Any]:
    """The contract's error: a 4xx, a JSON body that is exactly the OpenAI error, and a request id."""
    assert 400 <= response.status < 500, (response.status, response.body[:500])
    if status is not None:
        assert response.status == status, (response.status, response.body[:500])
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    assert response.headers.get("x-request-id", "").startswith("req_"), response.headers
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    if param is not ...:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


def money(gw: Gateway, key: str) -> tuple[int, int]:
    response = raw_request(gw.port, "GET", "/v1/account", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 200, response.body
    account = response.json()
    assert isinstance(account["balance_micros"], int) and isinstance(account["held_micros"], int), account
    return account["balance_micros"], account["held_micros"]


def _body(text: str) -> bytes:
    """JSON text with its escapes kept as written (`\\ud800` stays an escape the server must decode)."""
    return text.encode()


def _nested(inner: str, depth: int = DEEP) -> str:
    return "[" * depth + inner + "]" * depth


# (case id, raw body, expected param or ... for "any")
GENERATION_BODIES: list[tuple[str, bytes, Any]] = [
    ("nul-in-user", _body("{" + OK + ',"user":"a\\u0000b"}'), "user"),
    ("nul-in-prompt", _body('{"model":"gpt-image-2","prompt":"a red\\u0000apple","quality":"low"}'), "prompt"),
    ("nul-in-model", _body('{"model":"gpt-image-2\\u0000","prompt":"an apple"}'), "model"),
    ("surrogate-in-prompt", _body('{"model":"gpt-image-2","prompt":"apple \\ud800","quality":"low"}'), "prompt"),
    ("low-surrogate-in-prompt", _body('{"model":"gpt-image-2","prompt":"\\udfff apple","quality":"low"}'), "prompt"),
    ("reversed-pair-in-prompt", _body('{"model":"gpt-image-2","prompt":"\\udc00\\ud800","quality":"low"}'), "prompt"),
    ("surrogate-in-model", _body('{"model":"\\ud800","prompt":"an apple"}'), "model"),
    ("surrogate-in-user", _body("{" + OK + ',"user":"\\ud800"}'), "user"),
    ("surrogate-in-size", _body("{" + OK + ',"size":"\\ud800"}'), "size"),
    ("nul-in-quality", _body('{"model":"gpt-image-2","prompt":"an apple","quality":"low\\u0000"}'), "quality"),
    ("surrogate-field-name", _body("{" + OK + ',"\\ud800":1}'), ...),
    ("nul-field-name", _body("{" + OK + ',"a\\u0000b":1}'), ...),
    ("nested-array", _body(_nested("1")), None),
    ("nested-object", _body('{"a":' * DEEP + "1" + "}" * DEEP), None),
    ("nested-in-user", _body("{" + OK + ',"user":' + _nested('"x"') + "}"), ...),
    ("nested-in-prompt", _body('{"model":"gpt-image-2","quality":"low","prompt":' + _nested('"x"') + "}"), ...),
    ("nested-100k-unterminated", b"[" * 100_000, None),
    ("nested-objects-in-user", _body("{" + OK + ',"user":' + '{"a":' * DEEP + "1" + "}" * DEEP + "}"), ...),
    ("wide-list-in-user", _body("{" + OK + ',"user":[' + ",".join(['"a"'] * 20_000) + "]}"), "user"),
    ("wide-object", _body("{" + ",".join(f'"k{i}":1' for i in range(20_000)) + "}"), None),
    ("5000-digit-n", _body("{" + OK + ',"n":' + "9" * 5000 + "}"), ...),
    ("n-infinite", _body("{" + OK + ',"n":1e400}'), ...),
    ("n-nan", _body("{" + OK + ',"n":NaN}'), ...),
    ("n-huge", _body("{" + OK + ',"n":' + str(2**70) + "}"), "n"),
    (
        "compression-huge",
        _body("{" + OK + ',"output_format":"jpeg","output_compression":' + str(2**64) + "}"),
        "output_compression",
    ),
    ("invalid-utf8", b'{"model":"gpt-image-2","prompt":"\xff\xfe apple"}', None),
    ("utf8-encoded-surrogate", b'{"model":"gpt-image-2","prompt":"\xed\xa0\x80 apple"}', "prompt"),
    ("not-an-object", b'"just a string"', None),
    ("empty-body", b"", None),
]


@pytest.mark.parametrize("path", ["/v1/images/generations", "/v1/images/quote"])
@pytest.mark.parametrize(("body", "param"), [pytest.param(b, p, id=i) for i, b, p in GENERATION_BODIES])
def test_hostile_generation_body_is_a_clean_400_and_holds_nothing(
    hostile_gateway: Gateway, live: Account, upstream: FakeOpenAI, path: str, body: bytes, param: Any
) -> None:
    before = money(hostile_gateway, live.key)
    response = raw_request(
        hostile_gateway.port,
        "POST",
        path,
        headers={"Authorization": f"Bearer {live.key}", "Content-Type": "application/json"},
        body=body,
    )
    clean_4xx(response, 400, param)
    assert money(hostile_gateway, live.key) == before
    assert upstream.requests == []


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(b"caf\xc3\xa9", id="utf8-bytes"),
        pytest.param(b"\xff\xfe", id="latin1-bytes"),
        pytest.param(b"a" * 256, id="too-long"),
        pytest.param(b"a\tb", id="tab"),
    ],
)
def test_hostile_idempotency_key_is_refused_before_any_hold(
    hostile_gateway: Gateway, live: Account, upstream: FakeOpenAI, key: bytes
) -> None:
    before = money(hostile_gateway, live.key)
    response = raw_request(
        hostile_gateway.port,
        "POST",
        "/v1/images/generations",
        headers={"Authorization": f"Bearer {live.key}", "Content-Type": "application/json", "Idempotency-Key": key},
        body=_body("{" + OK + "}"),
    )
    clean_4xx(response, 400, "Idempotency-Key")
    assert money(hostile_gateway, live.key) == before
    assert upstream.requests == []


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"Bearer \xc3\xa9\xc3\xa9", id="non-ascii-key"),
        pytest.param(b"Bearer " + b"k" * 8000, id="long-key"),
    ],
)
def test_hostile_authorization_is_a_clean_401(hostile_gateway: Gateway, header: bytes) -> None:
    response = raw_request(hostile_gateway.port, "GET", "/v1/account", headers={"Authorization": header})
    clean_4xx(response, 401)


FILE_TARGETS: list[tuple[str, bytes]] = [
    ("superscript-expires-escaped", b"/v1/files/img_x.png?expires=%C2%B2&signature=ab"),
    ("arabic-digit-expires", b"/v1/files/img_x.png?expires=%D9%A3&signature=ab"),
    ("5000-digit-expires", b"/v1/files/img_x.png?expires=" + b"9" * 5000 + b"&signature=ab"),
    ("non-ascii-signature-escaped", b"/v1/files/img_x.png?expires=9999999999&signature=%C3%A9"),
    ("nul-signature", b"/v1/files/img_x.png?expires=9999999999&signature=%00"),
    ("negative-expires", b"/v1/files/img_x.png?expires=-1&signature=ab"),
    ("nul-in-name", b"/v1/files/img%00x.png?expires=9999999999&signature=ab"),
    ("traversal", b"/v1/files/..%2F..%2Fetc%2Fpasswd?expires=9999999999&signature=ab"),
    ("no-extension", b"/v1/files/img_x?expires=9999999999&signature=ab"),
]


@pytest.mark.parametrize("target", [pytest.param(t, id=i) for i, t in FILE_TARGETS])
def test_hostile_file_url_is_a_clean_4xx(hostile_gateway: Gateway, target: bytes) -> None:
    response = raw_request(hostile_gateway.port, "GET", target)
    assert response.status in (403, 404), response.body
    clean_4xx(response)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/v1/files/img_x.png?expires=\xc2\xb2&signature=ab", id="raw-superscript-expires"),
        pytest.param(b"/v1/files/img_x.png?expires=9999999999&signature=\xc3\xa9", id="raw-non-ascii-signature"),
    ],
)
def test_unescaped_non_ascii_in_the_request_line_is_a_400_from_the_http_server(
    hostile_gateway: Gateway, target: bytes
) -> None:
    """Not HTTP (RFC 9112 allows only ASCII in the target): the HTTP server refuses it before the app
    sees it, with its own plain-text 400, and the gateway goes on serving."""
    assert raw_request(hostile_gateway.port, "GET", target).status == 400
    assert raw_request(hostile_gateway.port, "GET", "/healthz").status == 200


USAGE_QUERIES: list[tuple[str, bytes, str]] = [
    ("end-year-1", b"end=0001-01-01", "end"),
    ("end-year-9999-west", b"end=9999-12-31T23:59:59-23:59", "end"),
    ("start-year-9999-west", b"start=9999-12-31T23:59:59-23:59", "start"),
    ("start-year-1-east", b"start=0001-01-01T00:00:00%2B23:59", "start"),
    ("end-nul", b"end=%00", "end"),
    ("end-superscript", b"end=%C2%B2", "end"),
    ("end-huge-unix", b"end=" + b"9" * 5000, "end"),
    ("end-float-unix", b"end=1e308", "end"),
    ("start-after-end", b"start=2030-01-01&end=2020-01-01", "start"),
]


@pytest.mark.parametrize(("query", "param"), [pytest.param(q, p, id=i) for i, q, p in USAGE_QUERIES])
def test_hostile_usage_range_is_a_clean_400(hostile_gateway: Gateway, live: Account, query: bytes, param: str) -> None:
    headers = {"Authorization": f"Bearer {live.key}"}
    clean_4xx(raw_request(hostile_gateway.port, "GET", b"/v1/usage?" + query, headers=headers), 400, param)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    clean_4xx(raw_request(hostile_gateway.port, "GET", b"/admin/v1/usage?" + query, headers=admin), 400, param)


def admin_call(gw: Gateway, method: str, path: bytes | str, body: bytes | None = None) -> RawResponse:
    headers: dict[str, bytes | str] = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    return raw_request(gw.port, method, path, headers=headers, body=body or b"")


def price_body(amount: str) -> bytes:
    return _body('{"model":"gpt-image-2","quality":"low","size":"1024x1024","amount_usd":' + amount + "}")


# (case id, amount as JSON text, expected param: None where the body is not JSON Python will read)
AMOUNTS: list[tuple[str, str, str | None]] = [
    ("json-5.29e16", "5.29e16", "amount_usd"),
    ("string-9e12", '"9000000000000"', "amount_usd"),
    ("json-1e400", "1e400", "amount_usd"),
    ("json-4000-digits", "9" * 4000, "amount_usd"),
    ("string-huge-exponent", '"1e999999999"', "amount_usd"),
    ("string-tiny-exponent", '"1e-999999999"', "amount_usd"),
    ("string-infinity", '"Infinity"', "amount_usd"),
    ("string-nan", '"NaN"', "amount_usd"),
    ("string-too-precise", '"0.0000001"', "amount_usd"),
    ("string-nul", '"1\\u0000"', "amount_usd"),
    ("string-surrogate", '"\\ud800"', "amount_usd"),
    ("json-5000-digits", "9" * 5000, None),
]


@pytest.mark.parametrize(("amount", "param"), [pytest.param(a, p, id=i) for i, a, p in AMOUNTS])
def test_hostile_price_is_a_clean_400(hostile_gateway: Gateway, amount: str, param: str | None) -> None:
    before = admin_call(hostile_gateway, "GET", "/admin/v1/prices").json()
    response = admin_call(hostile_gateway, "PUT", "/admin/v1/prices", price_body(amount))
    clean_4xx(response, 400, param)
    assert admin_call(hostile_gateway, "GET", "/admin/v1/prices").json() == before


@pytest.mark.parametrize(
    ("amount", "param"),
    [pytest.param(a, p, id=i) for i, a, p in [*AMOUNTS, ("negative-9e12", '"-9000000000000"', "amount_usd")]],
)
@pytest.mark.parametrize("kind", ["credit", "adjustments"])
def test_hostile_credit_amount_is_a_clean_400_and_changes_nothing(
    hostile_gateway: Gateway, live: Account, kind: str, amount: str, param: str | None
) -> None:
    before = money(hostile_gateway, live.key)
    body = _body('{"amount_usd":' + amount + ',"reason":"hostile"}')
    response = admin_call(hostile_gateway, "POST", f"/admin/v1/accounts/{live.id}/{kind}", body)
    clean_4xx(response, 400, param)
    assert money(hostile_gateway, live.key) == before


ADMIN_TEXT: list[tuple[str, str, bytes, str]] = [
    ("account-name-nul", "/admin/v1/accounts", _body('{"name":"a\\u0000b"}'), "name"),
    ("account-name-surrogate", "/admin/v1/accounts", _body('{"name":"\\ud800"}'), "name"),
    (
        "credit-reason-nul",
        "/admin/v1/accounts/{account}/credit",
        _body('{"amount_usd":"1","reason":"a\\u0000"}'),
        "reason",
    ),
    (
        "credit-reason-surrogate",
        "/admin/v1/accounts/{account}/credit",
        _body('{"amount_usd":"1","reason":"\\udc00"}'),
        "reason",
    ),
    (
        "adjust-reason-nul",
        "/admin/v1/accounts/{account}/adjustments",
        _body('{"amount_usd":"-1","reason":"\\u0000"}'),
        "reason",
    ),
    ("key-models-nul", "/admin/v1/accounts/{account}/keys", _body('{"models":["gpt-image-2\\u0000"]}'), "models"),
    ("key-models-surrogate", "/admin/v1/accounts/{account}/keys", _body('{"models":["\\ud800"]}'), "models"),
    ("key-rpm-2**70", "/admin/v1/accounts/{account}/keys", _body('{"rpm":' + str(2**70) + "}"), "rpm"),
    ("key-ipm-2**40", "/admin/v1/accounts/{account}/keys", _body('{"ipm":' + str(2**40) + "}"), "ipm"),
    ("account-name-too-long", "/admin/v1/accounts", _body('{"name":"' + "n" * 201 + '"}'), "name"),
    (
        "credit-reason-too-long",
        "/admin/v1/accounts/{account}/credit",
        _body('{"amount_usd":"1","reason":"' + "r" * 2001 + '"}'),
        "reason",
    ),
    ("nested-body", "/admin/v1/accounts", _body('{"name":' + _nested('"x"') + "}"), ...),  # type: ignore[list-item]
    ("deep-body", "/admin/v1/accounts", _body(_nested("1")), None),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("path", "body", "param"), [pytest.param(p, b, q, id=i) for i, p, b, q in ADMIN_TEXT])
def test_hostile_admin_text_is_a_clean_400_and_changes_nothing(
    hostile_gateway: Gateway, live: Account, path: str, body: bytes, param: Any
) -> None:
    before = money(hostile_gateway, live.key)
    accounts_before = admin_call(hostile_gateway, "GET", "/admin/v1/accounts").json()["data"]
    response = admin_call(hostile_gateway, "POST", path.format(account=live.id), body)
    clean_4xx(response, 400, param)
    assert money(hostile_gateway, live.key) == before
    assert admin_call(hostile_gateway, "GET", "/admin/v1/accounts").json()["data"] == accounts_before


@pytest.mark.parametrize(
    ("method", "target"),
    [
        pytest.param("GET", b"/admin/v1/accounts/acc%00x", id="get-account-nul"),
        pytest.param("POST", b"/admin/v1/accounts/acc%00x/disable", id="disable-nul"),
        pytest.param("GET", b"/admin/v1/accounts/acc%00x/keys", id="keys-nul"),
        pytest.param("POST", b"/admin/v1/keys/key%00x/revoke", id="revoke-nul"),
        pytest.param("GET", b"/admin/v1/usage?account_id=acc%00x", id="usage-account-nul"),
        pytest.param("GET", b"/v1/models/gpt%00image", id="model-nul"),
    ],
)
def test_hostile_ids_in_paths_are_clean_4xx(hostile_gateway: Gateway, method: str, target: bytes) -> None:
    body = _body('{"amount_usd":"1","reason":"x"}') if method == "POST" else None
    clean_4xx(admin_call(hostile_gateway, method, target, body))


def test_credit_stays_an_integer_within_the_documented_maximum(hostile_gateway: Gateway) -> None:
    """Two top-ups that would together pass the maximum: the second is a 409 (the balance, not the amount,
    is in the way); the balance stays exact."""
    account = hostile_gateway.new_account("0")
    first = admin_call(
        hostile_gateway,
        "POST",
        f"/admin/v1/accounts/{account.id}/credit",
        _body('{"amount_usd":"600000000","reason":"big"}'),
    )
    assert first.status == 200, first.body
    second = admin_call(
        hostile_gateway,
        "POST",
        f"/admin/v1/accounts/{account.id}/credit",
        _body('{"amount_usd":"600000000","reason":"bigger"}'),
    )
    clean_4xx(second, 409, "amount_usd", "balance_out_of_range")
    assert money(hostile_gateway, account.key) == (600_000_000_000_000, 0)
    verify = admin_call(hostile_gateway, "GET", "/admin/v1/ledger/verify")
    assert verify.status == 200 and verify.json()["ok"] is True, verify.body


def test_a_valid_astral_character_is_not_refused(hostile_gateway: Gateway, upstream: FakeOpenAI) -> None:
    """A surrogate *pair* is one ordinary character (an emoji): served, not refused."""
    account = hostile_gateway.new_account("10")
    body = json.dumps(
        {"model": "gpt-image-2", "prompt": "an apple \U0001f34e", "quality": "low", "user": "u\U0001f600"}
    )
    assert "\\ud83c\\udf4e" in body
    response = raw_request(
        hostile_gateway.port,
        "POST",
        "/v1/images/generations",
        headers={"Authorization": f"Bearer {account.key}", "Content-Type": "application/json"},
        body=body.encode(),
    )
    assert response.status == 200, response.body
    assert len(upstream.requests) == 1


HOSTILE_VALUES: list[str] = [
    '"\\u0000"',
    '"\\ud800"',
    '"a\\udfffb"',
    '"\\u3000"',
    '"\\u200b"',
    '""',
    '" "',
    '"' + "x" * 40_000 + '"',
    "0",
    "-1",
    "1.5",
    "1e400",
    "-1e400",
    str(2**64),
    str(-(2**64)),
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '["gpt-image-2"]',
    '{"a":"\\u0000"}',
    '"0x0"',
    '"99999x99999"',
    '"-1x-1"',
    '"1024x1024\\u0000"',
    '"1024X1024"',
    '"auto"',
    '"url"',
    '"b64_json"',
    '"png"',
    '"jpeg"',
    '"low"',
    '"gpt-image-2"',
    '"preview"',
    '"../../etc/passwd"',
]
FIELD_NAMES = [
    "model",
    "prompt",
    "size",
    "n",
    "quality",
    "style",
    "output_format",
    "output_compression",
    "response_format",
    "user",
    "background",
    "stream",
    "\\u0000",
    "__proto__",
    "",
]


def _fuzzed_bodies(count: int, seed: int) -> list[bytes]:
    import random

    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        fields = {"model": '"gpt-image-2"', "prompt": '"a red apple"', "quality": '"low"'}
        for _ in range(rng.randint(1, 4)):
            fields[rng.choice(FIELD_NAMES)] = rng.choice(HOSTILE_VALUES)
        bodies.append(_body("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"))
    return bodies


def test_fuzzed_generation_bodies_never_answer_5xx_nor_leave_a_hold(
    hostile_gateway: Gateway, upstream: FakeOpenAI
) -> None:
    """200 bodies built from hostile values in random fields (a fixed seed, so a failure reproduces):
    each answer is a 200 or a clean 4xx, and when they are done nothing is held and the ledger verifies."""
    account = hostile_gateway.new_account("100")
    headers: dict[str, bytes | str] = {"Authorization": f"Bearer {account.key}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    for body in _fuzzed_bodies(200, seed=12):
        response = raw_request(hostile_gateway.port, "POST", "/v1/images/generations", headers=headers, body=body)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.status != 200:
            clean_4xx(response)
    assert all(status == 200 or 400 <= status < 500 for status in statuses), statuses
    _balance, held = money(hostile_gateway, account.key)
    assert held == 0
    verify = admin_call(hostile_gateway, "GET", "/admin/v1/ledger/verify")
    assert verify.status == 200 and verify.json()["ok"] is True, verify.body


def test_fuzzed_admin_bodies_never_answer_5xx(hostile_gateway: Gateway) -> None:
    """The same hostile values in every admin body field (fixed seed): never a 5xx; the ledger verifies."""
    import random

    rng = random.Random(7)
    account = hostile_gateway.new_account("1")
    targets = [
        ("POST", "/admin/v1/accounts", ["name"]),
        ("POST", f"/admin/v1/accounts/{account.id}/credit", ["amount_usd", "reason"]),
        ("POST", f"/admin/v1/accounts/{account.id}/adjustments", ["amount_usd", "reason"]),
        ("POST", f"/admin/v1/accounts/{account.id}/keys", ["test", "models", "rpm", "ipm"]),
        ("PUT", "/admin/v1/prices", ["model", "quality", "size", "amount_usd"]),
    ]
    amounts = ['"1"', '"-1"', '"0.5"', "2", '"1e9"', '"-1e9"', '"1e15"']
    statuses: dict[int, int] = {}
    for _ in range(150):
        method, path, names = rng.choice(targets)
        fields = {name: rng.choice(HOSTILE_VALUES + amounts) for name in names if rng.random() < 0.8}
        body = _body("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}")
        response = admin_call(hostile_gateway, method, path, body)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.status >= 400:
            clean_4xx(response)
    assert all(status < 500 for status in statuses), statuses
    verify = admin_call(hostile_gateway, "GET", "/admin/v1/ledger/verify")
    assert verify.status == 200 and verify.json()["ok"] is True, verify.body
