"""Tables. Every primary key starts with `tenant_id`; money is integer minor units + currency.

Changing a table here needs a migration in `store/migrations/versions/`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    FetchedValue,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from billing.store.types import ExactDecimal, UTCDateTime, json_column_type, key_string

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
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
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
    Column("clock_id", key_string(ID), nullable=True),  # simulation clock, fixed at creation
    # Day of month new monthly and yearly subscriptions align to (Kill Bill's account BCD);
    # 0: none.
    Column("bill_cycle_day", Integer, nullable=False, server_default="0"),
    # Tax facts of the buyer (ADR 0031): business or consumer, exemption certificates. Each
    # tax id in `tax_ids` carries its compact form, country and verification.
    Column("customer_type", String(16), nullable=False, server_default="consumer"),
    Column("tax_exemptions", json_column_type(), nullable=False, server_default=text("'[]'")),
)

# One key per (tenant, request_id) whatever the RPC: the same id on another RPC is refused,
# not a second key (ADR 0024). `method` says which RPC stored it.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("request_id", key_string(128), primary_key=True),
    Column("method", String(64), nullable=False),
    Column("body_hash", LargeBinary(32), nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("resource_name", String(128), nullable=False),
    Column("payload", json_column_type(), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    # The relay (ADR 0057, migration 0026): `shard` = crc32(tenant/resource) % RELAY_SHARDS,
    # so one claimer at a time relays an aggregate's events; `seq` is their commit order on
    # PostgreSQL (a sequence default; SQLite, one writer, orders by rowid and leaves it NULL);
    # `dead_letter` says why the broker refused the event (it then went to the dead-letter
    # exchange; published_at is set either way: it has left the outbox).
    Column("shard", Integer, nullable=False, server_default=text("0")),
    Column("seq", BigInteger, nullable=True),
    Column("dead_letter", String(32), nullable=True),
    Index(None, "published_at", "occurred_at"),
    Index(None, "shard", "published_at", "seq"),
)

# Append-only: triggers refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE (migration 0013,
# ADR 0024). Read newest first by id through ListAuditRecords.
audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("actor", String(256), nullable=False),
    Column("method", String(64), nullable=False),
    Column("request_id", key_string(128), nullable=False),
    # SHA-256 of the request with request_id cleared: the idempotency key's body hash.
    # NULL on records written before migration 0013.
    Column("request_digest", LargeBinary(32), nullable=True),
    Column("resource_name", key_string(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("changes", json_column_type(), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "resource_name", "id"),
)

# Rule sets are kept by content hash forever, so an old result can always be explained.
rule_sets = Table(
    "rule_sets",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("content_hash", key_string(64), primary_key=True),
    Column("files", json_column_type(), nullable=False),  # name -> UTF-8 text
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(256), nullable=False),
)

# One row per tenant: the version every billing transaction reads.
active_rule_sets = Table(
    "active_rule_sets",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("activated_at", UTCDateTime, nullable=False),
    Column("activated_by", String(256), nullable=False),
)

# Simulation clocks: "now" for the customers attached to them.
clocks = Table(
    "clocks",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("now", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("plan_code", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("items", json_column_type(), nullable=False),
    Column("anchor", UTCDateTime, nullable=False),
    Column("interval", String(8), nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("trial_end", UTCDateTime, nullable=True),
    Column("cancel_at", UTCDateTime, nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("canceled_at", UTCDateTime, nullable=True),
    Column("paused_at", UTCDateTime, nullable=True),
    Column("pending_change", json_column_type(), nullable=True),
    Column("term_end", UTCDateTime, nullable=True),
    Column("auto_renew", Boolean, nullable=False),
    Column("phases", json_column_type(), nullable=True),  # scheduled changes to come
    Column("discount", json_column_type(), nullable=True),  # coupon and periods left
    # How billing starts again after a trial: the requested anchor day (0: none), how the
    # first stub is charged, and the base subscription an add-on aligns to.
    Column("anchor_day", Integer, nullable=False, server_default="0"),
    Column("first_stub", String(8), nullable=False, server_default="prorate"),
    Column("base_subscription_id", key_string(ID), nullable=True),
    Column("clock_id", key_string(ID), nullable=True),
    Column("rule_set", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "customer_id"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("subscription_id", key_string(ID), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("billing_reason", String(32), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("credit_applied_minor", BigInteger, nullable=False),
    Column("amount_due_minor", BigInteger, nullable=False),
    Column("rule_set", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finalized_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("number", key_string(64), nullable=True),  # assigned at finalization, gapless
    Column("memo", String(1024), nullable=True),
    Column("paid_at", UTCDateTime, nullable=True),
    Column("voided_at", UTCDateTime, nullable=True),
    Column("uncollectible_at", UTCDateTime, nullable=True),
    Column("payment_reference", String(256), nullable=True),
    Column("credited_minor", BigInteger, nullable=True),  # by credit notes
    Column("due_at", UTCDateTime, nullable=True),  # send_invoice: from the net terms
    Column("coupon_code", String(64), nullable=True),  # applied to a draft by hand
    # Set by a finalize whose number is assigned at commit (PostgreSQL trigger, ADR 0014):
    # the number format with its year filled in, and the year's counter; cleared once numbered.
    Column("number_format", String(64), nullable=True),
    Column("number_year", Integer, nullable=True),
    # Paid so far by payments applied to it (ADR 0034); NULL on invoices from before: 0.
    Column("paid_minor", BigInteger, nullable=True),
    Index(None, "tenant_id", "customer_id"),
    Index(None, "tenant_id", "subscription_id"),
    UniqueConstraint("tenant_id", "number"),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("invoice_id", key_string(ID), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("description", String(512), nullable=False),
    Column("price_code", String(64), nullable=True),
    Column("quantity", String(40), nullable=False),  # decimal text: exact
    Column("unit_amount", String(40), nullable=False),
    Column("unrounded_amount", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("proration", Boolean, nullable=False),
    Column("proration_factor", String(64), nullable=False),
    Column("rule_set", String(64), nullable=False),
    Column("kind", String(32), nullable=True),  # a LineKind value: recurring, proration_credit...
    Column("derivation", json_column_type(), nullable=True),  # how the amount was reached
)

# Proration lines waiting for the subscription's next invoice.
pending_items = Table(
    "pending_items",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("subscription_id", key_string(ID), nullable=False),
    Column("line", json_column_type(), nullable=False),
    Column("rule_set", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("invoice_id", key_string(ID), nullable=True),  # set once invoiced
    Index(None, "tenant_id", "subscription_id", "invoice_id"),
)

# One row per invoiced cycle: inserting it first, ON CONFLICT DO NOTHING, is what makes a
# cycle invoiced once however often and by whomever its work runs.
billing_cycles = Table(
    "billing_cycles",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("subscription_id", key_string(ID), primary_key=True),
    Column("cycle_start", UTCDateTime, primary_key=True),
    Column("invoice_id", key_string(ID), nullable=True),
)

customer_credit = Table(
    "customer_credit",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("customer_id", key_string(ID), primary_key=True),
    Column("currency", key_string(3), primary_key=True),
    Column("balance_minor", BigInteger, nullable=False),
)

# Work with a due time (renewals, trial ends, cancellations, phases), claimed with a lease
# in wall time; `clock_id` null means real time.
due_work = Table(
    "due_work",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("kind", key_string(32), nullable=False),
    Column("subscription_id", key_string(ID), nullable=False),
    Column("clock_id", key_string(ID), nullable=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    # A failure's message (truncated) and, after the last attempt, when it was parked: a
    # parked item is claimed no more until an operator retries it (ADR 0021).
    Column("last_error", Text, nullable=True),
    Column("parked_at", UTCDateTime, nullable=True),
    UniqueConstraint("tenant_id", "subscription_id", "kind", "due_at"),
    Index(None, "tenant_id", "clock_id", "done_at"),
    # Open items of one clock in due order: what claiming for a clock walks.
    Index(
        "ix_due_work_open_by_clock",
        "tenant_id",
        "clock_id",
        "due_at",
        postgresql_where=text("done_at IS NULL"),
        sqlite_where=text("done_at IS NULL"),
    ),
    # Open real-time items in due order: what the claim's real-time walk reads, stopping at
    # the wall time (migration 0036; each clock's items are walked by the index above).
    Index(
        "ix_due_work_open_real_time",
        "due_at",
        postgresql_where=text("done_at IS NULL AND clock_id IS NULL"),
        sqlite_where=text("done_at IS NULL AND clock_id IS NULL"),
    ),
    # A subscription's open items by due time: the claim's check for an earlier unfinished
    # item of the same subscription probes one page of it (migration 0036).
    Index(
        "ix_due_work_open_by_subscription",
        "tenant_id",
        "subscription_id",
        "due_at",
        postgresql_where=text("done_at IS NULL"),
        sqlite_where=text("done_at IS NULL"),
    ),
    # Parked items by subscription: the few a run reports, and the later items they hold back.
    Index(
        "ix_due_work_parked",
        "tenant_id",
        "subscription_id",
        postgresql_where=text("parked_at IS NOT NULL"),
        sqlite_where=text("parked_at IS NOT NULL"),
    ),
    # Open items of a tenant by id: the operator's list (ADR 0058) pages through these
    # without walking the done items, which outnumber them by far (every renewal ever).
    Index(
        "ix_due_work_open",
        "tenant_id",
        "id",
        postgresql_where=text("done_at IS NULL"),
        sqlite_where=text("done_at IS NULL"),
    ),
)

# Metered events, append-only: corrections are rows of their own pointing at the original.
usage_events = Table(
    "usage_events",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(128), primary_key=True),  # the caller's event id
    Column("subscription_id", key_string(ID), nullable=False),
    Column("metric", key_string(64), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("properties", json_column_type(), nullable=False),
    Column("body_hash", LargeBinary(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("corrects", key_string(128), nullable=True),
    Column("correction", String(8), nullable=True),
    Index(None, "tenant_id", "subscription_id", "metric", "ts"),
    # Only corrections are looked up by what they correct: the others stay out of the index.
    Index(
        None,
        "tenant_id",
        "corrects",
        postgresql_where=text("corrects IS NOT NULL"),
        sqlite_where=text("corrects IS NOT NULL"),
    ),
)

# Usage events summed per UTC day as they are ingested (ADR 0013), so a period's count, sum
# or max reads O(days) rows. Each event adds to exactly one row: that of its day, the metric's
# definition when it came in (`spec`, a digest: field, filters, group_by) and its group
# (`group_key`, a digest of `group_values`; "" for events the filters leave out). Corrections
# add the difference they make; `peak_stale` marks a max a correction may have taken away.
usage_rollups = Table(
    "usage_rollups",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("subscription_id", key_string(ID), primary_key=True),
    Column("metric", key_string(64), primary_key=True),
    Column("bucket", UTCDateTime, primary_key=True),
    Column("spec", key_string(32), primary_key=True),
    Column("group_key", key_string(32), primary_key=True),
    Column("group_values", json_column_type(), nullable=True),
    Column("count", BigInteger, nullable=False),
    Column("total", ExactDecimal, nullable=True),  # sum of the field; NULL if none is read
    Column("peak", ExactDecimal, nullable=True),  # max of the field
    Column("peak_stale", Boolean, nullable=False),
)

# What each closed period's usage was billed at, so a late correction can be settled as an
# adjustment on the next invoice.
usage_billed = Table(
    "usage_billed",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("subscription_id", key_string(ID), primary_key=True),
    Column("period_start", UTCDateTime, primary_key=True),
    Column("price_code", key_string(64), primary_key=True),
    Column("period_end", UTCDateTime, nullable=False),
    Column("quantity", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("invoice_id", key_string(ID), nullable=False),
    Column("billed_at", UTCDateTime, nullable=False),
)

# Gapless numbering: one counter row per (tenant, series, year), bumped as the last statement
# of the finalizing transaction, so a rolled-back finalization never burns a number.
number_counters = Table(
    "number_counters",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("series", key_string(32), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

coupons = Table(
    "coupons",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("code", key_string(64), primary_key=True),
    Column("percent_off", String(16), nullable=True),  # decimal text
    Column("amount_off_minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("duration", String(16), nullable=False),  # once, repeating, forever
    Column("duration_periods", Integer, nullable=True),
    Column("plans", json_column_type(), nullable=False),  # empty: every plan
    Column("created_at", UTCDateTime, nullable=False),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("invoice_id", key_string(ID), nullable=False),
    Column("customer_id", key_string(ID), nullable=False),
    Column("number", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reason", String(256), nullable=False),
    Column("lines", json_column_type(), nullable=False),
    Column("applied_to", String(16), nullable=False),  # amount_due or credit_balance
    Column("created_at", UTCDateTime, nullable=False),
    # The tax part of the amount (ADR 0033), and per tax of the invoice what it reverses
    # (TaxAmounts as plain JSON); NULL on notes written before tax.
    Column("tax_minor", BigInteger, nullable=True),
    Column("taxes", json_column_type(), nullable=True),
    # The part of the amount put on the customer's credit balance (ADR 0041): what refunds
    # tied to the note may pay out. NULL on notes written before it.
    Column("to_credit_minor", BigInteger, nullable=True),
    Index(None, "tenant_id", "invoice_id"),
)

# The tax ledger (ADR 0033): one row per tax of a finalized invoice, and the reversing rows of
# its credit notes and its void, written in the transaction of the event. Append-only; what a
# tax return needs is sums of it over a period of `tax_point`. Amounts are signed: a credit
# note's or a void's rows are negative.
tax_ledger = Table(
    "tax_ledger",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("source_kind", key_string(16), primary_key=True),  # invoice, credit_note, void
    Column("source_id", key_string(ID), primary_key=True),  # the invoice or the credit note
    Column("seq", Integer, primary_key=True),  # the tax's position on the invoice
    Column("invoice_id", key_string(ID), nullable=False),
    Column("customer_id", key_string(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("jurisdiction", String(32), nullable=False),
    Column("tax_name", String(64), nullable=False),
    Column("treatment", String(16), nullable=False),
    Column("rate_name", String(64), nullable=False),
    Column("percent", String(16), nullable=False),  # decimal text, normalized: "19", "5.5"
    Column("taxable_minor", BigInteger, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    Column("tax_point", Date, nullable=False),  # the day the row counts on in a return
    Column("occurred_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "tax_point"),
)

# --- payments (ADR 0034) --------------------------------------------------------------------

# A method tokenized at a gateway. The token is ciphertext (`billing.store.crypto` envelope:
# key id, nonce, AES-GCM): a key rotates by re-encrypting rows, never by a schema change.
payment_methods = Table(
    "payment_methods",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("gateway", String(64), nullable=False),
    Column("token_ciphertext", String(1024), nullable=False),
    Column("key_id", key_string(32), nullable=False),  # the key it is encrypted under
    Column("type", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("brand", String(32), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("exp_month", Integer, nullable=False),
    Column("exp_year", Integer, nullable=False),
    Column("country", String(2), nullable=False),
    Column("billing_country", String(2), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("detached_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Index(None, "tenant_id", "customer_id"),
)

# A subscription's own default method, charged before the customer's.
subscription_payment_methods = Table(
    "subscription_payment_methods",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("subscription_id", key_string(ID), primary_key=True),
    Column("payment_method_id", key_string(ID), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

payment_attempts = Table(
    "payment_attempts",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("invoice_id", key_string(ID), nullable=True),
    Column("payment_method_id", key_string(ID), nullable=False),
    Column("gateway", key_string(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", key_string(160), nullable=False),
    Column("gateway_reference", key_string(128), nullable=False),
    Column("decline_code", String(32), nullable=False),
    Column("failure_message", String(512), nullable=False),
    Column("action_url", String(1024), nullable=False),
    Column("fraud_outcome", String(8), nullable=False),
    Column("fraud_reasons", json_column_type(), nullable=False),
    Column("source", String(32), nullable=False),
    Column("lookups", Integer, nullable=False),
    Column("request_id", key_string(128), nullable=False),
    Column("payment_id", key_string(ID), nullable=True),  # once succeeded
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "idempotency_key"),
    Index(None, "tenant_id", "invoice_id"),
    Index(None, "tenant_id", "customer_id", "created_at"),
    Index(None, "tenant_id", "payment_method_id", "created_at"),
    Index(None, "tenant_id", "gateway", "gateway_reference"),
)

# Money received. amount = sum(its allocations) + to_credit_minor.
payments = Table(
    "payments",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("source", String(16), nullable=False),  # gateway, manual
    Column("attempt_id", key_string(ID), nullable=True),
    Column("reference", String(256), nullable=False),
    Column("method", String(32), nullable=False),
    Column("to_credit_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("disputed_minor", BigInteger, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "tenant_id", "customer_id"),
    UniqueConstraint("tenant_id", "attempt_id"),  # one payment per succeeded attempt, ever
)

payment_allocations = Table(
    "payment_allocations",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("payment_id", key_string(ID), primary_key=True),
    Column("invoice_id", key_string(ID), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    Index(None, "tenant_id", "invoice_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("payment_id", key_string(ID), nullable=False),
    Column("attempt_id", key_string(ID), nullable=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", key_string(160), nullable=False),
    Column("reason", String(256), nullable=False),
    Column("credit_note_id", key_string(ID), nullable=True),
    Column("gateway_reference", String(128), nullable=False),
    Column("failure_message", String(512), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "idempotency_key"),
    Index(None, "tenant_id", "payment_id"),
)

disputes = Table(
    "disputes",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("payment_id", key_string(ID), nullable=False),
    Column("attempt_id", key_string(ID), nullable=False),
    Column("customer_id", key_string(ID), nullable=False),
    Column("gateway", key_string(64), nullable=False),
    Column("gateway_dispute_id", key_string(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(8), nullable=False),
    Column("reason", String(128), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "gateway", "gateway_dispute_id"),
    Index(None, "tenant_id", "customer_id"),
)

# Webhook events applied, once each: the primary key is the duplicate check.
gateway_events = Table(
    "gateway_events",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("gateway", key_string(64), primary_key=True),
    Column("event_id", key_string(128), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("outcome", String(512), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

# A gateway's credentials as one encrypted JSON object (`billing.store.crypto` envelope).
gateway_credentials = Table(
    "gateway_credentials",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("gateway", key_string(64), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("key_id", key_string(32), nullable=False),
    Column("names", json_column_type(), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

# Dunning (ADR 0043): one case per unpaid invoice whose automatic collection failed; its
# timeline is computed from the policy, and only how far it has gone is stored.
dunning_cases = Table(
    "dunning_cases",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("invoice_id", key_string(ID), nullable=False),
    Column("subscription_id", key_string(ID), nullable=True),
    Column("clock_id", key_string(ID), nullable=True),
    Column("policy", String(200), nullable=False),
    Column("rule_set", String(64), nullable=False),
    Column("status", key_string(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("retries_done", Integer, nullable=False),
    Column("steps_done", Integer, nullable=False),
    Column("retries_stopped", Boolean, nullable=False),
    Column("decline_code", String(64), nullable=False),
    Column("first_decline_code", String(64), nullable=False),
    Column("shift_us", BigInteger, nullable=False),  # time paused, in microseconds
    Column("paused_at", UTCDateTime, nullable=True),
    Column("suspended", Boolean, nullable=False),
    Column("next_at", UTCDateTime, nullable=True),
    Column("recovered_minor", BigInteger, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("timeline", json_column_type(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "invoice_id"),
    Index(None, "tenant_id", "customer_id"),
    Index(None, "tenant_id", "status"),
)

# Finance's hold on a customer's dunning (PauseDunning): open cases are paused, and a case
# opened while the hold stands opens paused.
dunning_holds = Table(
    "dunning_holds",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("customer_id", key_string(ID), primary_key=True),
    Column("reason", String(500), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("held_at", UTCDateTime, nullable=False),
)

# --- the journal (ADR 0051, migration 0020) ----------------------------------------------------
# Append-only: entries and lines are inserted, never updated or deleted. A line repeats its
# entry's currency and instant so a trial balance at an instant is one indexed grouped read.
journal_entries = Table(
    "journal_entries",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("source", key_string(120), nullable=False),
    Column("posted_at", UTCDateTime, nullable=False),
    Column("period", key_string(7), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("customer_id", key_string(ID), nullable=True),
    Column("memo", String(500), nullable=False),
    Column("adjusts", String(ID), nullable=True),
    Column("reporting_currency", String(3), nullable=False),
    Index(None, "tenant_id", "posted_at"),
    Index(None, "tenant_id", "source"),
    Index(None, "tenant_id", "period"),
)

journal_lines = Table(
    "journal_lines",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("entry_id", key_string(ID), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("account", key_string(120), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("debit_minor", BigInteger, nullable=False),
    Column("credit_minor", BigInteger, nullable=False),
    Column("reporting_debit_minor", BigInteger, nullable=True),
    Column("reporting_credit_minor", BigInteger, nullable=True),
    Column("posted_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "account", "posted_at"),
    Index(None, "tenant_id", "posted_at"),
)

# Each entry's place in its tenant's hash chain; written once by the sealing due work, for
# entries old enough that no transaction that could still commit is older (ADR 0051).
journal_seals = Table(
    "journal_seals",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("entry_id", key_string(ID), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("sealed_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "entry_id"),
)

# --- accounting periods (ADR 0053, migration 0021) ---------------------------------------------
# A tenant's books are closed through a period (YYYY-MM, the seller's months): that period and
# every earlier one never change again; late postings land in the first open one.
ledger_books = Table(
    "ledger_books",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("closed_through", String(7), nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("closed_by", String(256), nullable=False),
)

# --- recognition schedules (ADR 0054, migration 0022) ------------------------------------------
# One performance obligation of one invoice: its (allocated) amount earned over its service
# instants; `recognized_minor` rises as recognition posts; status active, done or void.
revenue_schedules = Table(
    "revenue_schedules",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("invoice_id", key_string(ID), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("customer_id", key_string(ID), nullable=False),
    Column("product_line", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("recognized_minor", BigInteger, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("allocation", Text, nullable=False),  # JSON: SSP weight, list and allocated amounts
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "invoice_id"),
)

# --- MRR (ADR 0055, migration 0023) ------------------------------------------------------------
# Maintained as subscriptions change, never scanned: each subscription's contribution, each
# customer's total (and whether it ever had MRR, for reactivations), every movement, and the
# tenant's total in MRR_SHARDS rows per currency so concurrent writers do not queue on one.
mrr_subscriptions = Table(
    "mrr_subscriptions",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("subscription_id", key_string(ID), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("mrr_minor", BigInteger, nullable=False),
)
mrr_customers = Table(
    "mrr_customers",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("customer_id", key_string(ID), primary_key=True),
    Column("currency", key_string(3), primary_key=True),
    Column("mrr_minor", BigInteger, nullable=False),
)
mrr_movements = Table(
    "mrr_movements",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("customer_id", key_string(ID), nullable=False),
    Column("subscription_id", key_string(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("delta_minor", BigInteger, nullable=False),
    Index(None, "tenant_id", "occurred_at"),
)
mrr_totals = Table(
    "mrr_totals",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("currency", key_string(3), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("mrr_minor", BigInteger, nullable=False),
    # customers with MRR (migration 0032): +1 on a new or reactivated one, -1 on a churn
    Column("customers", BigInteger, nullable=False, server_default="0"),
)
# Each UTC day's net movement, sharded as the totals (ADR 0055, migration 0031): MRR at an
# instant is the total less the days after it and the movements left in its own day.
mrr_days = Table(
    "mrr_days",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("day_start", UTCDateTime, primary_key=True),
    Column("currency", key_string(3), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("delta_minor", BigInteger, nullable=False),
    Column("customers_delta", BigInteger, nullable=False, server_default="0"),  # 0032
)

# --- receivables / postings (ADR 0051, migration 0024) -----------------------------------------

# --- outbox relay and event stream (issue 18, ADR 0057, migration 0025) -----------------------

# One row per relay shard (migration 0026 seeds them): a relay claims a shard with
# FOR UPDATE SKIP LOCKED for one batch, so an aggregate's events have one publisher at a time.
outbox_relay_shards = Table(
    "outbox_relay_shards",
    metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("relayed_at", UTCDateTime, nullable=True),  # last batch: claims rotate oldest first
)

# --- cancellations with their reasons (issue 18, migration 0029) -------------------------------
# Customer Experience's record of why customers leave: one row per CancelSubscription, with
# the MRR that leaves with it; a reactivation before it takes effect withdraws it.
cancellations = Table(
    "cancellations",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("id", key_string(ID), primary_key=True),
    Column("subscription_id", key_string(ID), nullable=False),
    Column("customer_id", key_string(ID), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("feedback", Text, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("effective_at", UTCDateTime, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("mrr_minor", BigInteger, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Index(None, "tenant_id", "requested_at"),
    Index(None, "tenant_id", "subscription_id"),
)

# --- Sales contracts (issue 18, migration 0030) ------------------------------------------------
# A deal as last applied: its revision, the hash of that revision's terms (a resend with other
# terms is refused), and its lines with the subscription billing each.
contracts = Table(
    "contracts",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("deal_id", key_string(128), primary_key=True),
    Column("customer_id", key_string(ID), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("terms", json_column_type(), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- invoice delivery, exactly once as far as SMTP allows (ADR 0058, migration 0027) ----------

# One row per emailed invoice, written (state `sending`, with its Message-ID and Date) and
# committed before the SMTP conversation, and set `sent` in the delivery item's transaction:
# a retry finding `sending` sends the very same message again, never a new one.
invoice_deliveries = Table(
    "invoice_deliveries",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("invoice_id", key_string(ID), primary_key=True),
    Column("message_id", key_string(255), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("sends", Integer, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
)

# --- event stream: WatchEvents' cursor (issue 18, ADR 0059, migration 0028) --------------------
# The stream's order is (stream_xid, stream_seq). PostgreSQL fills both: the writing
# transaction's id (pg_current_xact_id) and an identity; SQLite keeps stream_xid 0 and a
# trigger numbers rows from event_stream_counter (one writer: numbers commit in order).
# Declared as FetchedValue: the database fills them, no INSERT names them.
outbox_events.append_column(
    Column("stream_xid", BigInteger, nullable=False, server_default=FetchedValue())
)
outbox_events.append_column(
    Column("stream_seq", BigInteger, nullable=False, server_default=FetchedValue())
)
Index(
    "ix_outbox_events_stream",
    outbox_events.c.tenant_id,
    outbox_events.c.stream_xid,
    outbox_events.c.stream_seq,
)
# Events at or before (floor_xid, floor_seq) may have been pruned: a cursor below it is
# refused (OUT_OF_RANGE, CURSOR_EXPIRED). No row: nothing pruned yet.
event_stream_floors = Table(
    "event_stream_floors",
    metadata,
    Column("tenant_id", key_string(TENANT), primary_key=True),
    Column("floor_xid", BigInteger, nullable=False),
    Column("floor_seq", BigInteger, nullable=False),
)
# SQLite only: the last stream_seq handed out (one row). PostgreSQL uses the identity.
event_stream_counter = Table(
    "event_stream_counter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last", BigInteger, nullable=False),
)
