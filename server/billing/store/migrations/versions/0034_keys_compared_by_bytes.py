"""Ids and codes in keys compared byte by byte on PostgreSQL (issue 12, ADR 0074). Under the
database's collation (`C.UTF-8` here, often `en_US.UTF-8`) every btree comparison of a text key
goes through `strcoll`: about a quarter of PostgreSQL's CPU while ingesting usage. `COLLATE "C"`
compares bytes, the order SQLite's BINARY collation already gives. Every varchar column in a
primary key, index or unique constraint, and every `id` / `*_id` column (so joins between them
compare alike), as store/schema.py declares with `key_string`. One ALTER TABLE per table, so each
table's indexes are rebuilt once; the rows are not rewritten (same type). The invoice-numbering
trigger (0010) names `invoices.number`, so it is dropped and made again around the change, in
the same transaction. SQLite: nothing to do.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 19:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

# The columns as the schema had them at 0033: (name, varchar length), by table.
KEY_COLUMNS: dict[str, tuple[tuple[str, int], ...]] = {
    "active_rule_sets": (("tenant_id", 64),),
    "audit_log": (("tenant_id", 64), ("id", 40), ("request_id", 128), ("resource_name", 128)),
    "billing_cycles": (("tenant_id", 64), ("subscription_id", 40), ("invoice_id", 40)),
    "cancellations": (("tenant_id", 64), ("id", 40), ("subscription_id", 40), ("customer_id", 40)),
    "clocks": (("tenant_id", 64), ("id", 40)),
    "contracts": (("tenant_id", 64), ("deal_id", 128), ("customer_id", 40)),
    "coupons": (("tenant_id", 64), ("code", 64)),
    "credit_notes": (("tenant_id", 64), ("id", 40), ("invoice_id", 40), ("customer_id", 40)),
    "customer_credit": (("tenant_id", 64), ("customer_id", 40), ("currency", 3)),
    "customers": (("tenant_id", 64), ("id", 40), ("clock_id", 40)),
    "disputes": (
        ("tenant_id", 64),
        ("id", 40),
        ("payment_id", 40),
        ("attempt_id", 40),
        ("customer_id", 40),
        ("gateway", 64),
        ("gateway_dispute_id", 128),
    ),
    "due_work": (
        ("tenant_id", 64),
        ("id", 40),
        ("kind", 32),
        ("subscription_id", 40),
        ("clock_id", 40),
    ),
    "dunning_cases": (
        ("tenant_id", 64),
        ("id", 40),
        ("customer_id", 40),
        ("invoice_id", 40),
        ("subscription_id", 40),
        ("clock_id", 40),
        ("status", 16),
    ),
    "dunning_holds": (("tenant_id", 64), ("customer_id", 40)),
    "event_stream_floors": (("tenant_id", 64),),
    "gateway_credentials": (("tenant_id", 64), ("gateway", 64), ("key_id", 32)),
    "gateway_events": (("tenant_id", 64), ("gateway", 64), ("event_id", 128)),
    "idempotency_keys": (("tenant_id", 64), ("request_id", 128)),
    "invoice_deliveries": (("tenant_id", 64), ("invoice_id", 40), ("message_id", 255)),
    "invoice_lines": (("tenant_id", 64), ("invoice_id", 40)),
    "invoices": (
        ("tenant_id", 64),
        ("id", 40),
        ("customer_id", 40),
        ("subscription_id", 40),
        ("number", 64),
    ),
    "journal_entries": (
        ("tenant_id", 64),
        ("id", 40),
        ("source", 120),
        ("period", 7),
        ("customer_id", 40),
    ),
    "journal_lines": (("tenant_id", 64), ("entry_id", 40), ("account", 120)),
    "journal_seals": (("tenant_id", 64), ("entry_id", 40)),
    "ledger_books": (("tenant_id", 64),),
    "mrr_customers": (("tenant_id", 64), ("customer_id", 40), ("currency", 3)),
    "mrr_days": (("tenant_id", 64), ("currency", 3)),
    "mrr_movements": (("tenant_id", 64), ("id", 40), ("customer_id", 40), ("subscription_id", 40)),
    "mrr_subscriptions": (("tenant_id", 64), ("subscription_id", 40), ("customer_id", 40)),
    "mrr_totals": (("tenant_id", 64), ("currency", 3)),
    "number_counters": (("tenant_id", 64), ("series", 32)),
    "outbox_events": (("tenant_id", 64), ("id", 40)),
    "payment_allocations": (("tenant_id", 64), ("payment_id", 40), ("invoice_id", 40)),
    "payment_attempts": (
        ("tenant_id", 64),
        ("id", 40),
        ("customer_id", 40),
        ("invoice_id", 40),
        ("payment_method_id", 40),
        ("gateway", 64),
        ("idempotency_key", 160),
        ("gateway_reference", 128),
        ("request_id", 128),
        ("payment_id", 40),
    ),
    "payment_methods": (("tenant_id", 64), ("id", 40), ("customer_id", 40), ("key_id", 32)),
    "payments": (("tenant_id", 64), ("id", 40), ("customer_id", 40), ("attempt_id", 40)),
    "pending_items": (("tenant_id", 64), ("id", 40), ("subscription_id", 40), ("invoice_id", 40)),
    "refunds": (
        ("tenant_id", 64),
        ("id", 40),
        ("payment_id", 40),
        ("attempt_id", 40),
        ("customer_id", 40),
        ("idempotency_key", 160),
        ("credit_note_id", 40),
    ),
    "revenue_schedules": (("tenant_id", 64), ("id", 40), ("invoice_id", 40), ("customer_id", 40)),
    "rule_sets": (("tenant_id", 64), ("content_hash", 64)),
    "subscription_payment_methods": (
        ("tenant_id", 64),
        ("subscription_id", 40),
        ("payment_method_id", 40),
    ),
    "subscriptions": (
        ("tenant_id", 64),
        ("id", 40),
        ("customer_id", 40),
        ("base_subscription_id", 40),
        ("clock_id", 40),
    ),
    "tax_ledger": (
        ("tenant_id", 64),
        ("source_kind", 16),
        ("source_id", 40),
        ("invoice_id", 40),
        ("customer_id", 40),
    ),
    "usage_billed": (
        ("tenant_id", 64),
        ("subscription_id", 40),
        ("price_code", 64),
        ("invoice_id", 40),
    ),
    "usage_events": (
        ("tenant_id", 64),
        ("id", 128),
        ("subscription_id", 40),
        ("metric", 64),
        ("corrects", 128),
    ),
    "usage_rollups": (
        ("tenant_id", 64),
        ("subscription_id", 40),
        ("metric", 64),
        ("spec", 32),
        ("group_key", 32),
    ),
}

# 0010's trigger as it stands; PostgreSQL will not change a column a trigger's WHEN names.
_NUMBERING_TRIGGER = """
CREATE CONSTRAINT TRIGGER invoices_number_at_commit
AFTER INSERT OR UPDATE OF number_format ON invoices
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.number IS NULL AND NEW.number_format IS NOT NULL)
EXECUTE FUNCTION billing_number_invoice()
"""


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER invoices_number_at_commit ON invoices")
    for table, columns in KEY_COLUMNS.items():
        changes = ", ".join(
            f'ALTER COLUMN "{name}" TYPE varchar({length}) COLLATE "{collation}"'
            for name, length in columns
        )
        op.execute(f'ALTER TABLE "{table}" {changes}')
    op.execute(_NUMBERING_TRIGGER)


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
