"""Upstream cost and margin, in process: each request's usage record carries what its upstream calls cost
(the fake upstreams' reported usage times the route's cost sheet, exactly), `GET /admin/v1/margin` and
`imagegate margin` sum revenue (what the ledger kept), cost and margin per model and route, and the
admin page draws them. An image made upstream and never delivered (the wrong size, retried past or
given up on) is cost with no revenue; a call that reported no usage is costed at the sheet's
per-image figure and marked an estimate.

Each test reads the report over a window that starts when it does, on a database of the module's own,
so the figures are exactly its own requests'."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imagegate.config import load_catalog
from tests.conftest import Account, Gateway, PostgresDatabase, require_service, serve_in_process
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_openai import FakeOpenAI, output_tokens
from tests.upstreams.fake_seedream import FakeSeedream

pytestmark = pytest.mark.tier("in_process")

ADMIN_TOKEN = "margin-admin-token"
GEMINI_KEY = "gemini-margin-key"
ARK_KEY = "ark-margin-key"
CATALOG = load_catalog()
GPT = CATALOG.models["gpt-image-2"].routes[0].upstream_cost
PRO = CATALOG.models["nano-banana-pro"].routes[0].upstream_cost
SEEDREAM = CATALOG.models["seedream-4.5"].routes[0].upstream_cost
FAKE_PROMPT_TOKENS = 50
"""The fake OpenAI's `input_tokens` (all text) per call."""
GEMINI_PROMPT_TOKENS, GEMINI_IMAGE_TOKENS = 16, 1120
"""The fake Gemini's `usageMetadata` per call: prompt tokens, image tokens out."""


def micros(picos: int) -> int:
    """The documented rounding: exact picodollars, once, half up, to micro-USD."""
    return (picos + 500_000) // 1_000_000


def gpt_call_picos(quality: str, images: int, size: tuple[int, int] = (1024, 1024)) -> int:
    assert GPT is not None
    out = output_tokens(quality, *size) * images
    return FAKE_PROMPT_TOKENS * GPT.input_text + out * GPT.output_image


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=GEMINI_KEY) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(scope="module")
def seedream() -> Iterator[FakeSeedream]:
    with FakeSeedream(api_key=ARK_KEY) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    gemini: FakeGemini,
    seedream: FakeSeedream,
) -> Iterator[Gateway]:
    """A gateway on a database of its own (the report sums every account's records)."""
    database = None
    url = None
    if request.param == "postgres":
        require_service("PostgreSQL", 5432)
        database = PostgresDatabase()
        url = database.create()
    env = {
        "IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini.base_url,
        "ARK_API_KEY": ARK_KEY,
        "ARK_BASE_URL": seedream.base_url,
        "IMAGEGATE_BREAKER_FAILURES": "1000000",
    }
    try:
        yield from serve_in_process(tmp_path_factory, f"margin-{request.param}", fake_openai, url, env)
    finally:
        if database is not None:
            database.drop()


@pytest.fixture
def since(upstream: FakeOpenAI, gemini: FakeGemini, seedream: FakeSeedream) -> datetime:
    """The test's window starts now (every fake's script emptied)."""
    gemini.reset()
    seedream.reset()
    return datetime.now(UTC) - timedelta(milliseconds=1)


def generate(gateway: Gateway, account: Account, **body: Any) -> dict[str, Any]:
    response = gateway.post_images(account.key, {"prompt": "a lighthouse at dusk", **body})
    return {"status": response.status_code, "id": response.headers["x-request-id"], "body": response.json()}


