"""The served OpenAPI 3.1 document describes every route, and the real responses conform to it.

schemathesis generates requests from the document served at /openapi.json and sends them to a real
gateway (fake OpenAI upstream on loopback): the public routes with a live key, /admin with the admin
token. Every response must have a documented status, content type and body, and none may be a 500.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imagegate.config import load_catalog
from imagegate.http.openapi import document
from tests.conftest import Gateway, serve_gateway
from tests.upstreams.fake_openai import FakeOpenAI

ADMIN_TOKEN = "schemathesis-admin-token"
EXAMPLES = int(os.environ.get("IMAGEGATE_SCHEMATHESIS_EXAMPLES", "150"))  # per operation; 21 operations
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[dict[str, Any]]:
    fake_openai.reset()
    env = {"IMAGEGATE_ADMIN_TOKEN": ADMIN_TOKEN, "IMAGEGATE_MAX_BODY_BYTES": "65536"}
    for gateway in serve_gateway(tmp_path_factory, "openapi", fake_openai, extra_env=env):
        live = gateway.new_account("100000")
        target = gateway.new_account("1")  # the account (and key) the admin cases act on
        yield {
            "gateway": gateway,
            "live": {"Authorization": f"Bearer {live.key}"},
            "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            "ids": {"account_id": target.id, "key_id": target.key_id},
        }


@pytest.fixture(scope="module")
def served_schema(api: dict[str, Any]) -> Any:
    gateway: Gateway = api["gateway"]
    return schemathesis.openapi.from_url(f"{gateway.base_url}/openapi.json")


OPERATIONS = [f"{method.upper()} {path}" for path, item in document(load_catalog())["paths"].items() for method in item]


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_response_conforms_to_the_served_document(label: str, served_schema: Any, api: dict[str, Any]) -> None:
    operation = served_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served document"
    path = label.split()[1]
    headers = api["admin"] if path.startswith("/admin") else api["live"]
    # Admin cases act on a real account and key, so they reach the 200s and not only the 404s.
    ids = {name: value for name, value in api["ids"].items() if "{" + name + "}" in path}

    @given(case=operation.as_strategy(path_parameters=ids or None))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases each run: a failure reproduces
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        database=None,
    )
    def one(case: schemathesis.Case) -> None:
        response = case.call(headers=headers, timeout=120)
        calls.append(response.status_code)
        assert response.status_code != 500, f"{case.method} {case.formatted_path}: 500\n{response.text[:500]}"
        case.validate_response(response, checks=CHECKS)

    calls: list[int] = []
    one()
    print(f"schemathesis: {label}: {len(calls)} cases", dict(Counter(calls)))


def test_the_document_is_openapi_3_1_and_describes_every_route(api: dict[str, Any]) -> None:
    gateway: Gateway = api["gateway"]
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    from imagegate.http.endpoints import API_ROUTERS

    served = {
        (route.path, method.lower())
        for router in API_ROUTERS
        for route in router.routes
        if route.path != "/metrics"  # Prometheus text for scrapers, not part of the API
        for method in getattr(route, "methods", ()) or ()
        if method != "HEAD"
    }
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == described
    generation = document["paths"]["/v1/images/generations"]["post"]
    assert generation["requestBody"]["content"]["application/json"]["schema"]
    assert {"400", "401", "402", "429", "451", "502", "503", "504"} <= set(generation["responses"])
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"message", "type", "param", "code"}
