"""The Batch API's files: POST /v1/files (multipart `file` + `purpose=batch`, as the openai SDK's
`files.create` sends it), GET /v1/files/file-…, GET /v1/files/file-…/content, DELETE /v1/files/file-….

Only `file-…` ids match these paths, so the signed image downloads (`/v1/files/img_….png`, no key)
keep their own route; this router is included before theirs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ...domain.errors import InvalidRequest
from ..auth import authenticate
from ..gateway import gateway
from ..multipart import read_multipart

router = APIRouter()
UPLOAD_PATH = "/v1/files"


@router.post(UPLOAD_PATH)
async def upload_file(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    fields, files = await read_multipart(request)
    parts = [upload for upload in files if upload.field == "file"]
    if len(parts) != 1 or len(files) != 1:
        raise InvalidRequest("Send exactly one file part, named 'file'.", param="file")
    (part,) = parts
    return await gateway(request).batch_files.upload(principal, fields.get("purpose"), part.filename, part.data)


@router.get("/v1/files/file-{suffix}")
async def get_file(suffix: str, request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    return await gateway(request).batch_files.get(principal, f"file-{suffix}")


@router.get("/v1/files/file-{suffix}/content")
async def file_content(suffix: str, request: Request) -> Response:
    principal = await authenticate(request)
    data = await gateway(request).batch_files.content(principal, f"file-{suffix}")
    return Response(data, media_type="application/jsonl")


@router.delete("/v1/files/file-{suffix}")
async def delete_file(suffix: str, request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    return await gateway(request).batch_files.delete(principal, f"file-{suffix}")
