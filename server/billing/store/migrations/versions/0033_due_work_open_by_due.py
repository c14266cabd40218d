"""Open due items in due order (issue 12): what a due-work process's own claim walks. The claim
across every tenant and clock orders the open items by due time and takes the first 50 that
are due on their clock; with no index giving that order, PostgreSQL sorted every open item
and hash-joined them all against themselves (the earlier-unfinished check): 300-650 ms a claim
with 160,000 open items, half way through a 100,000-subscription bill run, against 0.4 ms on
this index, which lets it stop at the 50th.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 03:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_due_work_open_by_due",
        "due_work",
        ["due_at"],
        postgresql_where=sa.text("done_at IS NULL"),
        sqlite_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_due_work_open_by_due", table_name="due_work")
