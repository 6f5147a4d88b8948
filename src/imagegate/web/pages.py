"""The public pages: landing, catalog, model reference pages, playground and account; and
`install_pages`, which adds every page route and the static files to the app.

Pages are routes of their own: the API's routes and middleware are unchanged by them.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from ..domain.errors import GatewayError
from ..http.gateway import gateway
from . import admin_pages
from .examples import examples
from .render import STATIC_DIR, page

router = APIRouter(include_in_schema=False)


@router.get("/")
async def landing(request: Request) -> HTMLResponse:
    cards = await gateway(request).catalog.cards()
    return page(request, "index.html", {"cards": cards})


@router.get("/models")
async def catalog(request: Request) -> HTMLResponse:
    cards = await gateway(request).catalog.cards()
    vendors = sorted({card.model.vendor for card in cards})
    return page(request, "models.html", {"cards": cards, "vendors": vendors})


@router.get("/models/{model_id}")
async def model_page(model_id: str, request: Request) -> HTMLResponse:
    catalog = gateway(request).catalog
    try:
        model = catalog.find(model_id)
    except GatewayError:
        return page(
            request, "not_found.html", {"what": f"No model '{model_id}' in this gateway's catalog."}, status=404
        )
    reference = await catalog.page(model.id)
    settings = gateway(request).settings
    provenance = {
        "on": settings.c2pa,
        "placeholder": bool(model.routes) and all(route.provider == "preview" for route in model.routes),
    }
    context = {
        "p": reference,
        "m": model,
        "examples": examples(settings.base_url(), reference.example_body),
        "output_screening": settings.output_screening,
        "c2pa": provenance,
    }
    return page(request, "model.html", context)


@router.get("/playground")
async def playground(request: Request) -> HTMLResponse:
    return page(request, "playground.html", {"title": "Playground"})


@router.get("/account")
async def account(request: Request) -> HTMLResponse:
    return page(request, "account.html", {"title": "Account"}, private=True)


def install_pages(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(admin_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["install_pages", "router"]
