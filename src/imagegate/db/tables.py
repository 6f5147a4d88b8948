"""The schema: every table, here and nowhere else, so `metadata` (what the migrations compare against)
holds them all. Money columns are BigInteger micro-units; nothing here is a float."""

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


# An account's budget and alert settings (absent: none of them).
account_budgets = Table(
    "account_budgets",
    metadata,
    Column("account_id", String(40), ForeignKey("accounts.id"), primary_key=True),
    Column("user_budget_micros", BigInteger, nullable=True),  # each end user's, per period
    Column("user_budget_period", String(8), nullable=True),  # day | month
    Column("low_balance_micros", BigInteger, nullable=True),  # account.balance_low below this
    Column("low_balance_alerted", Boolean, nullable=False, default=False, server_default=false()),
    Column("webhook_url", String(2048), nullable=True),  # where the account's alerts go
    Column("webhook_version", Integer, nullable=False, default=0, server_default="0"),  # of the derived secret
)

budget_spend = Table(
    "budget_spend",
    metadata,
    Column("id", String(40), primary_key=True),  # domain.budgets.BudgetClaim.spend_id
    Column("account_id", String(40), nullable=False),
    Column("scope", String(8), nullable=False),  # key | user
    Column("subject", String(64), nullable=False),  # the key id, or a digest of the end user's id
    Column("period", String(8), nullable=False),  # day | month
    Column("period_start", DateTime(), nullable=False),
    Column("budget_micros", BigInteger, nullable=False),  # the budget the last hold was checked against
    Column("spent_micros", BigInteger, nullable=False, default=0),
    Column("held_micros", BigInteger, nullable=False, default=0),
    Column("reached_at", DateTime(), nullable=True),  # key.budget_reached sent (once per period)
    Index("ix_budget_spend_subject", "account_id", "scope", "subject", "period_start"),
)

budget_holds = Table(
    "budget_holds",
    metadata,
    Column("hold_id", String(40), primary_key=True),
    Column("spend_id", String(40), primary_key=True),
    Index("ix_budget_holds_spend", "spend_id"),
)


# The stored images (db/images.py). Its search index is not here: PostgreSQL's generated `search`
# column and SQLite's FTS5 table `images_fts` are dialect-specific and made by migration 0014.
images = Table(
    "images",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), nullable=False),
    Column("ext", String(8), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # unix seconds: the URL's expiry
    Column("request_id", String(40), nullable=True),  # what made it, for the account page
    Column("model", String(64), nullable=True),
    Column("size", String(16), nullable=True),
    # the library's facts (NULL on images stored before migration 0014)
    Column("created_at", BigInteger, nullable=True),  # unix seconds, the answer's `created`
    Column("prompt", Text, nullable=True),  # kept for the image's lifetime only, deleted with it
    Column("revised_prompt", Text, nullable=True),
    Column("quality", String(16), nullable=True),
    Column("cost_micros", BigInteger, nullable=True),  # what this image cost (per image)
    Column("surface", String(16), nullable=True),  # images | chat | job | batch
    Column("thumbnail", Boolean, nullable=False, default=False, server_default="0"),  # `<id>.thumb.webp` stored
    Column("search_rowid", BigInteger, nullable=True),  # SQLite: the image's row in images_fts
    Index("ix_images_account_id", "account_id", "id"),
    Index("ix_images_expires", "expires_at"),
)


