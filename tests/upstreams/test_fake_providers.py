"""The fake Gemini, Seedream and Azure upstreams hold the gateway to their wire formats' rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.upstreams.fake_azure import FakeAzure
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_seedream import FakeSeedream
from tests.upstreams.server import TRANSPORT_BEHAVIOURS

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeGemini, FakeSeedream, FakeAzure]]:
    with FakeGemini(api_key="g") as g, FakeSeedream(api_key="s") as s, FakeAzure(api_key="a") as a:
        yield g, s, a  # type: ignore[misc]


def gemini(fake: FakeGemini, model: str = "gemini-3-pro-image", key: str = "g", **image_config: Any) -> httpx.Response:
    body = {"contents": [{"parts": [{"text": "a fox"}]}], "generationConfig": {"imageConfig": image_config}}
    return httpx.post(f"{fake.base_url}/models/{model}:generateContent", json=body, headers={"x-goog-api-key": key})


def test_gemini_checks_the_models_ratios_and_sizes(fakes: Any) -> None:
    g = fakes[0]
    assert gemini(g, aspectRatio="21:9", imageSize="4K").status_code == 200
    assert gemini(g, aspectRatio="1:4").status_code == 400  # Pro has ten ratios
    assert gemini(g, "gemini-3.1-flash-image", aspectRatio="1:4", imageSize="512").status_code == 200
    assert gemini(g, imageSize="4k").status_code == 400  # uppercase K only
    assert gemini(g, outputMimeType="image/webp").status_code == 400  # Vertex-only
    bad_key = gemini(g, key="nope").json()["error"]
    assert (bad_key["code"], bad_key["status"], bad_key["details"][0]["reason"]) == (
        400,
        "INVALID_ARGUMENT",
        "API_KEY_INVALID",
    )


def test_seedream_checks_size_range_and_fields(fakes: Any) -> None:
    s = fakes[1]
    auth = {"authorization": "Bearer s"}
    ok = {"model": "seedream-4-5-251128", "prompt": "a fox", "size": "2560x1440", "response_format": "b64_json"}
    assert httpx.post(f"{s.base_url}/images/generations", json=ok, headers=auth).status_code == 200
    small = httpx.post(f"{s.base_url}/images/generations", json={**ok, "size": "1024x1024"}, headers=auth)
    assert (small.status_code, small.json()["error"]["param"]) == (400, "size")  # under 4.5's pixel minimum
    n = httpx.post(f"{s.base_url}/images/generations", json={**ok, "n": 2}, headers=auth)
    assert (n.status_code, n.json()["error"]["code"]) == (400, "InvalidParameter")
    anonymous = httpx.post(f"{s.base_url}/images/generations", json=ok)
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "AuthenticationError")


def test_azure_checks_version_key_and_formats(fakes: Any) -> None:
    a = fakes[2]
    url = f"{a.endpoint}/openai/deployments/gpt-image-2/images/generations"
    body = {"prompt": "a fox", "size": "1024x1024"}
    version = {"api-version": "2025-04-01-preview"}
    assert httpx.post(url, params=version, json=body, headers={"api-key": "a"}).status_code == 200
    assert httpx.post(url, json=body, headers={"api-key": "a"}).status_code == 404
    assert (
        httpx.post(url, params=version, json=body, headers={"authorization": "Bearer a"}).json()["error"]["code"]
        == "401"
    )
    webp = httpx.post(url, params=version, json={**body, "output_format": "webp"}, headers={"api-key": "a"})
    assert (webp.status_code, webp.json()["error"]["param"]) == (400, "output_format")


@pytest.mark.parametrize("fake", [FakeGemini, FakeSeedream, FakeAzure])
def test_every_behaviour_is_used_by_a_test(fake: type) -> None:
    """Each scripted fault of each fake is exercised somewhere against the gateway."""
    text = "\n".join(p.read_text() for p in (TESTS / "providers").glob("test_*.py"))
    used = set(re.findall(r'"kind": "(\w+)"', text))
    kinds = set(fake.BEHAVIOURS) | (set(TRANSPORT_BEHAVIOURS) - {"ok"})
    assert sorted(kinds - used) == []
