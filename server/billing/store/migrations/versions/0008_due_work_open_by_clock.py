"""Partial index on open due work by (tenant, clock, due_at): claiming for one clock walks
only the open items of that clock, in due order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_due_work_open_by_clock",
        "due_work",
        ["tenant_id", "clock_id", "due_at"],
        postgresql_where=sa.text("done_at IS NULL"),
        sqlite_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_due_work_open_by_clock", table_name="due_work")
