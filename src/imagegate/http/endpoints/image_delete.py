"""DELETE /v1/images/{image_id}: the owner removes a stored image before it expires."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..auth import authenticate
from ..gateway import gateway

router = APIRouter()


# Only `img_…` ids match, so the other `/v1/images/…` paths (edits, jobs) keep their own 404s and routes.
@router.delete("/v1/images/img_{suffix}", status_code=204)
async def delete_image(suffix: str, request: Request) -> Response:
    principal = await authenticate(request)
    await gateway(request).retention.delete(principal, f"img_{suffix}")
    return Response(status_code=204)
