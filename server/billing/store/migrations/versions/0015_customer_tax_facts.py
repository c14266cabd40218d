"""Customers' tax facts (ADR 0031): `customer_type` (business or consumer) and
`tax_exemptions` (certificates). Tax ids keep their verification inside the `tax_ids` JSON.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 21:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import json_column_type

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(
            sa.Column("customer_type", sa.String(16), nullable=False, server_default="consumer")
        )
        batch_op.add_column(
            sa.Column(
                "tax_exemptions",
                json_column_type(),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("tax_exemptions")
        batch_op.drop_column("customer_type")
