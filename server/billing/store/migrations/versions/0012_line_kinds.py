"""Line kinds that say what they are: `invoice_lines.kind` widened to hold
`cancellation_credit`, and the old loose values renamed (fee -> recurring, proration ->
proration_credit or proration_charge by sign, adjustment -> usage).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines") as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )
    op.execute("UPDATE invoice_lines SET kind = 'recurring' WHERE kind = 'fee'")
    op.execute(
        "UPDATE invoice_lines SET kind = CASE WHEN amount_minor < 0"
        " THEN 'proration_credit' ELSE 'proration_charge' END WHERE kind = 'proration'"
    )
    op.execute("UPDATE invoice_lines SET kind = 'usage' WHERE kind = 'adjustment'")


def downgrade() -> None:
    op.execute("UPDATE invoice_lines SET kind = 'fee' WHERE kind = 'recurring'")
    op.execute(
        "UPDATE invoice_lines SET kind = 'proration'"
        " WHERE kind IN ('proration_credit', 'proration_charge')"
    )
    op.execute(
        "UPDATE invoice_lines SET kind = 'adjustment'"
        " WHERE kind IN ('repair', 'account_credit', 'cancellation_credit')"
    )
    with op.batch_alter_table("invoice_lines") as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
