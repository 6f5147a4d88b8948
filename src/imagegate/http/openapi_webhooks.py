"""The OpenAPI description of the webhook routes (key URLs, delivery records), merged into
`openapi.document`."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_NULLABLE_INT: Schema = {"type": ["integer", "null"]}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema) -> Schema:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Schema]:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def webhook_schemas() -> dict[str, Schema]:
    attempt = {
        "type": "object",
        "required": ["attempt", "attempted_at", "status_code", "error", "duration_ms"],
        "properties": {
            "attempt": {"type": "integer", "minimum": 1},
            "attempted_at": {"type": "string"},
            "url": _NULLABLE_STRING,
            "status_code": {**_NULLABLE_INT, "description": "the receiver's answer; null when there was none"},
            "error": {**_NULLABLE_STRING, "description": "why there was no answer (timeout, refused address, …)"},
            "duration_ms": {"type": "integer"},
        },
    }
    message = {
        "type": "object",
        "required": ["id", "object", "type", "job_id", "status", "created_at", "attempts"],
        "properties": {
            "id": {"type": "string", "description": "the `webhook-id` header: one per job and status"},
            "object": {"const": "webhook.message"},
            "type": {"enum": ["image.job.completed", "image.job.failed"]},
            "job_id": {"type": "string"},
            "account_id": {"type": "string"},
            "key_id": {"type": "string"},
            "status": {"enum": ["pending", "delivered", "failed"]},
            "created_at": {"type": "string"},
            "next_attempt_at": _NULLABLE_STRING,
            "finished_at": _NULLABLE_STRING,
            "attempts": {"type": "array", "items": attempt},
        },
    }
    return {
        "WebhookMessage": message,
        "WebhookMessageList": {
            "type": "object",
            "required": ["object", "data", "has_more"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": _ref("WebhookMessage")},
                "has_more": {"type": "boolean"},
                "last_id": _NULLABLE_STRING,
            },
        },
        "WebhookSet": {
            "type": "object",
            "required": ["key_id", "webhook_url", "secret"],
            "properties": {
                "key_id": {"type": "string"},
                "webhook_url": {"type": "string"},
                "secret": {
                    "type": "string",
                    "pattern": "^whsec_",
                    "description": "the signing secret (Standard Webhooks): shown only in this answer",
                },
            },
        },
        "WebhookCleared": {
            "type": "object",
            "required": ["key_id", "webhook_url"],
            "properties": {"key_id": {"type": "string"}, "webhook_url": {"type": "null"}},
        },
    }


def webhook_operations(live: list[dict[str, list[str]]], admin: list[dict[str, list[str]]]) -> dict[str, Schema]:
    page = [
        _query("limit", "messages per page, 1–100 (default 20)", {"type": "string", "pattern": "^[0-9]{1,3}$"}),
        _query("after", "the `last_id` of the previous page"),
    ]
    key_id = {
        "name": "key_id",
        "in": "path",
        "required": True,
        "description": "a key id (`key_…`)",
        "schema": {"type": "string"},
    }
    admin_errors = _errors(400, 401, 404, 413)
    return {
        "/v1/webhooks/deliveries": {
            "get": {
                "operationId": "listWebhookDeliveries",
                "summary": "The caller's account's webhook messages, newest first, with every delivery attempt",
                "tags": ["account"],
                "security": live,
                "parameters": page,
                "responses": {"200": _json(_ref("WebhookMessageList")), **_errors(400, 401, 403)},
            }
        },
        "/admin/v1/keys/{key_id}": {
            "get": {
                "operationId": "adminGetKey",
                "tags": ["admin"],
                "security": admin,
                "parameters": [key_id],
                "responses": {"200": _json(_ref("Key")), **admin_errors},
            }
        },
        "/admin/v1/keys/{key_id}/webhook": {
            "put": {
                "operationId": "adminSetWebhook",
                "summary": "Send the key's finished async jobs to a URL; the answer shows the signing secret once",
                "tags": ["admin"],
                "security": admin,
                "parameters": [key_id],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["webhook_url"],
                                "properties": {"webhook_url": {"type": "string", "maxLength": 2048}},
                            }
                        }
                    },
                },
                "responses": {"200": _json(_ref("WebhookSet")), **admin_errors},
            },
            "delete": {
                "operationId": "adminClearWebhook",
                "tags": ["admin"],
                "security": admin,
                "parameters": [key_id],
                "responses": {"200": _json(_ref("WebhookCleared")), **admin_errors},
            },
        },
        "/admin/v1/webhooks/deliveries": {
            "get": {
                "operationId": "adminWebhookDeliveries",
                "tags": ["admin"],
                "security": admin,
                "parameters": [
                    _query("account_id", "only this account's"),
                    _query("status", "only messages in this state", {"enum": ["pending", "delivered", "failed"]}),
                    *page,
                ],
                "responses": {"200": _json(_ref("WebhookMessageList")), **admin_errors},
            }
        },
    }


__all__ = ["webhook_operations", "webhook_schemas"]
