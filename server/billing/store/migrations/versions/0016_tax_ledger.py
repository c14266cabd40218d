"""The tax ledger and the tax part of credit notes (ADR 0033): `tax_ledger`, one signed row
per tax of a finalized invoice, a credit note or a void, indexed by (tenant, tax point) for
the tax report; `credit_notes.tax_minor` and `credit_notes.taxes`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tax_ledger",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("tax_name", sa.String(length=64), nullable=False),
        sa.Column("treatment", sa.String(length=16), nullable=False),
        sa.Column("rate_name", sa.String(length=64), nullable=False),
        sa.Column("percent", sa.String(length=16), nullable=False),
        sa.Column("taxable_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_point", sa.Date(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "source_kind", "source_id", "seq", name=op.f("pk_tax_ledger")
        ),
    )
    op.create_index(
        op.f("ix_tax_ledger_tenant_id_tax_point"), "tax_ledger", ["tenant_id", "tax_point"]
    )
    with op.batch_alter_table("credit_notes") as batch_op:
        batch_op.add_column(sa.Column("tax_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("taxes", json_column_type(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credit_notes") as batch_op:
        batch_op.drop_column("taxes")
        batch_op.drop_column("tax_minor")
    op.drop_index(op.f("ix_tax_ledger_tenant_id_tax_point"), table_name="tax_ledger")
    op.drop_table("tax_ledger")
