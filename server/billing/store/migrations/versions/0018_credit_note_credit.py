"""The part of a credit note that went to the customer's credit balance (ADR 0041):
`credit_notes.to_credit_minor`, what a refund tied to the note may pay out. NULL on notes
written before it: their whole amount when they were applied to the credit balance.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credit_notes") as batch_op:
        batch_op.add_column(sa.Column("to_credit_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credit_notes") as batch_op:
        batch_op.drop_column("to_credit_minor")
