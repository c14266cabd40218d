"""Dunning (ADR 0043): `dunning_cases`, one per unpaid invoice whose automatic collection
failed, and `dunning_holds`, finance's pause of a customer's dunning.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def upgrade() -> None:
    op.create_table(
        "dunning_cases",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("id", sa.String(length=ID), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("invoice_id", sa.String(length=ID), nullable=False),
        sa.Column("subscription_id", sa.String(length=ID), nullable=True),
        sa.Column("clock_id", sa.String(length=ID), nullable=True),
        sa.Column("policy", sa.String(length=200), nullable=False),
        sa.Column("rule_set", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("retries_done", sa.Integer(), nullable=False),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("retries_stopped", sa.Boolean(), nullable=False),
        sa.Column("decline_code", sa.String(length=64), nullable=False),
        sa.Column("first_decline_code", sa.String(length=64), nullable=False),
        sa.Column("shift_us", sa.BigInteger(), nullable=False),
        sa.Column("paused_at", UTCDateTime(), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("next_at", UTCDateTime(), nullable=True),
        sa.Column("recovered_minor", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("timeline", json_column_type(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_dunning_cases")),
        sa.UniqueConstraint(
            "tenant_id", "invoice_id", name=op.f("uq_dunning_cases_tenant_id_invoice_id")
        ),
    )
    op.create_index(
        op.f("ix_dunning_cases_tenant_id_customer_id"),
        "dunning_cases",
        ["tenant_id", "customer_id"],
    )
    op.create_index(
        op.f("ix_dunning_cases_tenant_id_status"), "dunning_cases", ["tenant_id", "status"]
    )
    op.create_table(
        "dunning_holds",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id", name=op.f("pk_dunning_holds")),
    )


def downgrade() -> None:
    op.drop_table("dunning_holds")
    op.drop_index(op.f("ix_dunning_cases_tenant_id_status"), table_name="dunning_cases")
    op.drop_index(op.f("ix_dunning_cases_tenant_id_customer_id"), table_name="dunning_cases")
    op.drop_table("dunning_cases")
