"""Invoicing: numbers, lifecycle dates, line kinds and derivations, coupons, credit notes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 14:57:30.097839
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("percent_off", sa.String(length=16), nullable=True),
        sa.Column("amount_off_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("duration", sa.String(length=16), nullable=False),
        sa.Column("duration_periods", sa.Integer(), nullable=True),
        sa.Column("plans", json_column_type(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "code", name=op.f("pk_coupons")),
    )
    op.create_table(
        "credit_notes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("lines", json_column_type(), nullable=False),
        sa.Column("applied_to", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_credit_notes")),
    )
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_notes_tenant_id_invoice_id"),
            ["tenant_id", "invoice_id"],
            unique=False,
        )

    op.create_table(
        "number_counters",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "series", "year", name=op.f("pk_number_counters")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("derivation", json_column_type(), nullable=True))

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("memo", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("paid_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("voided_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("uncollectible_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("payment_reference", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("credited_minor", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_invoices_tenant_id_number"), ["tenant_id", "number"]
        )

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discount", json_column_type(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("discount")

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_invoices_tenant_id_number"), type_="unique")
        batch_op.drop_column("credited_minor")
        batch_op.drop_column("payment_reference")
        batch_op.drop_column("uncollectible_at")
        batch_op.drop_column("voided_at")
        batch_op.drop_column("paid_at")
        batch_op.drop_column("memo")
        batch_op.drop_column("number")

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_column("derivation")
        batch_op.drop_column("kind")

    op.drop_table("number_counters")
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_notes_tenant_id_invoice_id"))

    op.drop_table("credit_notes")
    op.drop_table("coupons")
