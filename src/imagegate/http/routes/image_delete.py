"""DELETE /v1/images/{image_id}: the owner removes a stored image before it expires."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..components import components

router = APIRouter()


@router.delete("/v1/images/{image_id}", status_code=204)
async def delete_image(image_id: str, request: Request) -> Response:
    gateway = components(request)
    principal = await gateway.authenticate(request)
    assert gateway.retention is not None
    await gateway.retention.delete(principal, image_id)
    return Response(status_code=204)
