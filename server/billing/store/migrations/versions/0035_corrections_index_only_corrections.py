"""Only corrections in the index of what an event corrects (issue 12). Every usage event went
into `(tenant_id, corrects)`, nearly all with `corrects` NULL, though only corrections are ever
looked up by it: one btree insertion of three an ingested event cost, for nothing. Index
maintenance is about half of PostgreSQL's CPU while ingesting usage.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

NAME = "ix_usage_events_tenant_id_corrects"


def upgrade() -> None:
    op.drop_index(NAME, table_name="usage_events")
    op.create_index(
        NAME,
        "usage_events",
        ["tenant_id", "corrects"],
        postgresql_where=sa.text("corrects IS NOT NULL"),
        sqlite_where=sa.text("corrects IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="usage_events")
    op.create_index(NAME, "usage_events", ["tenant_id", "corrects"])
