"""The schema. Money columns are BigInteger micro-units; nothing here is a float."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy import DateTime as _DateTime
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class DateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on SQLite (which keeps no zone) and PostgreSQL alike."""

    impl = _DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


accounts = Table(
    "accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("balance_micros", BigInteger, nullable=False, default=0),
    Column("held_micros", BigInteger, nullable=False, default=0),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(), nullable=False),
    # defaults for the account's keys (NULL: unlimited), and its stricter safety additions (JSON)
    Column("rpm", Integer, nullable=True),
    Column("ipm", Integer, nullable=True),
    Column("max_in_flight", Integer, nullable=True),
    Column("safety", Text, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("allowed_models", Text, nullable=True),  # JSON list, or NULL for every model
    Column("rpm", Integer, nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime(), nullable=True),
    Column("ipm", Integer, nullable=True),
    Column("webhook_url", String(2048), nullable=True),  # where its async jobs' webhooks go
    Column("webhook_version", Integer, nullable=False, default=0, server_default="0"),  # of the derived secret
    Column("budget_micros", BigInteger, nullable=True),  # what it may spend per budget_period (NULL: no budget)
    Column("budget_period", String(8), nullable=True),  # day | month (UTC)
)

holds = Table(
    "holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("amount_micros", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),  # open | settled | refunded | released | expired
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("run_id", String(40), nullable=True),  # the gateway process that took it (node_runs)
    Index("ix_holds_open", "status", "expires_at"),
    Index("ix_holds_run", "run_id", "status"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(12), nullable=False),  # topup | adjustment | hold | capture | release | refund
    Column("amount_micros", BigInteger, nullable=False),  # signed change of the balance
    Column("held_delta_micros", BigInteger, nullable=False, default=0),  # signed change of what is held
    Column("reason", Text, nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("hold_id", String(40), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Index("ix_ledger_entries_account_id_id", "account_id", "id"),  # an account's history, by page
)

price_cards = Table(
    "price_cards",
    metadata,
    Column("model", String(100), primary_key=True),
    Column("quality", String(20), primary_key=True),
    Column("size", String(20), primary_key=True),
    Column("micros", BigInteger, nullable=False),
    Column("updated_at", DateTime(), nullable=False),
)

upstream_cost_overrides = Table(  # the operator's live items over the catalog's upstream cost sheets
    "upstream_cost_overrides",
    metadata,
    Column("model", String(100), primary_key=True),
    Column("route", String(100), primary_key=True),
    Column("item", String(120), primary_key=True),  # tokens.KIND | per_image.QUALITY.SIZE
    Column("micros", BigInteger, nullable=False),
    Column("updated_at", DateTime(), nullable=False),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", String(64), primary_key=True),  # the request id
    Column("account_id", String(40), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("model", String(100), nullable=True),
    Column("route", String(100), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("n", Integer, nullable=True),
    Column("delivered", Integer, nullable=False, default=0),
    Column("size", String(20), nullable=True),
    Column("quality", String(20), nullable=True),
    Column("status", Integer, nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("cost_micros", BigInteger, nullable=False, default=0),
    Column("unit_price_micros", BigInteger, nullable=False, default=0),
    Column("latency_ms", Integer, nullable=False),
    Column("user", String(256), nullable=True),
    Column("surface", String(16), nullable=False, server_default="images"),  # images | chat | responses | job | batch
    Column("created_at", DateTime(), nullable=False),
    Column("lost_images", Integer, nullable=False, server_default="0"),  # made upstream, never handed out
    Column("upstream_cost_micros", BigInteger, nullable=False, server_default="0"),  # what the upstream charged
    Column("upstream_cost_estimated", Boolean, nullable=False, server_default=false()),  # per-image figure, no usage
    Index("ix_usage_account_time", "account_id", "created_at"),
    Index("ix_usage_time", "created_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(40), primary_key=True),
    Column("mode", String(8), primary_key=True),  # the key mode: live and test never share a key space
    Column("key", String(255), primary_key=True),
    Column("body_hash", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("status", String(12), nullable=False),  # running | done
    Column("response_status", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("response_cost_micros", BigInteger, nullable=True),
    Column("locked_until", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("run_id", String(40), nullable=True),  # the gateway process running the first request
    Index("ix_idempotency_expiry", "expires_at"),
    Index("ix_idempotency_run", "run_id"),
)

node_runs = Table(
    "node_runs",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("node_id", String(255), nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("process_start", String(32), nullable=False),
    Column("started_at", DateTime(), nullable=False),
    Index("ix_node_runs_node", "node_id"),
)

# Async image jobs (`Prefer: respond-async`): what any node needs to run one after a restart.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("key_mode", String(8), nullable=False),  # live | test
    Column("currency", String(3), nullable=False),
    Column("request_id", String(64), nullable=False),  # the submit's: the hold's and the usage record's id
    Column("operation", String(12), nullable=False),  # a name in service.images.operations.OPERATIONS
    Column("payload", Text, nullable=False),  # the validated request as JSON (an edit's files: in the BlobStore)
    Column("hold_id", String(40), nullable=True),  # NULL: nothing held (test key, free model)
    Column("billable", Boolean, nullable=False),
    Column("held_unit_micros", BigInteger, nullable=False),
    Column("live_unit_micros", BigInteger, nullable=False),
    Column("price_overrides", Text, nullable=False),  # JSON: the price cards the hold was priced at
    Column("status", String(12), nullable=False),  # queued | running | completed | failed | cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_token", String(40), nullable=True),  # the claim that runs it now
    Column("lease_until", DateTime(), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("queue_expires_at", DateTime(), nullable=False),  # not started by then: failed, hold released
    Column("started_at", DateTime(), nullable=True),
    Column("finished_at", DateTime(), nullable=True),
    Column("notified_at", DateTime(), nullable=True),  # JobEvents told of the finished job
    Column("result", Text, nullable=True),  # the sync answer's body (JSON)
    Column("error", Text, nullable=True),  # the contract's error object (JSON)
    Column("surface", String(16), nullable=False, server_default="job"),  # job | batch (a batch's line)
    Index("ix_jobs_status_created", "status", "created_at"),
    Index("ix_jobs_account", "account_id", "created_at"),
)

# Every prompt the screening blocked or flagged, and every upstream safety refusal.
safety_events = Table(
    "safety_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("request_id", String(64), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("action", String(8), nullable=False),  # block | flag
    Column("stage", String(16), nullable=False),  # gateway | output | upstream
    Column("category", String(100), nullable=True),
    Column("code", String(40), nullable=True),  # prompt_blocked | output_blocked (blocks only)
    Column("prompt", Text, nullable=True),  # only with IMAGEGATE_AUDIT_PROMPTS=true
    Column("created_at", DateTime(), nullable=False),
    Index("ix_safety_events_time", "created_at"),
    Index("ix_safety_events_account_time", "account_id", "created_at"),
)

__all__ = [
    "accounts",
    "api_keys",
    "holds",
    "idempotency_keys",
    "jobs",
    "ledger_entries",
    "metadata",
    "node_runs",
    "price_cards",
    "safety_events",
    "usage_records",
]
