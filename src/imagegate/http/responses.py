"""The JSON response of the hot paths, rendered by orjson.

Same bytes as Starlette's `JSONResponse` for what the gateway sends (compact separators, UTF-8,
non-ASCII unescaped), about 10x faster on a b64_json answer (2.4 MB: ~5 ms with `json.dumps`).
FastAPI's own `ORJSONResponse` is deprecated, hence this one.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


__all__ = ["FastJSONResponse"]
