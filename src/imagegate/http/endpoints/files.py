"""GET /v1/files/{image_id}.{ext}: the embedded store's signed, expiring download URLs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ...domain.errors import NotFound, PermissionDenied
from ...storage.signing import Verdict
from ..gateway import gateway as gateway_of

router = APIRouter()

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@router.get("/v1/files/{name}")
async def download(name: str, request: Request) -> FileResponse:
    gateway = gateway_of(request)
    params = request.query_params
    verdict = gateway.signer.verify(name, params.get("expires"), params.get("signature"))
    if verdict is Verdict.BAD_SIGNATURE:
        raise PermissionDenied("The URL's signature is missing or invalid.", code="invalid_signature")
    if verdict is Verdict.EXPIRED:
        raise PermissionDenied("The URL has expired.", code="url_expired")
    path = gateway.store.path_for(name)
    if path is None or not path.is_file():
        raise NotFound("No such image.", code="image_not_found")
    ext = name.rsplit(".", 1)[-1]
    return FileResponse(path, media_type=CONTENT_TYPES[ext], headers={"cache-control": "private, max-age=3600"})
