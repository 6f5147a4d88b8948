"""Reading a `multipart/form-data` body (an edit) with Starlette's parser (python-multipart), bounded.

The whole body is already bounded by `BodySizeLimitMiddleware` (413); here the number of parts and
the size of each text field are bounded too, and anything that is not a readable multipart body is
the contract's 400 `invalid_multipart`. Files come back as bytes, their limits checked by the service.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from ..domain.edit_request import Upload
from ..domain.errors import InvalidRequest

MAX_FILES = 40
"""Parts that are files: more than any model takes (16 images and a mask), so a count error names the limit."""
MAX_FIELDS = 64
MAX_FIELD_BYTES = 256 * 1024
"""A text field (the prompt is the longest: 32,000 characters of up to 4 bytes each is 128 KiB)."""


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_multipart(request: Request) -> tuple[dict[str, str], list[Upload]]:
    """(text fields, file parts); `image[]` is read as `image`, an object's `svg[model]` as `svg`, a
    repeated text field is refused."""
    if not is_multipart(request):
        raise InvalidRequest(
            "This endpoint takes a multipart/form-data body (as the openai SDK's images.edit sends it).",
            code="invalid_multipart",
        )
    parser = MultiPartParser(
        request.headers, request.stream(), max_files=MAX_FILES, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequest(f"The multipart body could not be read: {exc.message}", code="invalid_multipart") from exc
    fields: dict[str, str] = {}
    files: list[Upload] = []
    try:
        for name, value in form.multi_items():
            field = name.split("[", 1)[0]  # `image[]` is `image`; an object's keys (`svg[model]`) are its name
            if isinstance(value, UploadFile):
                files.append(Upload(field, value.filename or field, await value.read()))
            elif field != name.removesuffix("[]") and field in fields:
                continue  # another key of the same object: the name is what the checks look at
            elif field in fields:
                raise InvalidRequest(f"The field '{field}' is sent more than once.", param=field)
            else:
                fields[field] = value
    finally:
        await form.close()
    return fields, files


__all__ = ["is_multipart", "read_multipart"]
