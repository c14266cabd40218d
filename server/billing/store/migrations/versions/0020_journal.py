"""The journal (ADR 0051): `journal_entries` and `journal_lines`, append-only, and
`journal_seals`, each entry's place in its tenant's hash chain, written once by the sealing
due work.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def upgrade() -> None:
    op.create_table(
        "journal_entries",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("id", sa.String(length=ID), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=True),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("adjusts", sa.String(length=ID), nullable=True),
        sa.Column("reporting_currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_journal_entries")),
    )
    op.create_index(
        op.f("ix_journal_entries_tenant_id_posted_at"),
        "journal_entries",
        ["tenant_id", "posted_at"],
    )
    op.create_index(
        op.f("ix_journal_entries_tenant_id_source"), "journal_entries", ["tenant_id", "source"]
    )
    op.create_index(
        op.f("ix_journal_entries_tenant_id_period"), "journal_entries", ["tenant_id", "period"]
    )
    op.create_table(
        "journal_lines",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("entry_id", sa.String(length=ID), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("debit_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_minor", sa.BigInteger(), nullable=False),
        sa.Column("reporting_debit_minor", sa.BigInteger(), nullable=True),
        sa.Column("reporting_credit_minor", sa.BigInteger(), nullable=True),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "entry_id", "line_no", name=op.f("pk_journal_lines")),
    )
    op.create_index(
        op.f("ix_journal_lines_tenant_id_account_posted_at"),
        "journal_lines",
        ["tenant_id", "account", "posted_at"],
    )
    op.create_index(
        op.f("ix_journal_lines_tenant_id_posted_at"), "journal_lines", ["tenant_id", "posted_at"]
    )
    op.create_table(
        "journal_seals",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(length=ID), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name=op.f("pk_journal_seals")),
        sa.UniqueConstraint(
            "tenant_id", "entry_id", name=op.f("uq_journal_seals_tenant_id_entry_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("journal_seals")
    op.drop_index(op.f("ix_journal_lines_tenant_id_posted_at"), table_name="journal_lines")
    op.drop_index(op.f("ix_journal_lines_tenant_id_account_posted_at"), table_name="journal_lines")
    op.drop_table("journal_lines")
    op.drop_index(op.f("ix_journal_entries_tenant_id_period"), table_name="journal_entries")
    op.drop_index(op.f("ix_journal_entries_tenant_id_source"), table_name="journal_entries")
    op.drop_index(op.f("ix_journal_entries_tenant_id_posted_at"), table_name="journal_entries")
    op.drop_table("journal_entries")
