"""GET and HEAD /v1/files/{image_id}.{ext}: the gateway's signed, expiring download URLs.

The bytes come through the `BlobStore` port: a file on disk is sent zero-copy, an object in a
bucket is streamed a chunk at a time. A store that cannot be read answers 503 before any byte.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from ...domain.errors import NotFound, PermissionDenied
from ...storage.signing import Verdict
from ..components import components

router = APIRouter()

CACHE_CONTROL = "private, max-age=3600"


@router.api_route("/v1/files/{name}", methods=["GET", "HEAD"])
async def download(name: str, request: Request) -> Response:
    gateway = components(request)
    params = request.query_params
    verdict = gateway.signer.verify(name, params.get("expires"), params.get("signature"))
    if verdict is Verdict.BAD_SIGNATURE:
        raise PermissionDenied("The URL's signature is missing or invalid.", code="invalid_signature")
    if verdict is Verdict.EXPIRED:
        raise PermissionDenied("The URL has expired.", code="url_expired")
    head = request.method == "HEAD"
    blob = await gateway.store.open(name, body=not head)
    if blob is None:
        raise NotFound("No such image.", code="image_not_found")
    if blob.path is not None:  # FileResponse answers HEAD with the headers alone
        return FileResponse(blob.path, media_type=blob.content_type, headers={"cache-control": CACHE_CONTROL})
    headers = {"cache-control": CACHE_CONTROL, "content-length": str(blob.size)}
    if head or blob.chunks is None:
        return Response(media_type=blob.content_type, headers=headers)
    return StreamingResponse(blob.chunks, media_type=blob.content_type, headers=headers)
