"""Indexes for a claim bounded by each clock's time (issue 12). The claim across every tenant
walked every open item in due order, each joined to its clock, and could stop only at its
limit: with fewer items due than that (an API's steady state, every subscription's next
renewal open and not due), each claim read every open item, and the check for an earlier
unfinished item of the same subscription scanned the tenant's open items for each. Now it
walks real-time items up to the wall time and each clock's items up to the clock's time:

- `ix_due_work_open_real_time`: open real-time items in due order (replaces
  `ix_due_work_open_by_due`, whose walk passed every simulation clock's items too);
- `ix_due_work_open_by_subscription`: a subscription's open items by due time, the probe of
  the earlier-unfinished check (one index page, not the tenant's open items);
- `ix_due_work_done_at_due_at` dropped: the first claim's index (0003), read by no statement
  since the partial indexes, yet maintained on every insert and every completion, and without
  statistics SQLite walked it for real-time items, every simulation clock's items with them.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

OPEN = "done_at IS NULL"
OPEN_REAL_TIME = "done_at IS NULL AND clock_id IS NULL"


def upgrade() -> None:
    op.drop_index("ix_due_work_done_at_due_at", table_name="due_work")
    op.drop_index("ix_due_work_open_by_due", table_name="due_work")
    op.create_index(
        "ix_due_work_open_real_time",
        "due_work",
        ["due_at"],
        postgresql_where=sa.text(OPEN_REAL_TIME),
        sqlite_where=sa.text(OPEN_REAL_TIME),
    )
    op.create_index(
        "ix_due_work_open_by_subscription",
        "due_work",
        ["tenant_id", "subscription_id", "due_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_due_work_open_by_subscription", table_name="due_work")
    op.drop_index("ix_due_work_open_real_time", table_name="due_work")
    op.create_index(
        "ix_due_work_open_by_due",
        "due_work",
        ["due_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index("ix_due_work_done_at_due_at", "due_work", ["done_at", "due_at"])
