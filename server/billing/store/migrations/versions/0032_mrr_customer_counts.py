"""Customers with MRR counted beside the MRR (ADR 0055): the tenant totals carry the count of
customers with MRR, each UTC day its net change (+1 for a new or reactivated customer, -1 for
a churned one), so churn's base at an instant reads the days after it, as MRR at an instant
does, instead of every movement before it. Filled from what is already kept, in shard 0
(shards only spread concurrent writers; reads sum them).

Revision ID: 0032
Revises: 0028
Create Date: 2026-12-06 23:00:00.000000
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0032"
down_revision = "0028"
branch_labels = None
depends_on = None

COUNTED = {"new": 1, "reactivation": 1, "churn": -1}


def upgrade() -> None:
    op.add_column(
        "mrr_totals", sa.Column("customers", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column(
        "mrr_days",
        sa.Column("customers_delta", sa.BigInteger(), nullable=False, server_default="0"),
    )
    bind = op.get_bind()
    customers = sa.table(
        "mrr_customers",
        sa.column("tenant_id", sa.String()),
        sa.column("currency", sa.String()),
        sa.column("mrr_minor", sa.BigInteger()),
    )
    totals = sa.table(
        "mrr_totals",
        sa.column("tenant_id", sa.String()),
        sa.column("currency", sa.String()),
        sa.column("shard", sa.Integer()),
        sa.column("mrr_minor", sa.BigInteger()),
        sa.column("customers", sa.BigInteger()),
    )
    counts = bind.execute(
        sa.select(customers.c.tenant_id, customers.c.currency, sa.func.count().label("n"))
        .where(customers.c.mrr_minor > 0)
        .group_by(customers.c.tenant_id, customers.c.currency)
    ).all()
    t = totals.c
    for row in counts:
        key = (t.tenant_id == row.tenant_id, t.currency == row.currency, t.shard == 0)
        done = bind.execute(sa.update(totals).where(*key).values(customers=row.n))
        if done.rowcount == 0:
            bind.execute(
                sa.insert(totals).values(tenant_id=row.tenant_id, currency=row.currency,
                                         shard=0, mrr_minor=0, customers=row.n)
            )  # fmt: skip

    movements = sa.table(
        "mrr_movements",
        sa.column("tenant_id", sa.String()),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("currency", sa.String()),
        sa.column("kind", sa.String()),
    )
    m = movements.c
    per_day: dict[tuple[str, datetime, str], int] = defaultdict(int)
    for row in bind.execute(
        sa.select(m.tenant_id, m.occurred_at, m.currency, m.kind).where(m.kind.in_(COUNTED))
    ):
        at = row.occurred_at.astimezone(UTC)
        day = datetime(at.year, at.month, at.day, tzinfo=UTC)
        per_day[(row.tenant_id, day, row.currency)] += COUNTED[row.kind]
    days = sa.table(
        "mrr_days",
        sa.column("tenant_id", sa.String()),
        sa.column("day_start", UTCDateTime()),
        sa.column("currency", sa.String()),
        sa.column("shard", sa.Integer()),
        sa.column("delta_minor", sa.BigInteger()),
        sa.column("customers_delta", sa.BigInteger()),
    )
    d = days.c
    for (tenant_id, day, currency), n in per_day.items():
        if n == 0:
            continue
        where = (d.tenant_id == tenant_id, d.day_start == day, d.currency == currency, d.shard == 0)
        done = bind.execute(sa.update(days).where(*where).values(customers_delta=n))
        if done.rowcount == 0:
            bind.execute(
                sa.insert(days).values(tenant_id=tenant_id, day_start=day, currency=currency,
                                       shard=0, delta_minor=0, customers_delta=n)
            )  # fmt: skip


def downgrade() -> None:
    op.drop_column("mrr_days", "customers_delta")
    op.drop_column("mrr_totals", "customers")
