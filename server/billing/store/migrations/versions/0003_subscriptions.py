"""Subscriptions, invoices, billing cycles, pending items, due work, clocks, credit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 14:32:52.804596
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_cycles",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("cycle_start", UTCDateTime(), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "subscription_id", "cycle_start", name=op.f("pk_billing_cycles")
        ),
    )
    op.create_table(
        "clocks",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("now", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_clocks")),
    )
    op.create_table(
        "customer_credit",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "currency", name=op.f("pk_customer_credit")
        ),
    )
    op.create_table(
        "due_work",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("clock_id", sa.String(length=40), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_due_work")),
        sa.UniqueConstraint(
            "tenant_id",
            "subscription_id",
            "kind",
            "due_at",
            name=op.f("uq_due_work_tenant_id_subscription_id_kind_due_at"),
        ),
    )
    with op.batch_alter_table("due_work", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_due_work_done_at_due_at"), ["done_at", "due_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_due_work_tenant_id_clock_id_done_at"),
            ["tenant_id", "clock_id", "done_at"],
            unique=False,
        )

    op.create_table(
        "invoice_lines",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=False),
        sa.Column("price_code", sa.String(length=64), nullable=True),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column("unit_amount", sa.String(length=40), nullable=False),
        sa.Column("unrounded_amount", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("proration", sa.Boolean(), nullable=False),
        sa.Column("proration_factor", sa.String(length=64), nullable=False),
        sa.Column("rule_set", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "invoice_id", "line_no", name=op.f("pk_invoice_lines")
        ),
    )
    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("billing_reason", sa.String(length=32), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_applied_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_due_minor", sa.BigInteger(), nullable=False),
        sa.Column("rule_set", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finalized_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoices")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoices_tenant_id_customer_id"),
            ["tenant_id", "customer_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_invoices_tenant_id_subscription_id"),
            ["tenant_id", "subscription_id"],
            unique=False,
        )

    op.create_table(
        "pending_items",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("line", json_column_type(), nullable=False),
        sa.Column("rule_set", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_pending_items")),
    )
    with op.batch_alter_table("pending_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_items_tenant_id_subscription_id_invoice_id"),
            ["tenant_id", "subscription_id", "invoice_id"],
            unique=False,
        )

    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("plan_code", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("items", json_column_type(), nullable=False),
        sa.Column("anchor", UTCDateTime(), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("trial_end", UTCDateTime(), nullable=True),
        sa.Column("cancel_at", UTCDateTime(), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("canceled_at", UTCDateTime(), nullable=True),
        sa.Column("paused_at", UTCDateTime(), nullable=True),
        sa.Column("pending_change", json_column_type(), nullable=True),
        sa.Column("term_end", UTCDateTime(), nullable=True),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("clock_id", sa.String(length=40), nullable=True),
        sa.Column("rule_set", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_tenant_id_customer_id"),
            ["tenant_id", "customer_id"],
            unique=False,
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("clock_id")

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_tenant_id_customer_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("pending_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_items_tenant_id_subscription_id_invoice_id"))

    op.drop_table("pending_items")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_tenant_id_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_tenant_id_customer_id"))

    op.drop_table("invoices")
    op.drop_table("invoice_lines")
    with op.batch_alter_table("due_work", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_due_work_tenant_id_clock_id_done_at"))
        batch_op.drop_index(batch_op.f("ix_due_work_done_at_due_at"))

    op.drop_table("due_work")
    op.drop_table("customer_credit")
    op.drop_table("clocks")
    op.drop_table("billing_cycles")
