"""Accounting periods (ADR 0053): `ledger_books`, how far each tenant's books are closed.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_books",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("closed_through", sa.String(length=7), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=False),
        sa.Column("closed_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_ledger_books")),
    )


def downgrade() -> None:
    op.drop_table("ledger_books")
