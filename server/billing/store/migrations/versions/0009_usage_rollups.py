"""Usage rollups: events summed per UTC day at ingestion (ADR 0013).

Events already stored get rows of an unknown definition (spec ""), counted per day. No
metric's definition matches it, so a period holding them is read from the events, as before,
until it closes; rules live in the database and are not compiled here.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import ExactDecimal, UTCDateTime, json_column_type

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The UTC day of `ts`, as each dialect stores a UTCDateTime (SQLite: naive UTC text).
_DAY = {
    "postgresql": "date_trunc('day', ts, 'UTC')",
    "sqlite": "strftime('%Y-%m-%d 00:00:00.000000', ts)",
}


def upgrade() -> None:
    op.create_table(
        "usage_rollups",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("bucket", UTCDateTime(), nullable=False),
        sa.Column("spec", sa.String(length=32), nullable=False),
        sa.Column("group_key", sa.String(length=32), nullable=False),
        sa.Column("group_values", json_column_type(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=True),
        sa.Column("peak", ExactDecimal(), nullable=True),
        sa.Column("peak_stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "subscription_id",
            "metric",
            "bucket",
            "spec",
            "group_key",
            name=op.f("pk_usage_rollups"),
        ),
    )
    day = _DAY[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO usage_rollups (tenant_id, subscription_id, metric, bucket, spec,"
        " group_key, count, peak_stale)"
        f" SELECT tenant_id, subscription_id, metric, {day}, '', '', count(*), false"
        " FROM usage_events WHERE corrects IS NULL"
        f" GROUP BY tenant_id, subscription_id, metric, {day}"
    )


def downgrade() -> None:
    op.drop_table("usage_rollups")
