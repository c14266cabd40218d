"""Tables. Every primary key starts with `tenant_id`; money is integer minor units + currency.

Changing a table here needs a migration in `store/migrations/versions/`.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table

from billing.store.types import UTCDateTime, json_column_type

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

TENANT = 64  # tenant ids come from tokens; bounded so keys stay small
ID = 40  # prefix + "_" + 26-char ULID, with room

customers = Table(
    "customers",
    metadata,
    Column("tenant_id", String(TENANT), primary_key=True),
    Column("id", String(ID), primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("email", String(254), nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("billing_address", json_column_type(), nullable=False),
    Column("tax_ids", json_column_type(), nullable=False),
    Column("metadata", json_column_type(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
    Column("update_time", UTCDateTime, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", String(TENANT), primary_key=True),
    Column("method", String(64), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("body_hash", LargeBinary(32), nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("tenant_id", String(TENANT), primary_key=True),
    Column("id", String(ID), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("resource_name", String(128), nullable=False),
    Column("payload", json_column_type(), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    Index(None, "published_at", "occurred_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant_id", String(TENANT), primary_key=True),
    Column("id", String(ID), primary_key=True),
    Column("actor", String(256), nullable=False),
    Column("method", String(64), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("resource_name", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("changes", json_column_type(), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "resource_name"),
)

# Rule sets are kept by content hash forever, so an old result can always be explained.
rule_sets = Table(
    "rule_sets",
    metadata,
    Column("tenant_id", String(TENANT), primary_key=True),
    Column("content_hash", String(64), primary_key=True),
    Column("files", json_column_type(), nullable=False),  # name -> UTF-8 text
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(256), nullable=False),
)

# One row per tenant: the version every billing transaction reads.
active_rule_sets = Table(
    "active_rule_sets",
    metadata,
    Column("tenant_id", String(TENANT), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("activated_at", UTCDateTime, nullable=False),
    Column("activated_by", String(256), nullable=False),
)
