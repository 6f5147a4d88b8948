"""GET and HEAD /v1/files/{image_id}.{ext}: the gateway's signed, expiring download URLs.

The bytes come through the `BlobStore` port: a file on disk is sent zero-copy, an object in a
bucket is streamed a chunk at a time. A store that cannot be read answers 503 before any byte. A
thumbnail kept in a bucket that hands out its own URLs (`IMAGEGATE_URL_MODE=bucket`) is a 302 to the
bucket's pre-signed URL, valid as long as this one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from ..file_response import MappedFileResponse
from ..gateway import gateway

router = APIRouter()

CACHE_CONTROL = "private, max-age=3600"


@router.api_route("/v1/files/{name}", methods=["GET", "HEAD"])
async def download(name: str, request: Request) -> Response:
    params = request.query_params
    head = request.method == "HEAD"
    blob = await gateway(request).files.open(name, params.get("expires"), params.get("signature"), body=not head)
    if blob.url is not None:
        return RedirectResponse(blob.url, status_code=302, headers={"cache-control": CACHE_CONTROL})
    if blob.path is not None:  # answers HEAD with the headers alone
        return MappedFileResponse(blob.path, media_type=blob.content_type, headers={"cache-control": CACHE_CONTROL})
    headers = {"cache-control": CACHE_CONTROL, "content-length": str(blob.size)}
    if head or blob.chunks is None:
        return Response(media_type=blob.content_type, headers=headers)
    return StreamingResponse(blob.chunks, media_type=blob.content_type, headers=headers)
