"""The fake moderations endpoint answers in the shape of the real one (as the openai SDK types it)."""

from __future__ import annotations

import httpx
import openai
from openai.types import ModerationCreateResponse

from tests.upstreams.fake_moderation import CATEGORIES, FakeModeration


def test_fake_answers_in_the_sdk_shape() -> None:
    with FakeModeration(api_key="sk-m") as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="sk-m", max_retries=0)
        clean = client.moderations.create(model="omni-moderation-latest", input="a kettle on a counter")
        hit = client.moderations.create(model="omni-moderation-latest", input="a forbidden-ocelot scene")
        raw = httpx.post(fake.url, json={"model": "m", "input": "x"}, headers={"Authorization": "Bearer sk-m"})

    assert isinstance(clean, ModerationCreateResponse)
    assert clean.results[0].flagged is False
    assert hit.results[0].flagged is True
    assert hit.results[0].categories.violence_graphic is True
    assert hit.results[0].category_scores.violence_graphic > 0.5
    result = ModerationCreateResponse.model_validate(raw.json()).results[0]
    sdk_names = {field.alias or name for name, field in type(result.categories).model_fields.items()}
    assert set(CATEGORIES) == sdk_names
    assert set(raw.json()["results"][0]["category_applied_input_types"]) == sdk_names
