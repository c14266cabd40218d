"""Payments (ADR 0034): payment methods (tokens encrypted at rest), a subscription's default
method, attempts, payments and their allocations to invoices, refunds, disputes, webhook
events applied, encrypted gateway credentials; `invoices.paid_minor`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def _key(*columns: str) -> list[sa.Column[str]]:
    return [
        sa.Column(c, sa.String(length=TENANT if c == "tenant_id" else ID), nullable=False)
        for c in columns
    ]


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.add_column(sa.Column("paid_minor", sa.BigInteger(), nullable=True))

    op.create_table(
        "payment_methods",
        *_key("tenant_id", "id", "customer_id"),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("token_ciphertext", sa.String(length=1024), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("billing_country", sa.String(length=2), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("detached_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payment_methods")),
    )
    op.create_index(
        op.f("ix_payment_methods_tenant_id_customer_id"),
        "payment_methods",
        ["tenant_id", "customer_id"],
    )

    op.create_table(
        "subscription_payment_methods",
        *_key("tenant_id", "subscription_id", "payment_method_id"),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "subscription_id", name=op.f("pk_subscription_payment_methods")
        ),
    )

    op.create_table(
        "payment_attempts",
        *_key("tenant_id", "id", "customer_id"),
        sa.Column("invoice_id", sa.String(length=ID), nullable=True),
        sa.Column("payment_method_id", sa.String(length=ID), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("gateway_reference", sa.String(length=128), nullable=False),
        sa.Column("decline_code", sa.String(length=32), nullable=False),
        sa.Column("failure_message", sa.String(length=512), nullable=False),
        sa.Column("action_url", sa.String(length=1024), nullable=False),
        sa.Column("fraud_outcome", sa.String(length=8), nullable=False),
        sa.Column("fraud_reasons", json_column_type(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("lookups", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("payment_id", sa.String(length=ID), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payment_attempts")),
        sa.UniqueConstraint(
            "tenant_id",
            "idempotency_key",
            name=op.f("uq_payment_attempts_tenant_id_idempotency_key"),
        ),
    )
    for columns in (
        ("tenant_id", "invoice_id"),
        ("tenant_id", "customer_id", "created_at"),
        ("tenant_id", "payment_method_id", "created_at"),
        ("tenant_id", "gateway", "gateway_reference"),
    ):
        op.create_index(
            op.f("ix_payment_attempts_" + "_".join(columns)), "payment_attempts", list(columns)
        )

    op.create_table(
        "payments",
        *_key("tenant_id", "id", "customer_id"),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("attempt_id", sa.String(length=ID), nullable=True),
        sa.Column("reference", sa.String(length=256), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("to_credit_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("disputed_minor", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "tenant_id", "attempt_id", name=op.f("uq_payments_tenant_id_attempt_id")
        ),
    )
    op.create_index(
        op.f("ix_payments_tenant_id_customer_id"), "payments", ["tenant_id", "customer_id"]
    )

    op.create_table(
        "payment_allocations",
        *_key("tenant_id", "payment_id", "invoice_id"),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "payment_id", "invoice_id", name=op.f("pk_payment_allocations")
        ),
    )
    op.create_index(
        op.f("ix_payment_allocations_tenant_id_invoice_id"),
        "payment_allocations",
        ["tenant_id", "invoice_id"],
    )

    op.create_table(
        "refunds",
        *_key("tenant_id", "id", "payment_id"),
        sa.Column("attempt_id", sa.String(length=ID), nullable=True),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("credit_note_id", sa.String(length=ID), nullable=True),
        sa.Column("gateway_reference", sa.String(length=128), nullable=False),
        sa.Column("failure_message", sa.String(length=512), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_refunds")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_refunds_tenant_id_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_refunds_tenant_id_payment_id"), "refunds", ["tenant_id", "payment_id"])

    op.create_table(
        "disputes",
        *_key("tenant_id", "id", "payment_id", "attempt_id", "customer_id"),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("gateway_dispute_id", sa.String(length=128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_disputes")),
        sa.UniqueConstraint(
            "tenant_id",
            "gateway",
            "gateway_dispute_id",
            name=op.f("uq_disputes_tenant_id_gateway_gateway_dispute_id"),
        ),
    )
    op.create_index(
        op.f("ix_disputes_tenant_id_customer_id"), "disputes", ["tenant_id", "customer_id"]
    )

    op.create_table(
        "gateway_events",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=512), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "gateway", "event_id", name=op.f("pk_gateway_events")),
    )

    op.create_table(
        "gateway_credentials",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("names", json_column_type(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "gateway", name=op.f("pk_gateway_credentials")),
    )


def downgrade() -> None:
    for table in (
        "gateway_credentials",
        "gateway_events",
        "disputes",
        "refunds",
        "payment_allocations",
        "payments",
        "payment_attempts",
        "subscription_payment_methods",
        "payment_methods",
    ):
        op.drop_table(table)
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.drop_column("paid_minor")
