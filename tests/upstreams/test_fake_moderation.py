"""The fake moderations endpoint answers in the shape of the real one (as the openai SDK types it)."""

from __future__ import annotations

import base64
import io

import httpx
import openai
from openai.types import ModerationCreateResponse
from PIL import Image

from tests.upstreams.fake_moderation import CATEGORIES, FakeModeration
from tests.upstreams.marked_images import render_marked


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


def test_fake_flags_an_image_input_by_its_pixels_not_its_words() -> None:
    """The openai SDK's own image input (`ModerationImageURLInputParam`): the mark flags it, the
    text beside it does not."""
    marked = "data:image/png;base64," + base64.b64encode(render_marked(256, 256, "png")).decode()
    plain = "data:image/png;base64," + base64.b64encode(_plain_png()).decode()
    with FakeModeration(api_key="sk-m") as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="sk-m", max_retries=0)
        hit = client.moderations.create(
            model="omni-moderation-latest", input=[{"type": "image_url", "image_url": {"url": marked}}]
        )
        clean = client.moderations.create(
            model="omni-moderation-latest",
            input=[{"type": "image_url", "image_url": {"url": plain}}, {"type": "text", "text": "forbidden-ocelot"}],
        )
    assert hit.results[0].flagged is True and hit.results[0].category_scores.sexual > 0.5
    assert clean.results[0].flagged is False


def _plain_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()
