"""The request examples of a model page: curl, the Python and the JavaScript `openai` SDKs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    label: str
    code: str


def examples(base_url: str, body: dict[str, Any]) -> tuple[Example, ...]:
    api = f"{base_url}/v1"
    curl_body = json.dumps(body, indent=2).replace("'", "'\\''")
    curl = (
        f"curl {api}/images/generations \\\n"
        '  -H "Authorization: Bearer $IMAGEGATE_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{curl_body}'"
    )
    py_args = "".join(f"    {name}={json.dumps(value)},\n" for name, value in body.items())
    python = (
        "import os\nfrom openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{api}", api_key=os.environ["IMAGEGATE_API_KEY"])\n'
        f"result = client.images.generate(\n{py_args})\n"
        "print(result.data[0].url)"
    )
    js_args = "".join(f"  {name}: {json.dumps(value)},\n" for name, value in body.items())
    js = (
        'import OpenAI from "openai";\n\n'
        f'const client = new OpenAI({{ baseURL: "{api}", apiKey: process.env.IMAGEGATE_API_KEY }});\n'
        f"const result = await client.images.generate({{\n{js_args}}});\n"
        "console.log(result.data[0].url);"
    )
    return (Example("curl", "curl", curl), Example("python", "Python", python), Example("js", "JavaScript", js))


__all__ = ["Example", "examples"]
