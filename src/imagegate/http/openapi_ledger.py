"""The OpenAPI description of an account's ledger history (`GET /admin/v1/accounts/{id}/ledger`), joined
into `openapi.document`'s paths by one line; its schemas are inline."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}

LEDGER_ENTRY: Schema = {
    "type": "object",
    "required": ["id", "kind", "amount_micros", "held_delta_micros", "reason", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"enum": ["topup", "adjustment", "hold", "capture", "release", "refund"]},
        "amount_micros": {"type": "integer", "description": "the signed change of the balance"},
        "held_delta_micros": {"type": "integer", "description": "the signed change of what is held"},
        "reason": {"type": "string"},
        "request_id": _NULLABLE_STRING,
        "hold_id": _NULLABLE_STRING,
        "created_at": {"type": "string"},
    },
}


def ledger_operations(admin: list[dict[str, list[str]]]) -> dict[str, Schema]:
    page = {
        "type": "object",
        "required": ["object", "account_id", "data", "has_more", "last_id"],
        "properties": {
            "object": {"const": "list"},
            "account_id": {"type": "string"},
            "data": {"type": "array", "items": LEDGER_ENTRY},
            "has_more": {"type": "boolean"},
            "last_id": {**_NULLABLE_STRING, "description": "pass as `after` for the next page"},
        },
    }
    query = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "entries per page, 1–500 (default 20)",
            "schema": {"type": "string", "pattern": "^[0-9]{1,3}$"},
        },
        {
            "name": "after",
            "in": "query",
            "required": False,
            "description": "the `last_id` of the previous page",
            "schema": {"type": "string"},
        },
    ]
    account_id = {"name": "account_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/admin/v1/accounts/{account_id}/ledger": {
            "get": {
                "operationId": "adminLedgerHistory",
                "summary": "An account's ledger entries, newest first",
                "tags": ["admin"],
                "security": admin,
                "parameters": [account_id, *query],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": page}}},
                    **{str(s): {"$ref": f"#/components/responses/Error{s}"} for s in (400, 401, 404, 413)},
                },
            }
        }
    }


__all__ = ["LEDGER_ENTRY", "ledger_operations"]
