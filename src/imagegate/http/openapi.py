"""The OpenAPI 3.1 document served at `/openapi.json`, rendered from declarations, never written by hand.

The route functions take raw requests (for speed, and so that every refusal goes through one
validator with the contract's error shape), so FastAPI cannot derive the document. It comes from
what the code itself reads instead: the operations (`http/api_operations.py`), the request fields
and rules the checks use (`domain/request.py`, `service/operator/fields.py`), the answer shapes
(`domain/shapes.py`), the errors table (`domain/error_table.py`) and the live catalog (its models,
sizes, qualities and formats). `tests/e2e/test_openapi.py` checks that every route is described and
runs schemathesis against the served document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .. import __version__
from ..domain import shapes
from ..domain.catalog import Catalog
from ..domain.error_table import ERROR_ROWS, OTHER_ERROR_ROWS
from ..domain.fields import Field
from ..domain.text import MAX_ID_CHARS
from .api_operations import API_OPERATIONS, ApiOperation, Body
from .openapi_schema import (
    STORABLE_JSON,
    Schema,
    field_schema,
    object_schema,
    ref,
    shape_schemas,
    storable_json,
    variants_schema,
)

LIVE_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
ADMIN_TOKEN: list[dict[str, list[str]]] = [{"adminToken": []}]

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1–255 printable ASCII characters: the same key and body within 24 h replays the first response",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
}
PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "`respond-async` (RFC 7240; among other preferences, comma-separated): admit the request "
    "now (every refusal is answered now) and answer 202 with a job to poll; not with `stream: true`",
    "schema": {"type": "string"},
}
STREAM_EVENT = {
    "description": "one server-sent event, `data` its JSON: the Images API's `image_generation.partial_image` / "
    "`.completed` (`image_edit.*` for edits); chat's `chat.completion.chunk` objects then `[DONE]`; the "
    "Responses API's `response.*` events",
    "type": "object",
    "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string", "contentMediaType": "application/json"}},
}
COST_HEADERS = {
    "x-imagegate-cost-micros": {"schema": {"type": "string"}, "description": "what was charged"},
    "idempotent-replayed": {"schema": {"type": "string"}, "description": "`true` on a replay"},
    "x-imagegate-images-missing": {"schema": {"type": "string"}, "description": "images asked for but not delivered"},
}
JOB_HEADERS = {
    "location": {"schema": {"type": "string"}, "description": "`/v1/images/jobs/{id}`"},
    "preference-applied": {"schema": {"type": "string"}, "description": "`respond-async`"},
    "idempotent-replayed": {"schema": {"type": "string"}, "description": "`true` on a replay"},
}


def document(catalog: Catalog) -> dict[str, Any]:
    paths: dict[str, dict[str, Schema]] = {}
    for operation in API_OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, catalog)
    bodies = {op.body.name: op.body for op in API_OPERATIONS if op.body is not None}
    answers = [op.answer for op in API_OPERATIONS if op.answer is not None]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imagegate",
            "version": __version__,
            "description": "An OpenAI-compatible image generation gateway. Every error has the body "
            '`{"error": {"message", "type", "param", "code"}}`; every response carries `x-request-id`.',
        },
        "paths": paths,
        "components": {
            "schemas": {
                **shape_schemas([shapes.Error, *answers]),
                **{name: body_schema(body, catalog) for name, body in bodies.items()},
                STORABLE_JSON: storable_json(),
            },
            "responses": _error_responses(),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key (`ig_live_…` or `ig_test_…`)",
                },
                "adminToken": {"type": "http", "scheme": "bearer", "description": "IMAGEGATE_ADMIN_TOKEN"},
            },
        },
    }


def body_schema(body: Body, catalog: Catalog) -> Schema:
    """A body's fields; where they depend on the model, one variant for each model it applies to."""
    nullable = not body.form  # a form cannot send null
    fields = body.fields(catalog)
    if body.variants is not None:
        variants = [variant for m in catalog if body.applies(m) for variant in body.variants(m)]
        return variants_schema(fields, variants, body.rules, nullable=nullable, exclusive=body.exclusive)
    if body.per_model is None:
        return object_schema(fields, body.rules, nullable=nullable)
    variants = [(body.per_model(m), body.model_rules(m)) for m in catalog if body.applies(m)]
    return variants_schema(fields, variants, body.rules, nullable=nullable)


def _operation(operation: ApiOperation, catalog: Catalog) -> Schema:
    out: Schema = {"operationId": operation.id, "summary": operation.summary, "tags": [operation.tag]}
    if operation.auth != "none":
        out["security"] = LIVE_KEY if operation.auth == "key" else ADMIN_TOKEN
    parameters = [_path_parameter(name, doc) for name, doc in operation.path_doc.items()]
    parameters += [_query_parameter(field) for field in operation.query]
    if operation.idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    if operation.answers_async:
        parameters.append(PREFER)
    if parameters:
        out["parameters"] = parameters
    if operation.body is not None:
        out["requestBody"] = _request_body(operation.body, catalog)
    out["responses"] = {
        **_success(operation),
        **{str(s): {"$ref": f"#/components/responses/Error{s}"} for s in operation.statuses()},
    }
    return out


def _success(operation: ApiOperation) -> dict[str, Schema]:
    if operation.answer is None and operation.media == ("application/json",):
        return {"204": {"description": "Done; no body"}}
    if operation.answer is None:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"200": {"description": "OK", "content": dict.fromkeys(operation.media, binary)}}
    content: Schema = {"application/json": {"schema": ref(operation.answer.__name__)}}
    if operation.streams:
        content["text/event-stream"] = {"schema": STREAM_EVENT}
    ok: Schema = {"description": "OK", "content": content}
    if operation.idempotent:
        ok["headers"] = COST_HEADERS
    if not operation.answers_async:
        return {"200": ok}
    job = {"application/json": {"schema": ref(shapes.ImageJob.__name__)}}
    return {
        "200": ok,
        "202": {"description": "Accepted as an async job: poll its Location", "content": job, "headers": JOB_HEADERS},
    }


def _request_body(body: Body, catalog: Catalog) -> Schema:
    media: Schema = {"schema": ref(body.name)}
    if body.form:
        files = [field for field in body.fields(catalog) if field.kind == "file"]
        media["encoding"] = {field.name: {"contentType": ", ".join(field.choices)} for field in files}
    kind = "multipart/form-data" if body.form else "application/json"
    return {"required": body.required, "content": {kind: media}}


def _path_parameter(name: str, doc: str) -> Schema:
    schema = field_schema(Field(name, "string", max_chars=MAX_ID_CHARS), nullable=False)
    return {"name": name, "in": "path", "required": True, "description": doc, "schema": schema}


def _query_parameter(field: Field) -> Schema:
    schema = field_schema(field, nullable=False)
    return {"name": field.name, "in": "query", "required": field.required, "description": field.doc, "schema": schema}


def _error_responses() -> dict[str, Schema]:
    codes: dict[int, list[str]] = {}
    for row in (*ERROR_ROWS, *OTHER_ERROR_ROWS):
        codes.setdefault(row.status, []).extend(row.codes)
    error = {"application/json": {"schema": ref("Error")}}
    return {
        f"Error{status}": {"description": "codes: " + ", ".join(f"`{c}`" for c in found), "content": error}
        for status, found in sorted(codes.items())
    }


def install_openapi(app: FastAPI, catalog: Catalog) -> None:
    """Serve `document(catalog)` at /openapi.json instead of FastAPI's derived one."""
    built = document(catalog)
    app.openapi = lambda: built  # type: ignore[method-assign]


__all__ = ["body_schema", "document", "install_openapi"]