# The webhook outbox (db/webhooks.py): one row per message (job id x status), one per attempt.
webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", String(40), primary_key=True),  # msg_…, derived from (job id, status): one per event
    Column("account_id", String(40), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("body", Text, nullable=False),  # the exact JSON sent (and signed) on every attempt
    Column("status", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("next_attempt_at", DateTime(), nullable=False),
    Column("claim", String(40), nullable=True),  # the delivery loop holding it until next_attempt_at
    Column("first_attempt_at", DateTime(), nullable=True),
    Column("last_attempt_at", DateTime(), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("finished_at", DateTime(), nullable=True),
    Index("ix_webhook_messages_due", "status", "next_attempt_at"),
    Index("ix_webhook_messages_account", "account_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("message_id", String(40), primary_key=True),
    Column("attempt", Integer, primary_key=True),  # 1, 2, …
    Column("url", String(2048), nullable=True),
    Column("status_code", Integer, nullable=True),  # the receiver's answer, or NULL when there was none
    Column("error", String(500), nullable=True),  # the detail, for the operator
    Column("duration_ms", Integer, nullable=False),
    Column("attempted_at", DateTime(), nullable=False),
    Column("reason", String(200), nullable=True),  # the coarse reason the account is shown
)


# The Batch API (db/batches.py): uploaded files, batches, and each batch's lines with the job that ran each.
batch_files = Table(
    "batch_files",
    metadata,
    Column("id", String(40), primary_key=True),  # file-…
    Column("account_id", String(40), nullable=False),
    Column("purpose", String(16), nullable=False),  # batch (uploaded) | batch_output (written by a batch)
    Column("filename", String(255), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Index("ix_batch_files_account", "account_id", "id"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(40), primary_key=True),  # batch_…
    Column("account_id", String(40), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("key_mode", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("endpoint", String(32), nullable=False),
    Column("input_file_id", String(40), nullable=False),
    Column("completion_window", String(8), nullable=False),
    Column("status", String(12), nullable=False),
    Column("metadata", Text, nullable=True),  # JSON object of strings
    Column("prices", Text, nullable=False),  # JSON: the batch price cards fixed at submit
    Column("quote_micros", BigInteger, nullable=False),
    Column("total", Integer, nullable=False),
    Column("output_file_id", String(40), nullable=True),
    Column("error_file_id", String(40), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("in_progress_at", DateTime(), nullable=True),
    Column("expires_at", DateTime(), nullable=False),
    Column("finalizing_at", DateTime(), nullable=True),
    Column("completed_at", DateTime(), nullable=True),
    Column("failed_at", DateTime(), nullable=True),
    Column("expired_at", DateTime(), nullable=True),
    Column("cancelling_at", DateTime(), nullable=True),
    Column("cancelled_at", DateTime(), nullable=True),
    Column("notified_at", DateTime(), nullable=True),
    Column("lease_until", DateTime(), nullable=True),
    Index("ix_batches_account", "account_id", "id"),
    Index("ix_batches_status", "status"),
)

batch_lines = Table(
    "batch_lines",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("line", Integer, primary_key=True),  # 1-based line of the input file
    Column("custom_id", Text, nullable=False),
    Column("body", Text, nullable=False),  # the request's JSON body
    Column("status", String(12), nullable=False),
    Column("job_id", String(40), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("status_code", Integer, nullable=True),
    Column("result", Text, nullable=True),  # JSON: the answer's body, or the error object
    Column("moved_at", DateTime(), nullable=True),  # when its status last changed
    Index("ix_batch_lines_status", "batch_id", "status"),
    Index("ix_batch_lines_job", "job_id"),
)


# Responses API answers kept for `GET /v1/responses/{id}` and `previous_response_id` (db/responses.py).
responses = Table(
    "responses",
    metadata,
    Column("id", String(40), primary_key=True),  # resp_…
    Column("account_id", String(40), nullable=False),
    Column("item_id", String(40), nullable=False),  # its image_generation_call (ig_…): the image's key
    Column("body", Text, nullable=False),  # the Response object as JSON, the image's base64 left out
    Column("created_at", BigInteger, nullable=False),  # unix seconds
    Column("expires_at", BigInteger, nullable=False),  # unix seconds: swept after
    Index("ix_responses_expires", "expires_at"),
    Index("ix_responses_account", "account_id"),
)


# The model pages' examples gallery (db/samples.py).
samples = Table(
    "samples",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("model", String(100), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("params", Text, nullable=False),  # JSON object: the request's other fields (size, quality, …)
    Column("ext", String(8), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("source", String(64), nullable=True),  # the stored image it was copied from, if any
    Column("created_at", DateTime(), nullable=False),
    Index("ix_samples_model", "model", "created_at"),
)


# Admin browser sessions ended by logout (db/admin_sessions.py), kept until they would have expired.
revoked_admin_sessions = Table(
    "revoked_admin_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # the session's random id (its cookie's nonce)
    Column("expires_at", DateTime(), nullable=False),  # the session's own expiry: kept until then
    Index("ix_revoked_admin_sessions_expiry", "expires_at"),
)


__all__ = [
    "DateTime",
    "account_budgets",
    "accounts",
    "api_keys",
    "batch_files",
    "batch_lines",
    "batches",
    "budget_holds",
    "budget_spend",
    "holds",
    "idempotency_keys",
    "images",
    "jobs",
    "ledger_entries",
    "metadata",
    "node_runs",
    "price_cards",
    "responses",
    "revoked_admin_sessions",
    "safety_events",
    "samples",
    "upstream_cost_overrides",
    "usage_records",
    "webhook_attempts",
    "webhook_messages",
]
