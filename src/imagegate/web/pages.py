"""The public pages: landing, catalog, model reference pages, playground and account; the examples
gallery's images; and `install_pages`, which adds every page route and the static files to the app.

Pages are routes of their own: the API's routes and middleware are unchanged by them.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from ..domain.errors import GatewayError
from ..http.gateway import gateway
from . import admin_account, admin_pages
from .examples import edit_examples, examples
from .render import STATIC_DIR, page

router = APIRouter(include_in_schema=False)

SAMPLE_CACHE = "public, max-age=31536000, immutable"
"""A sample's name is new for every image: a browser may keep it for good."""


@router.get("/")
async def landing(request: Request) -> HTMLResponse:
    cards = await gateway(request).catalog.cards()
    return page(request, "index.html", {"cards": cards})


@router.get("/models")
async def catalog(request: Request) -> HTMLResponse:
    cards = await gateway(request).catalog.cards()
    vendors = sorted({card.model.vendor for card in cards})
    return page(
        request,
        "models.html",
        {"cards": cards, "vendors": vendors, "description": f"The {len(cards)} image models of this gateway."},
    )


@router.get("/models/{model_id}")
async def model_page(model_id: str, request: Request) -> HTMLResponse:
    running = gateway(request)
    try:
        model = running.catalog.find(model_id)
    except GatewayError:
        return page(
            request, "not_found.html", {"what": f"No model '{model_id}' in this gateway's catalog."}, status=404
        )
    reference = await running.catalog.page(model.id)
    provenance = {
        "on": running.c2pa,
        "placeholder": bool(model.routes) and all(route.provider == "preview" for route in model.routes),
    }
    base_url = running.base_url
    caps = model.capabilities
    context = {
        "p": reference,
        "m": model,
        "examples": examples(base_url, reference.example_body),
        "edit_examples": edit_examples(base_url, model.id, caps.extra.max_input_images) if caps.img2img else (),
        "samples": await running.samples.gallery(model.id),
        "description": f"{model.display_name}: {reference.card.capability_line}. Prices, examples and limits.",
        "body_class": f"model-{model.id.replace('.', '-')}",
        "output_screening": running.output_screening,
        "c2pa": provenance,
    }
    return page(request, "model.html", context)


@router.get("/samples/{name}")
async def sample_file(name: str, request: Request) -> Response:
    found = await gateway(request).samples.file(name)
    if found is None:
        return Response(status_code=404)
    return Response(
        found.data,
        media_type=found.content_type,
        headers={"cache-control": SAMPLE_CACHE, "x-content-type-options": "nosniff"},
    )


@router.get("/playground")
async def playground(request: Request) -> HTMLResponse:
    return page(
        request,
        "playground.html",
        {
            "title": "Playground",
            "description": "Try a prompt on any model of this gateway: a quote first, then images.",
        },
    )


@router.get("/account")
async def account(request: Request) -> HTMLResponse:
    return page(request, "account.html", {"title": "Account"}, private=True)


def install_pages(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(admin_pages.router)
    app.include_router(admin_account.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["install_pages", "router"]
