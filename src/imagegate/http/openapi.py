"""The OpenAPI 3.1 document served at `/openapi.json`: every route, body, parameter, status and error.

Written here rather than derived from the route functions, which take raw requests (for speed, and
so that every refusal goes through one validator with the contract's error shape). Enumerations
(models, sizes, formats) come from the live catalog. `tests/e2e/test_openapi.py` checks that every
route is described and runs schemathesis against the served document.
"""

from __future__ import annotations

from typing import Any, get_args

from fastapi import FastAPI

from .. import __version__
from ..domain.catalog import Catalog
from ..service.admission import Surface
from .openapi_chat import chat_operations, chat_schemas
from .openapi_ledger import ledger_operations
from .openapi_library import library_operations
from .openapi_responses import responses_operations, responses_schemas
from .openapi_webhooks import webhook_operations, webhook_schemas

Schema = dict[str, Any]

_ERROR_STATUSES = {
    400: "The request is invalid (`invalid_json`, `missing_required_parameter`, `unknown_parameter`, `invalid_type`, `invalid_value`, `model_not_found`, `unsupported_parameter`, `idempotency_key_reused`).",
    401: "Missing or invalid API key (`missing_api_key`, `invalid_api_key`, `invalid_admin_token`).",
    402: "Not enough credit (`insufficient_balance`); the message gives the price and the credit available.",
    403: "Not allowed (`key_revoked`, `account_disabled`, `model_not_allowed`, `invalid_signature`, `url_expired`).",
    404: "No such resource (or, under /admin, the admin API is off).",
    409: "A request with this Idempotency-Key is still running (`idempotency_in_progress`), or an async job is no longer queued (`job_not_cancellable`).",
    413: "The request body is larger than the gateway accepts (`request_too_large`).",
    429: "A rate limit or the in-flight cap (`rate_limit_exceeded`); see `Retry-After`.",
    451: "The prompt or the image was refused by safety screening (`prompt_blocked`, `output_blocked`).",
    502: "The upstream failed after retries and failover (`upstream_failed`); nothing was charged.",
    503: "No route, or a fail-closed dependency is down (`no_route_available`, `rate_limiter_unavailable`, `moderation_unavailable`).",
    504: "The request's deadline passed (`upstream_timeout`); nothing was charged.",
}

_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_NULLABLE_INT: Schema = {"type": ["integer", "null"]}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Schema]:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


