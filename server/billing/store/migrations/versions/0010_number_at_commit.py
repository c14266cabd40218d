"""Invoice numbers assigned at commit (PostgreSQL): a deferred constraint trigger numbers each
invoice whose `number_format` is set, as the last thing its transaction does (ADR 0014).

The counter row is then locked only while the transaction commits, never across a client
round trip, so bill-run workers stop queueing behind one another for it. On SQLite (one
writer) invoices are numbered inline instead; the two columns exist there too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The format is the invoicing rule's, with {year} already replaced; what is left is one
# {seq} or {seq:0Nd} (the rule schema allows nothing else), formatted as Python would.
_FUNCTION = r"""
CREATE FUNCTION billing_number_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pending record;
    seq bigint;
    digits text;
    width text;
BEGIN
    SELECT number_format, number_year INTO pending FROM invoices
     WHERE tenant_id = NEW.tenant_id AND id = NEW.id
       AND number IS NULL AND number_format IS NOT NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;  -- numbered already (the row fired twice in one transaction)
    END IF;
    INSERT INTO number_counters AS c (tenant_id, series, year, last)
    VALUES (NEW.tenant_id, 'invoice', pending.number_year, 1)
    ON CONFLICT (tenant_id, series, year) DO UPDATE SET last = c.last + 1
    RETURNING last INTO seq;
    digits := seq::text;
    width := substring(pending.number_format from '\{seq:0([1-9])d\}');
    IF width IS NOT NULL AND length(digits) < width::int THEN
        digits := lpad(digits, width::int, '0');
    END IF;
    UPDATE invoices
       SET number = regexp_replace(pending.number_format, '\{seq(:0[1-9]d)?\}', digits),
           number_format = NULL
     WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
    RETURN NULL;
END
$$
"""
_TRIGGER = """
CREATE CONSTRAINT TRIGGER invoices_number_at_commit
AFTER INSERT OR UPDATE OF number_format ON invoices
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.number IS NULL AND NEW.number_format IS NOT NULL)
EXECUTE FUNCTION billing_number_invoice()
"""


def upgrade() -> None:
    op.add_column("invoices", sa.Column("number_format", sa.String(length=64), nullable=True))
    op.add_column("invoices", sa.Column("number_year", sa.Integer(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # As the driver sees it: text() would take the ":0" of the patterns for a parameter.
        bind.exec_driver_sql(_FUNCTION)
        bind.exec_driver_sql(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER invoices_number_at_commit ON invoices")
        op.execute("DROP FUNCTION billing_number_invoice()")
    op.drop_column("invoices", "number_year")
    op.drop_column("invoices", "number_format")
