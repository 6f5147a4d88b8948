"""The schema. Money columns are BigInteger micro-units; nothing here is a float."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("balance_micros", BigInteger, nullable=False, default=0),
    Column("held_micros", BigInteger, nullable=False, default=0),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
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
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("ipm", Integer, nullable=True),
)

holds = Table(
    "holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("amount_micros", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),  # open | settled | released
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_holds_open", "status", "expires_at"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(12), nullable=False),  # topup | capture | adjustment
    Column("amount_micros", BigInteger, nullable=False),  # signed change of the balance
    Column("reason", Text, nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

price_cards = Table(
    "price_cards",
    metadata,
    Column("model", String(100), primary_key=True),
    Column("quality", String(20), primary_key=True),
    Column("size", String(20), primary_key=True),
    Column("micros", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_usage_account_time", "account_id", "created_at"),
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
    Column("stage", String(16), nullable=False),  # gateway | upstream
    Column("category", String(100), nullable=True),
    Column("code", String(40), nullable=True),  # prompt_blocked | output_blocked (blocks only)
    Column("prompt", Text, nullable=True),  # only with IMAGEGATE_AUDIT_PROMPTS=true
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_safety_events_time", "created_at"),
    Index("ix_safety_events_account_time", "account_id", "created_at"),
)

__all__ = [
    "accounts",
    "api_keys",
    "holds",
    "ledger_entries",
    "metadata",
    "price_cards",
    "safety_events",
    "usage_records",
]