def _body(schema: Schema, required: bool = True) -> Schema:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _path_param(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _schemas(catalog: Catalog) -> dict[str, Schema]:
    models = list(catalog)
    names = sorted({m.id for m in models} | {alias for m in models for alias in m.aliases})
    sizes = sorted({s for m in models for s in m.capabilities.sizes})
    qualities = sorted({q for m in models for q in m.capabilities.qualities})
    styles = sorted({s for m in models for s in m.capabilities.styles}) or ["natural", "vivid"]
    max_n = max(m.capabilities.max_n for m in models)
    max_prompt = max(m.capabilities.max_prompt_chars for m in models)
    card = {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}}
    usage_record = _obj(
        {
            "id": {"type": "string"},
            "account_id": {"type": "string"},
            "key_id": {"type": "string"},
            "status": {"type": "integer"},
            "cost_micros": {"type": "integer"},
            "created": {"type": "integer"},
            "time": {"type": "string"},
        },
        {
            "model": _NULLABLE_STRING,
            "route": _NULLABLE_STRING,
            "attempts": _NULLABLE_INT,
            "n": _NULLABLE_INT,
            "delivered": _NULLABLE_INT,
            "size": _NULLABLE_STRING,
            "quality": _NULLABLE_STRING,
            "error_code": _NULLABLE_STRING,
            "unit_price_micros": _NULLABLE_INT,
            "latency_ms": _NULLABLE_INT,
            "user": _NULLABLE_STRING,
            "surface": {
                "enum": list(get_args(Surface)),
                "description": "the API the request came through (`job`: run as an async job)",
            },
            "lost_images": {
                "type": "integer",
                "description": "images the upstream made that were never handed out (withheld by output screening, "
                "or made for a request that then failed); never billed",
            },
        },
    )
    account = _obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "balance_micros": {"type": "integer"},
            "held_micros": {"type": "integer"},
            "currency": {"type": "string"},
        },
    )
    key = _obj(
        {"id": {"type": "string"}, "mode": {"enum": ["live", "test"]}},
        {
            "prefix": {"type": "string"},
            "allowed_models": {"type": ["array", "null"], "items": {"type": "string"}},
            "key": {"type": "string", "description": "the full key: shown once, at creation"},
            "webhook_url": {**_NULLABLE_STRING, "description": "where its async jobs' webhooks go (never the secret)"},
        },
    )
    error_object = _obj(
        {"message": {"type": "string"}, "type": {"type": "string"}, "param": _NULLABLE_STRING, "code": _NULLABLE_STRING}
    )
    return {
        "ImageJob": _obj(
            {
                "id": {"type": "string", "pattern": "^job_[0-9a-z]{26}$"},
                "object": {"const": "image.job"},
                "status": {"type": "string", "enum": ["queued", "running", "completed", "failed", "cancelled"]},
                "created": {"type": "integer"},
            },
            {
                "completed_at": {
                    "type": "integer",
                    "description": "when the job finished (completed, failed, cancelled)",
                },
                "result": {**_ref("ImagesResponse"), "description": "completed: the synchronous answer's body"},
                "error": {**error_object, "description": "failed: the error the synchronous request would have had"},
            },
        ),
        "Error": _obj({"error": error_object}),
        "ImageGenerationRequest": {
            "type": "object",
            "required": ["model", "prompt"],
            "additionalProperties": False,
            "description": "Any other field is `400 unknown_parameter`; a field the model does not support is "
            "`400 unsupported_parameter`; `null` counts as not given.",
            "properties": {
                "model": {"type": "string", "enum": names, "description": "a catalog id or alias"},
                "prompt": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": max_prompt,
                    "pattern": r"\S",
                    "description": "non-blank; at most the model's `max_prompt_chars`",
                },
                "size": {
                    "type": ["string", "null"],
                    "enum": [*sizes, "auto", None],
                    "description": "one of the model's sizes (default 1024x1024), or `auto`",
                },
                "n": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": max_n,
                    "description": "1 to the model's `max_n`",
                },
                "quality": {"type": ["string", "null"], "enum": [*qualities, None]},
                "style": {"type": ["string", "null"], "enum": [*styles, None]},
                "output_format": {"type": ["string", "null"], "enum": ["png", "webp", "jpeg", None]},
                "output_compression": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "maximum": 100,
                    "description": "only with webp or jpeg",
                },
                "response_format": {"type": ["string", "null"], "enum": ["url", "b64_json", None]},
                "user": {
                    "type": ["string", "null"],
                    "maxLength": 256,
                    "description": "end-user id, recorded with the usage",
                },
                "safety_identifier": {
                    "type": ["string", "null"],
                    "maxLength": 256,
                    "description": "OpenAI's successor of `user`",
                },
                "background": {
                    "type": ["string", "null"],
                    "enum": ["transparent", "opaque", "auto", None],
                    "description": "transparent only with png or webp, on models that offer it",
                },
                "moderation": {"type": ["string", "null"], "enum": ["low", "auto", None]},
                "complexity": {"type": ["string", "null"], "description": "only on models that offer it"},
                "stream": {
                    "type": ["boolean", "null"],
                    "description": "`true`: server-sent events (`image_generation.partial_image`, `.completed`)",
                },
                "partial_images": {"type": ["integer", "null"], "minimum": 0, "maximum": 3},
            },
            "example": {"model": "gpt-image-2", "prompt": "A kettle on a marble counter", "size": "1024x1024"},
        },
        "Billing": _obj(
            {
                "images": {"type": "integer"},
                "images_requested": {"type": "integer"},
                "amount_micros": {"type": "integer"},
                "currency": {"type": "string"},
                "unit_price_micros": {"type": "integer"},
            }
        ),
        "ImagesResponse": _obj(
            {
                "created": {"type": "integer"},
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string"},
                            "b64_json": {"type": "string"},
                            "revised_prompt": _NULLABLE_STRING,
                        },
                    },
                },
                "billing": _ref("Billing"),
            }
        ),
        "Quote": _obj(
            {
                "object": {"const": "image.quote"},
                "model": {"type": "string"},
                "n": {"type": "integer"},
                "size": {"type": "string"},
                "quality": _NULLABLE_STRING,
                "unit_price_micros": {"type": "integer"},
                "amount_micros": {"type": "integer"},
                "currency": {"type": "string"},
            }
        ),
        "Model": _obj(
            {
                "id": {"type": "string"},
                "object": {"const": "model"},
                "created": {"type": "integer"},
                "owned_by": {"type": "string"},
                "imagegate": _obj(
                    {
                        "vendor": {"type": "string"},
                        "display_name": {"type": "string"},
                        "aliases": {"type": "array", "items": {"type": "string"}},
                        "capabilities": _obj(
                            {
                                "sizes": {"type": "array", "items": {"type": "string"}},
                                "max_n": {"type": "integer"},
                                "qualities": {"type": "array", "items": {"type": "string"}},
                                "styles": {"type": "array", "items": {"type": "string"}},
                                "output_formats": {"type": "array", "items": {"type": "string"}},
                                "img2img": {"type": "boolean"},
                                "max_prompt_chars": {"type": "integer"},
                            }
                        ),
                        "pricing": _obj({"currency": {"type": "string"}, "per_image_micros": card}),
                        "latency": {"type": "object"},
                        "when_to_use": {"type": "array", "items": {"type": "string"}},
                        "availability": _obj(
                            {
                                "state": {"enum": ["available", "degraded", "not_configured"]},
                                "routes": {"type": "integer"},
                                "configured_routes": {"type": "integer"},
                                "failing_routes": {"type": "integer"},
                            }
                        ),
                    }
                ),
            }
        ),
        "ModelList": _obj({"object": {"const": "list"}, "data": {"type": "array", "items": _ref("Model")}}),
        "Account": _obj(
            {
                "account_id": {"type": "string"},
                "balance_micros": {"type": "integer"},
                "held_micros": {"type": "integer"},
                "currency": {"type": "string"},
                "key": _obj(
                    {
                        "id": {"type": "string"},
                        "mode": {"enum": ["live", "test"]},
                        "allowed_models": {"type": ["array", "null"], "items": {"type": "string"}},
                        "rate_limit": {"type": ["object", "null"]},
                    }
                ),
            }
        ),
        "UsageRecord": usage_record,
        "Usage": _obj(
            {
                "object": {"const": "list"},
                "data": {"type": "array", "items": _ref("UsageRecord")},
                "totals": {"type": "object"},
            },
            {"account_id": {"type": "string"}, "start": {"type": "string"}, "end": {"type": "string"}},
        ),
        "AdminAccount": account,
        "AdminAccountList": _obj(
            {"object": {"const": "list"}, "data": {"type": "array", "items": _ref("AdminAccount")}}
        ),
        "BalanceChange": _obj(
            {
                "account_id": {"type": "string"},
                "amount_micros": {"type": "integer"},
                "kind": {"type": "string"},
                "reason": {"type": "string"},
                "balance_micros": {"type": "integer"},
            }
        ),
        "Key": key,
        "KeyList": _obj({"object": {"const": "list"}, "data": {"type": "array", "items": _ref("Key")}}),
        "Revoked": _obj({"id": {"type": "string"}, "revoked_at": {"type": "string"}}),
        "PriceList": _obj({"currency": {"type": "string"}, "models": {"type": "object", "additionalProperties": card}}),
        "PriceSet": _obj(
            {
                "model": {"type": "string"},
                "quality": {"type": "string"},
                "size": {"type": "string"},
                "micros": {"type": "integer"},
            }
        ),
        "LedgerVerify": _obj({"ok": {"type": "boolean"}, "problems": {"type": "array", "items": {"type": "object"}}}),
        "Routes": {"type": "object"},
        "Amount": {
            "description": 'US dollars, as a decimal string (`"25"`, `"0.167"`) or a JSON number',
            "anyOf": [
                {"type": "string", "pattern": r"^-?[0-9]{1,9}(\.[0-9]{1,6})?$"},
                {"type": "number", "minimum": -1_000_000, "maximum": 1_000_000},
            ],
        },
        "PriceBody": {
            "type": "object",
            "required": ["model", "size", "amount_usd"],
            "description": "the live rate of one image of `model` at `quality` × `size`; the next request pays it",
            "properties": {
                "model": {"type": "string", "enum": names},
                "quality": {"type": ["string", "null"], "enum": [*qualities, None]},
                "size": {"type": "string", "enum": sizes},
                "amount_usd": _ref("Amount"),
            },
        },
        "CreditBody": {
            "type": "object",
            "required": ["amount_usd", "reason"],
            "properties": {"amount_usd": _ref("Amount"), "reason": {"type": "string", "minLength": 1}},
        },
    }


