"""GET and DELETE /v1/images/jobs/{job_id}: poll an async job, or cancel it while it is queued."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..auth import authenticate
from ..gateway import gateway
from ..responses import FastJSONResponse

router = APIRouter()


async def get_job(request: Request) -> FastJSONResponse:
    principal = await authenticate(request)
    return FastJSONResponse(await gateway(request).jobs.get(principal, request.path_params["job_id"]))


async def cancel_job(request: Request) -> FastJSONResponse:
    principal = await authenticate(request)
    return FastJSONResponse(await gateway(request).jobs.cancel(principal, request.path_params["job_id"]))


router.add_route("/v1/images/jobs/{job_id}", get_job, methods=["GET"], include_in_schema=False)
router.add_route("/v1/images/jobs/{job_id}", cancel_job, methods=["DELETE"], include_in_schema=False)

__all__ = ["router"]
