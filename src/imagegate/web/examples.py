"""The request examples of a model page, for this gateway's public URL and the model's own example
prompt: the Images API by curl, the Python and the JavaScript `openai` SDKs; the same image through
Chat Completions and the Responses API; and, for models that edit, `POST /v1/images/edits`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    label: str
    code: str
    language: str
    """What highlights it (`web/highlight.py`): bash, python, javascript, json."""


def _client(api: str) -> str:
    return f'import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="{api}", api_key=os.environ["IMAGEGATE_API_KEY"])\n'


def _py_args(body: dict[str, Any]) -> str:
    return "".join(f"    {name}={json.dumps(value)},\n" for name, value in body.items())


def examples(base_url: str, body: dict[str, Any]) -> tuple[Example, ...]:
    """One generation (`body`) on every surface that asks for images."""
    api = f"{base_url}/v1"
    curl_body = json.dumps(body, indent=2).replace("'", "'\\''")
    curl = (
        f"curl {api}/images/generations \\\n"
        '  -H "Authorization: Bearer $IMAGEGATE_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{curl_body}'"
    )
    python = f"{_client(api)}result = client.images.generate(\n{_py_args(body)})\nprint(result.data[0].url)"
    js_args = "".join(f"  {name}: {json.dumps(value)},\n" for name, value in body.items())
    js = (
        'import OpenAI from "openai";\n\n'
        f'const client = new OpenAI({{ baseURL: "{api}", apiKey: process.env.IMAGEGATE_API_KEY }});\n'
        f"const result = await client.images.generate({{\n{js_args}}});\n"
        "console.log(result.data[0].url);"
    )
    model, prompt = body["model"], body["prompt"]
    fields = {k: v for k, v in body.items() if k not in ("model", "prompt", "n")}
    chat = (
        f"{_client(api)}reply = client.chat.completions.create(\n"
        f"    model={json.dumps(model)},\n"
        f'    messages=[{{"role": "user", "content": {json.dumps(prompt)}}}],\n'
        '    modalities=["image", "text"],\n'
        + (f"    extra_body={json.dumps(fields)},  # the Images API's fields\n" if fields else "")
        + ")\n"
        'image = reply.choices[0].message.model_extra["images"][0]\n'
        'print(image["image_url"]["url"][:40])  # a data URL: data:image/png;base64,…'
    )
    tool = {"type": "image_generation", "model": model, **fields}
    responses = (
        f"{_client(api)}response = client.responses.create(\n"
        f"    model={json.dumps(model)},\n"
        f"    input={json.dumps(prompt)},\n"
        f"    tools=[{json.dumps(tool)}],\n"
        ")\n"
        "call = response.output[0]  # an image_generation_call\n"
        "print(call.size, len(call.result))  # the image in base64"
    )
    return (
        Example("curl", "curl", curl, "bash"),
        Example("python", "Python", python, "python"),
        Example("js", "JavaScript", js, "javascript"),
        Example("chat", "Chat Completions", chat, "python"),
        Example("responses", "Responses", responses, "python"),
    )


EDIT_PROMPT = "Make it a winter scene: snow on the ground, the same light"


def edit_examples(base_url: str, model_id: str, max_images: int) -> tuple[Example, ...]:
    """`POST /v1/images/edits`: one input image by curl and by the Python SDK (more, up to the
    model's limit, as a list)."""
    api = f"{base_url}/v1"
    curl = (
        f"curl {api}/images/edits \\\n"
        '  -H "Authorization: Bearer $IMAGEGATE_API_KEY" \\\n'
        f"  -F model={model_id} \\\n"
        f'  -F prompt="{EDIT_PROMPT}" \\\n'
        '  -F "image[]=@photo.png"'
    )
    python = (
        f"{_client(api)}result = client.images.edit(\n"
        f"    model={json.dumps(model_id)},\n"
        f'    image=[open("photo.png", "rb")],  # up to {max_images} images\n'
        f"    prompt={json.dumps(EDIT_PROMPT)},\n"
        ")\n"
        "print(result.data[0].url)"
    )
    return (Example("edit-curl", "curl", curl, "bash"), Example("edit-python", "Python", python, "python"))


__all__ = ["EDIT_PROMPT", "Example", "edit_examples", "examples"]