def margin(gateway: Gateway, since: datetime, **params: str) -> dict[str, Any]:
    until = datetime.now(UTC) + timedelta(seconds=5)
    query = {"start": since.isoformat(), "end": until.isoformat(), **params}
    with gateway.http() as http:
        response = http.get("/admin/v1/margin", params=query, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def line_of(report: dict[str, Any], model: str) -> dict[str, Any]:
    (line,) = [line for line in report["data"] if line["model"] == model]
    return dict(line)


def test_each_upstreams_reported_usage_times_the_sheet_is_the_cost_and_the_lines_add_up(
    gateway: Gateway, since: datetime
) -> None:
    assert GPT is not None and PRO is not None and SEEDREAM is not None
    account = gateway.new_account("20")
    gpt = generate(gateway, account, model="gpt-image-2", quality="medium", size="1024x1024", n=2)
    pro = generate(gateway, account, model="nano-banana-pro", size="1024x1024")
    seed = generate(gateway, account, model="seedream-4.5", size="2048x2048", n=2)
    assert [r["status"] for r in (gpt, pro, seed)] == [200, 200, 200], (gpt, pro, seed)

    expected_cost = {
        "gpt-image-2": micros(gpt_call_picos("medium", 2)),
        "nano-banana-pro": micros(GEMINI_PROMPT_TOKENS * PRO.input_text + GEMINI_IMAGE_TOKENS * PRO.output_image),
        "seedream-4.5": 2 * SEEDREAM.image_micros(None, "2048x2048"),
    }
    assert expected_cost == {"gpt-image-2": 63_610, "nano-banana-pro": 134_432, "seedream-4.5": 80_000}
    for made, model in ((gpt, "gpt-image-2"), (pro, "nano-banana-pro"), (seed, "seedream-4.5")):
        row = gateway.usage_row(made["id"])
        assert row is not None
        assert (row["upstream_cost_micros"], row["upstream_cost_estimated"]) == (expected_cost[model], False), row
        assert row["upstream_cost_micros"] > 0 and row["lost_images"] == 0

    report = margin(gateway, since)
    revenue = {
        "gpt-image-2": gpt["body"]["billing"]["amount_micros"],
        "nano-banana-pro": pro["body"]["billing"]["amount_micros"],
        "seedream-4.5": seed["body"]["billing"]["amount_micros"],
    }
    assert revenue == {"gpt-image-2": 2 * 53_000, "nano-banana-pro": 134_000, "seedream-4.5": 2 * 40_000}
    routes = {"gpt-image-2": "openai", "nano-banana-pro": "gemini", "seedream-4.5": "ark"}
    for model, cost in expected_cost.items():
        line = line_of(report, model)
        assert line == {
            "model": model,
            "route": routes[model],
            "requests": 1,
            "images": 1 if model == "nano-banana-pro" else 2,
            "lost_images": 0,
            "revenue_micros": revenue[model],
            "upstream_cost_micros": cost,
            "margin_micros": revenue[model] - cost,
            "estimated_cost_micros": 0,
            "estimated_share": 0.0,
        }
    assert line_of(report, "nano-banana-pro")["margin_micros"] == -432  # Gemini's list price, under our price
    totals = report["totals"]
    for field in ("requests", "images", "revenue_micros", "upstream_cost_micros", "margin_micros"):
        assert totals[field] == sum(line[field] for line in report["data"]), field
    assert totals["margin_micros"] == totals["revenue_micros"] - totals["upstream_cost_micros"]
    balance, held = gateway.balance(account.id)
    assert (20_000_000 - balance, held) == (totals["revenue_micros"], 0)  # revenue is what the ledger captured
    assert gateway.admin(lambda admin: admin.ledger.verify())["ok"]


def test_an_image_made_at_the_wrong_size_costs_the_operator_and_earns_nothing(
    gateway: Gateway, since: datetime, upstream: FakeOpenAI
) -> None:
    account = gateway.new_account("5")
    upstream.script({"kind": "wrong_size"})  # the first attempt's image is dropped, the retry delivers
    retried = generate(gateway, account, model="gpt-image-2", quality="low", size="1024x1024")
    assert retried["status"] == 200, retried
    upstream.script(*[{"kind": "wrong_size"}] * 3)  # every attempt the wrong size: nothing delivered
    failed = generate(gateway, account, model="gpt-image-2", quality="low", size="1024x1024")
    assert failed["status"] == 502, failed

    wrong = right = gpt_call_picos("low", 1)  # the fake bills the size asked for, whatever it drew
    row = gateway.usage_row(retried["id"])
    assert row is not None
    assert (row["upstream_cost_micros"], row["lost_images"], row["cost_micros"]) == (micros(wrong + right), 1, 6_000)
    row = gateway.usage_row(failed["id"])
    assert row is not None
    assert (row["status"], row["cost_micros"], row["delivered"]) == (502, 0, 0)
    assert (row["upstream_cost_micros"], row["lost_images"]) == (micros(3 * wrong), 3)

    line = line_of(margin(gateway, since), "gpt-image-2")
    cost = micros(wrong + right) + micros(3 * wrong)
    assert (line["requests"], line["images"], line["lost_images"]) == (2, 1, 4)
    assert (line["revenue_micros"], line["upstream_cost_micros"], line["margin_micros"]) == (6_000, cost, 6_000 - cost)
    assert gateway.balance(account.id) == (5_000_000 - 6_000, 0)


def test_a_call_that_reports_no_usage_is_costed_at_the_sheets_figure_and_marked_an_estimate(
    gateway: Gateway, since: datetime, upstream: FakeOpenAI
) -> None:
    assert GPT is not None
    account = gateway.new_account("5")
    upstream.script({"kind": "ok", "usage": None})
    made = generate(gateway, account, model="gpt-image-2", quality="medium", size="1024x1536")
    assert made["status"] == 200, made
    figure = GPT.image_micros("medium", "1024x1536")
    assert figure == 80_000
    row = gateway.usage_row(made["id"])
    assert row is not None
    assert (row["upstream_cost_micros"], row["upstream_cost_estimated"]) == (figure, True)

    reported = generate(gateway, account, model="gpt-image-2", quality="medium", size="1024x1536")
    assert reported["status"] == 200
    line = line_of(margin(gateway, since), "gpt-image-2")
    exact = micros(gpt_call_picos("medium", 1, (1024, 1536)))
    assert line["upstream_cost_micros"] == figure + exact
    assert line["estimated_cost_micros"] == figure
    assert line["estimated_share"] == round(figure / (figure + exact), 4)


def test_the_account_never_sees_what_its_requests_cost_upstream(gateway: Gateway, since: datetime) -> None:
    account = gateway.new_account("5")
    made = generate(gateway, account, model="gpt-image-2", quality="low", size="1024x1024")
    with gateway.http() as http:
        usage = http.get("/v1/usage", headers={"Authorization": f"Bearer {account.key}"}).json()
    (record,) = [r for r in usage["data"] if r["id"] == made["id"]]
    assert "upstream_cost_micros" not in record and "upstream_cost_estimated" not in record


def test_test_keys_and_replays_are_not_part_of_the_margin(gateway: Gateway, since: datetime) -> None:
    test_key = gateway.new_account("0", test=True)
    assert generate(gateway, test_key, model="gpt-image-2", quality="low")["status"] == 200
    live = gateway.new_account("5")
    body = {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "quality": "low"}
    headers = {"Idempotency-Key": "margin-replay-1"}
    first = gateway.post_images(live.key, body, headers)
    again = gateway.post_images(live.key, body, headers)
    assert (first.status_code, again.status_code) == (200, 200)
    line = line_of(margin(gateway, since), "gpt-image-2")
    assert (line["requests"], line["images"], line["revenue_micros"]) == (1, 1, 6_000)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"start": "2026-01-01T00:00:00Z", "end": "2027-06-01T00:00:00Z"}, "start"),  # more than 366 days
        ({"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, "start"),  # backwards
        ({"start": "yesterday"}, "start"),
        ({"end": "99999-01-01"}, "end"),
    ],
)
def test_a_window_that_is_not_one_is_refused(gateway: Gateway, params: dict[str, str], param: str) -> None:
    with gateway.http() as http:
        response = http.get("/admin/v1/margin", params=params, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_value", param)


def test_the_margin_command_prints_the_report_and_its_json(gateway: Gateway, since: datetime) -> None:
    account = gateway.new_account("5")
    assert generate(gateway, account, model="seedream-4.5", size="2048x2048")["status"] == 200
    start, end = since.isoformat(), (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    report = json.loads(gateway.cli("margin", "--start", start, "--end", end, "--json"))
    assert report == margin(gateway, since) | {"end": report["end"]}
    (line,) = report["data"]
    assert (line["model"], line["revenue_micros"], line["upstream_cost_micros"]) == ("seedream-4.5", 40_000, 40_000)
    table = gateway.cli("margin", "--start", start, "--end", end)
    lines = table.splitlines()
    assert lines[1].split() == ["model", "route", "requests", "images", "lost", "revenue", "upstream", "margin", "est."]
    assert lines[2].split() == ["seedream-4.5", "ark", "1", "1", "0", "$0.04", "$0.04", "$0.00", "0%"]
    assert lines[3].split() == ["total", "1", "1", "0", "$0.04", "$0.04", "$0.00", "0%"]


def test_the_admin_page_draws_revenue_and_cost_per_model_and_route(gateway: Gateway, since: datetime) -> None:
    account = gateway.new_account("5")
    assert generate(gateway, account, model="gpt-image-2", quality="medium", size="1024x1024")["status"] == 200
    with gateway.http() as browser:
        login = browser.post("/admin/login", data={"token": ADMIN_TOKEN})
        assert login.status_code == 303, login.text
        page = browser.get("/admin").text
    chart = page[page.index('id="admin-margin-chart"') :]
    chart = chart[: chart.index("</figure>")]
    assert 'role="img"' in chart and "<title" in chart
    assert 'class="bar"' in chart and 'class="bar cost"' in chart
    assert "gpt-image-2 · openai" in chart
    table = page[page.index('id="margin-table"') :]
    assert "gpt-image-2" in table and "style=" not in chart


def admin_call(gateway: Gateway, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    with gateway.http() as http:
        response = http.request(method, path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    return response.status_code, dict(response.json())


def test_an_operator_sets_a_routes_cost_and_the_next_record_is_costed_with_it(
    gateway: Gateway, since: datetime
) -> None:
    assert SEEDREAM is not None
    account = gateway.new_account("5")
    item = {"model": "seedream-4.5", "route": "ark", "item": "per_image.standard.2304x1728", "amount_usd": "0.035"}
    status, body = admin_call(gateway, "PUT", "/admin/v1/upstream-costs", item)
    assert (status, body) == (200, {"model": "seedream-4.5", "route": "ark", "item": item["item"], "micros": 35_000})
    cheaper = generate(gateway, account, model="seedream-4.5", size="2304x1728")
    catalog = generate(gateway, account, model="seedream-4.5", size="2048x2048")  # the catalog's "*" still
    assert (cheaper["status"], catalog["status"]) == (200, 200)
    assert [gateway.usage_row(r["id"])["upstream_cost_micros"] for r in (cheaper, catalog)] == [35_000, 40_000]  # type: ignore[index]

    status, listing = admin_call(gateway, "GET", "/admin/v1/upstream-costs")
    (ark,) = [r for r in listing["data"] if (r["model"], r["route"]) == ("seedream-4.5", "ark")]
    assert ark["overrides"] == {"per_image.standard.2304x1728": 35_000}
    assert ark["sheet"]["per_image_micros"]["standard"] == {"*": 40_000, "2304x1728": 35_000}
    status, _ = admin_call(gateway, "PUT", "/admin/v1/upstream-costs", {**item, "amount_usd": "0.04"})
    assert status == 200  # back to the list price for the tests after this one


def test_the_costs_command_sets_token_prices_and_lists_them(gateway: Gateway, since: datetime) -> None:
    account = gateway.new_account("5")
    out = json.loads(gateway.cli("costs", "set", "nano-banana-2", "gemini", "tokens.output_image", "45", "--json"))
    assert out == {"model": "nano-banana-2", "route": "gemini", "item": "tokens.output_image", "micros": 45_000_000}
    listing = json.loads(gateway.cli("costs", "list", "--json"))
    (gemini,) = [r for r in listing["data"] if r["model"] == "nano-banana-2"]
    assert gemini["sheet"]["tokens_micros_per_million"]["output_image"] == 45_000_000
    made = generate(gateway, account, model="nano-banana-2", size="1024x1024")
    assert made["status"] == 200, made
    row = gateway.usage_row(made["id"])
    assert row is not None
    flash = CATALOG.models["nano-banana-2"].routes[0].upstream_cost
    assert flash is not None
    expected = micros(GEMINI_PROMPT_TOKENS * flash.input_text + GEMINI_IMAGE_TOKENS * 45_000_000)
    assert row["upstream_cost_micros"] == expected == 50_408  # the next request, within FRESH_SECONDS at most
    assert "set: tokens.output_image = 45000000" in gateway.cli("costs", "list")
    gateway.cli("costs", "set", "nano-banana-2", "gemini", "tokens.output_image", "60")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"model": "no-such-model"}, "model"),
        ({"model": "preview"}, "model"),
        ({"route": "azure"}, "route"),
        ({"item": "tokens.cached_input"}, "item"),
        ({"item": "per_image.ultra.1024x1024"}, "item"),
        ({"item": "per_image.medium.9999x9999"}, "item"),
        ({"item": "per_image.medium.1024x1024\u0000"}, "item"),
        ({"amount_usd": "-1"}, "amount_usd"),
        ({"amount_usd": "10001"}, "amount_usd"),  # past $10,000 (per image or per million tokens)
        ({"amount_usd": "0.0000001"}, "amount_usd"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_cost_item_that_is_not_one_is_refused_and_changes_nothing(
    gateway: Gateway, change: dict[str, Any], param: str
) -> None:
    item = {"model": "gpt-image-2", "route": "openai", "item": "tokens.output_image", "amount_usd": "30", **change}
    status, body = admin_call(gateway, "PUT", "/admin/v1/upstream-costs", item)
    assert status == 400, body
    assert body["error"]["param"] == param, body
    _, listing = admin_call(gateway, "GET", "/admin/v1/upstream-costs")
    (openai_route,) = [r for r in listing["data"] if r["model"] == "gpt-image-2"]
    assert openai_route["overrides"] == {}