def _operations() -> dict[str, dict[str, Schema]]:
    live: list[dict[str, list[str]]] = [{"apiKey": []}]
    admin: list[dict[str, list[str]]] = [{"adminToken": []}]
    idem = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "1–255 printable ASCII characters: the same key and body within 24 h replays the first response",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    }
    window = [
        _query("start", "ISO 8601 time or date (default: 30 days before `end`)"),
        _query("end", "ISO 8601 time or date (default: now)"),
    ]
    account_id = _path_param("account_id", "an account id (`acct_…`)")
    admin_errors = _errors(400, 401, 404, 413)
    gen_errors = _errors(400, 401, 402, 403, 409, 413, 429, 451, 502, 503, 504)
    prefer = {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "`respond-async` (RFC 7240; among other preferences, comma-separated): admit the request "
        "now (every refusal is answered now) and answer 202 with a job to poll; not with `stream: true`",
        "schema": {"type": "string"},
    }
    accepted = {
        **_json(_ref("ImageJob"), "Accepted as an async job (`Prefer: respond-async`): poll its Location"),
        "headers": {
            "location": {"schema": {"type": "string"}, "description": "`/v1/images/jobs/{id}`"},
            "preference-applied": {"schema": {"type": "string"}, "description": "`respond-async`"},
            "idempotent-replayed": {"schema": {"type": "string"}, "description": "`true` on a replay"},
        },
    }
    job_id = _path_param("job_id", "a job id (`job_…`); another account's job is 404")
    return {
        "/v1/images/generations": {
            "post": {
                "operationId": "createImage",
                "summary": "Generate images",
                "tags": ["images"],
                "security": live,
                "parameters": [idem, prefer],
                "requestBody": _body(_ref("ImageGenerationRequest")),
                "responses": {
                    "202": accepted,
                    "200": {
                        **_json(_ref("ImagesResponse"), "The images delivered; only they are billed"),
                        "headers": {
                            "x-imagegate-cost-micros": {
                                "schema": {"type": "string"},
                                "description": "what was charged",
                            },
                            "idempotent-replayed": {"schema": {"type": "string"}, "description": "`true` on a replay"},
                            "x-imagegate-images-missing": {
                                "schema": {"type": "string"},
                                "description": "images asked for but not delivered",
                            },
                        },
                    },
                    **gen_errors,
                },
            }
        },
        "/v1/images/edits": {
            "post": {
                "operationId": "editImage",
                "summary": "Edit images (multipart, as the openai SDK sends it)",
                "tags": ["images"],
                "security": live,
                "parameters": [idem, prefer],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["model", "prompt", "image"],
                                "properties": {
                                    "model": {"type": "string"},
                                    "prompt": {"type": "string"},
                                    "image": {"type": "string", "format": "binary"},
                                    "mask": {"type": "string", "format": "binary"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("ImagesResponse"), "The images delivered; only they are billed"),
                    "202": accepted,
                    **gen_errors,
                },
            }
        },
        "/v1/images/jobs/{job_id}": {
            "get": {
                "operationId": "getImageJob",
                "summary": "An async job: its status and, once finished, its result or error",
                "tags": ["images"],
                "security": live,
                "parameters": [job_id],
                "responses": {"200": _json(_ref("ImageJob")), **_errors(401, 403, 404)},
            },
            "delete": {
                "operationId": "cancelImageJob",
                "summary": "Cancel a queued job (its hold released, nothing billed)",
                "tags": ["images"],
                "security": live,
                "parameters": [job_id],
                "responses": {"200": _json(_ref("ImageJob"), "The cancelled job"), **_errors(401, 403, 404, 409)},
            },
        },
        "/v1/images/quote": {
            "post": {
                "operationId": "quoteImage",
                "summary": "The price a generation would be held at now",
                "tags": ["images"],
                "security": live,
                "requestBody": _body(_ref("ImageGenerationRequest")),
                "responses": {"200": _json(_ref("Quote")), **_errors(400, 401, 403, 413)},
            }
        },
        "/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "The catalog, with live prices",
                "tags": ["models"],
                "responses": {"200": _json(_ref("ModelList"))},
            }
        },
        "/v1/models/{model_id}": {
            "get": {
                "operationId": "getModel",
                "summary": "One model",
                "tags": ["models"],
                "parameters": [_path_param("model_id", "a catalog id or alias")],
                "responses": {"200": _json(_ref("Model")), **_errors(404)},
            }
        },
        "/v1/files/{name}": {
            "get": {
                "operationId": "downloadImage",
                "summary": "A stored image, by its signed URL (no key)",
                "tags": ["files"],
                "parameters": [
                    _path_param("name", "`{image_id}.{ext}`"),
                    _query("expires", "Unix time the URL expires"),
                    _query("signature", "the URL's HMAC"),
                ],
                "responses": {
                    "200": {
                        "description": "The image",
                        "content": {
                            t: {"schema": {"type": "string", "format": "binary"}}
                            for t in ("image/png", "image/jpeg", "image/webp")
                        },
                    },
                    **_errors(400, 403, 404, 503),
                },
            }
        },
        "/v1/images/img_{suffix}": {
            "delete": {
                "operationId": "deleteImage",
                "summary": "The owner deletes a stored image before it expires",
                "tags": ["images"],
                "security": live,
                "parameters": [_path_param("suffix", "the part of the image id after `img_`")],
                "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404, 503)},
            }
        },
        "/v1/account": {
            "get": {
                "operationId": "getAccount",
                "summary": "The caller's balance, holds and key",
                "tags": ["account"],
                "security": live,
                "responses": {"200": _json(_ref("Account")), **_errors(401, 403)},
            }
        },
        "/v1/account/activity": {
            "get": {
                "operationId": "getAccountActivity",
                "tags": ["account"],
                "security": live,
                "summary": "The caller's spend and images per day (30 days), recent requests, images with valid URLs",
                "responses": {"200": _json({"type": "object"}), **_errors(401, 403)},
            }
        },
        "/v1/usage": {
            "get": {
                "operationId": "getUsage",
                "summary": "The caller's usage records and totals",
                "tags": ["account"],
                "security": live,
                "parameters": window,
                "responses": {"200": _json(_ref("Usage")), **_errors(400, 401, 403)},
            }
        },
        "/admin/v1/accounts": {
            "post": {
                "operationId": "adminCreateAccount",
                "tags": ["admin"],
                "security": admin,
                "requestBody": _body(_obj({"name": {"type": "string", "minLength": 1, "maxLength": 200}})),
                "responses": {"200": _json(_ref("AdminAccount")), **admin_errors},
            },
            "get": {
                "operationId": "adminListAccounts",
                "tags": ["admin"],
                "security": admin,
                "responses": {"200": _json(_ref("AdminAccountList")), **admin_errors},
            },
        },
        "/admin/v1/accounts/{account_id}": {
            "get": {
                "operationId": "adminGetAccount",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id],
                "responses": {"200": _json(_ref("AdminAccount")), **admin_errors},
            }
        },
        "/admin/v1/accounts/{account_id}/disable": {
            "post": {
                "operationId": "adminDisableAccount",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id],
                "responses": {"200": _json(_ref("AdminAccount")), **admin_errors},
            }
        },
        "/admin/v1/accounts/{account_id}/enable": {
            "post": {
                "operationId": "adminEnableAccount",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id],
                "responses": {"200": _json(_ref("AdminAccount")), **admin_errors},
            }
        },
        "/admin/v1/accounts/{account_id}/credit": {
            "post": {
                "operationId": "adminTopUp",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id],
                "requestBody": _body(_ref("CreditBody")),
                "responses": {"200": _json(_ref("BalanceChange")), **admin_errors},
            }
        },
        "/admin/v1/accounts/{account_id}/adjustments": {
            "post": {
                "operationId": "adminAdjust",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id],
                "requestBody": _body(_ref("CreditBody")),
                "responses": {"200": _json(_ref("BalanceChange")), **admin_errors},
            }
        },
        "/admin/v1/accounts/{account_id}/keys": {
            "post": {
                "operationId": "adminCreateKey",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id],
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "test": {"type": ["boolean", "null"]},
                            "models": {"type": ["array", "null"], "items": {"type": "string"}},
                            "rpm": {"type": ["integer", "null"], "minimum": 1, "maximum": 1_000_000},
                            "ipm": {"type": ["integer", "null"], "minimum": 1, "maximum": 1_000_000},
                        },
                    },
                    required=False,
                ),
                "responses": {"200": _json(_ref("Key")), **admin_errors},
            },
            "get": {
                "operationId": "adminListKeys",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id],
                "responses": {"200": _json(_ref("KeyList")), **admin_errors},
            },
        },
        "/admin/v1/keys/{key_id}/revoke": {
            "post": {
                "operationId": "adminRevokeKey",
                "tags": ["admin"],
                "security": admin,
                "parameters": [_path_param("key_id", "a key id (`key_…`)")],
                "responses": {"200": _json(_ref("Revoked")), **admin_errors},
            }
        },
        "/admin/v1/prices": {
            "get": {
                "operationId": "adminListPrices",
                "tags": ["admin"],
                "security": admin,
                "responses": {"200": _json(_ref("PriceList")), **admin_errors},
            },
            "put": {
                "operationId": "adminSetPrice",
                "tags": ["admin"],
                "security": admin,
                "requestBody": _body(_ref("PriceBody")),
                "responses": {"200": _json(_ref("PriceSet")), **admin_errors},
            },
        },
        "/admin/v1/usage": {
            "get": {
                "operationId": "adminUsage",
                "tags": ["admin"],
                "security": admin,
                "parameters": [*window, _query("account_id", "only this account")],
                "responses": {"200": _json(_ref("Usage")), **admin_errors},
            }
        },
        "/admin/v1/ledger/verify": {
            "get": {
                "operationId": "adminVerifyLedger",
                "tags": ["admin"],
                "security": admin,
                "responses": {"200": _json(_ref("LedgerVerify")), **admin_errors},
            }
        },
        "/admin/v1/routes": {
            "get": {
                "operationId": "adminRoutes",
                "tags": ["admin"],
                "security": admin,
                "responses": {"200": _json(_ref("Routes")), **admin_errors},
            }
        },
    }


def document(catalog: Catalog) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imagegate",
            "version": __version__,
            "description": "An OpenAI-compatible image generation gateway. Every error has the body "
            '`{"error": {"message", "type", "param", "code"}}`; every response carries `x-request-id`.',
        },
        "paths": {
            **_operations(),
            **webhook_operations([{"apiKey": []}], [{"adminToken": []}]),
            **chat_operations([{"apiKey": []}]),
            **responses_operations([{"apiKey": []}]),
            **library_operations([{"apiKey": []}]),
            **ledger_operations([{"adminToken": []}]),
        },
        "components": {
            "schemas": {**_schemas(catalog), **webhook_schemas(), **chat_schemas(catalog), **responses_schemas()},
            "responses": {f"Error{s}": _json(_ref("Error"), text) for s, text in _ERROR_STATUSES.items()},
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


def install_openapi(app: FastAPI, catalog: Catalog) -> None:
    """Serve `document(catalog)` at /openapi.json instead of FastAPI's derived one."""
    built = document(catalog)
    app.openapi = lambda: built  # type: ignore[method-assign]


__all__ = ["document", "install_openapi"]
