"""CPU of each payload step for one 1024x1024 noise PNG (1.79 MB, 2.39 MB as base64), stdlib vs alternatives.

    .venv/bin/python bench/micro_payload.py

The steps the gateway takes for a b64_json answer today (upstream JSON parse, base64 decode with
validate=True, Pillow verify, base64 encode, json.dumps of the response) and the candidates for phase 2
(pybase64 and orjson when installed, splicing the upstream's base64 text into a bytes template).
"""

from __future__ import annotations

import base64
import io
import json
import time

from PIL import Image

from fake_upstream import render_png


def timed(name: str, fn, n: int = 30) -> None:  # type: ignore[no-untyped-def]
    fn()
    start = time.process_time()
    for _ in range(n):
        fn()
    print(f"{1000 * (time.process_time() - start) / n:8.2f} ms  {name}")


def main() -> None:
    png = render_png(1024, 1024, "noise")
    b64 = base64.b64encode(png)
    text = b64.decode()
    upstream = b'{"created":1,"data":[{"b64_json":"' + b64 + b'","revised_prompt":"x"}]}'
    response = {"created": 1, "data": [{"b64_json": text, "revised_prompt": "x"}], "billing": {"images": 1}}

    def verify() -> None:
        with Image.open(io.BytesIO(png), formats=("PNG",)) as image:
            image.verify()

    print(f"PNG {len(png):,} B, base64 {len(b64):,} B")
    timed("json.loads of the upstream body [today]", lambda: json.loads(upstream))
    timed("base64.b64decode(validate=True) [today]", lambda: base64.b64decode(text, validate=True))
    timed("Pillow open + verify [today, in a worker thread]", verify)
    timed("base64.b64encode [today, b64_json]", lambda: base64.b64encode(png).decode("ascii"))
    timed(
        "json.dumps of the response, ensure_ascii=False [today]",
        lambda: json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode(),
    )
    timed("splice the upstream's base64 into a bytes template", lambda: b'{"data":[{"b64_json":"' + b64 + b'"}]}')
    try:
        import pybase64

        timed("pybase64.b64decode(validate=True)", lambda: pybase64.b64decode(b64, validate=True))
        timed("pybase64.b64encode", lambda: pybase64.b64encode(png))
    except ImportError:
        print("   (pybase64 not installed)")
    try:
        import orjson

        timed("orjson.loads of the upstream body", lambda: orjson.loads(upstream))
    except ImportError:
        print("   (orjson not installed)")


if __name__ == "__main__":
    main()
