"""Templates and the headers every page carries (a content-security policy without inline scripts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from ..http.gateway import gateway
from .format import FILTERS
from .highlight import highlighted

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every catalog text, prompt and name is escaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(FILTERS)
_env.filters["tojson_attr"] = lambda value: json.dumps(value, separators=(",", ":"))
_env.filters["highlight"] = highlighted
templates = Jinja2Templates(env=_env)


def content_security_policy(public_url: str) -> str:
    """Scripts and styles from this gateway only; images and API calls also to its public URL."""
    parts = urlsplit(public_url)
    public = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob:{public}; connect-src 'self'{public}; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def body_class(template: str, extra: str | None = None) -> str:
    """`page-NAME` for every page (and what the handler adds, e.g. `model-ID`): operators' CSS can
    target one page type or one object, as Datasette's pages allow."""
    name = "page-" + template.removesuffix(".html").replace("_", "-")
    return f"{name} {extra}" if extra else name


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    private: bool = False,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    base_url = gateway(request).base_url
    all_headers = {
        "content-security-policy": content_security_policy(base_url),
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",  # "no-referrer" would make form posts say `Origin: null`
        **({"cache-control": "no-store"} if private else {}),
        **(headers or {}),
    }
    context = {
        "path": request.url.path,
        "public_url": base_url,
        "body_class": body_class(name, context.get("body_class")),
        **{k: v for k, v in context.items() if k != "body_class"},
    }
    return templates.TemplateResponse(request, name, context, status_code=status, headers=all_headers)


__all__ = ["STATIC_DIR", "body_class", "content_security_policy", "page", "templates"]
