"""Invoice deliveries recorded before the send (ADR 0058): Message-ID, Date, sending → sent;
open due items of a tenant by id, for the operator's list.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def upgrade() -> None:
    # ListDueWork pages through a tenant's open items by id (ADR 0058).
    op.create_index(
        "ix_due_work_open",
        "due_work",
        ["tenant_id", "id"],
        postgresql_where=sa.text("done_at IS NULL"),
        sqlite_where=sa.text("done_at IS NULL"),
    )
    op.create_table(
        "invoice_deliveries",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("invoice_id", sa.String(length=ID), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "invoice_id", name=op.f("pk_invoice_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("invoice_deliveries")
    op.drop_index("ix_due_work_open", table_name="due_work")
