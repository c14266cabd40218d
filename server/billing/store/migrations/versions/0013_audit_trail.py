"""Audit trail you can query (ADR 0024): the request's digest on every audit record, an index
for newest-first reads per resource, the audit table append-only (triggers refuse UPDATE,
DELETE and, on PostgreSQL, TRUNCATE), and one idempotency key per (tenant, request_id)
whatever the RPC, so an id reused on another RPC is refused instead of becoming a second key.

Keys left from before that share a request_id across RPCs keep only the newest (keys live 24
hours by default; a dropped older one would only lose its replay).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 15:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_PG_REFUSE = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""
_PG_ALLOW = """
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
"""
# SQLite has no TRUNCATE (a DELETE without WHERE fires the row trigger too).
_SQLITE_REFUSE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
)
_SQLITE_ALLOW = (
    "DROP TRIGGER IF EXISTS audit_log_no_update",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
)

_DROP_OLDER_KEYS = """
DELETE FROM idempotency_keys WHERE EXISTS (
    SELECT 1 FROM idempotency_keys AS newer
    WHERE newer.tenant_id = idempotency_keys.tenant_id
      AND newer.request_id = idempotency_keys.request_id
      AND (newer.created_at > idempotency_keys.created_at
           OR (newer.created_at = idempotency_keys.created_at
               AND newer.method > idempotency_keys.method))
)
"""


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _refuse_changes() -> None:
    if _is_sqlite():
        for statement in _SQLITE_REFUSE:
            op.execute(statement)
    else:
        op.execute(_PG_REFUSE)


def _allow_changes() -> None:
    if _is_sqlite():
        for statement in _SQLITE_ALLOW:
            op.execute(statement)
    else:
        op.execute(_PG_ALLOW)


def upgrade() -> None:
    # SQLite's batch mode copies the table (an UPDATE-free rebuild), so triggers come last.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_digest", sa.LargeBinary(length=32), nullable=True))
        batch_op.drop_index("ix_audit_log_tenant_id_resource_name")
        batch_op.create_index(
            "ix_audit_log_tenant_id_resource_name_id", ["tenant_id", "resource_name", "id"]
        )
    _refuse_changes()

    op.execute(_DROP_OLDER_KEYS)
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint("pk_idempotency_keys", type_="primary")
        batch_op.create_primary_key("pk_idempotency_keys", ["tenant_id", "request_id"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint("pk_idempotency_keys", type_="primary")
        batch_op.create_primary_key("pk_idempotency_keys", ["tenant_id", "method", "request_id"])
    _allow_changes()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_tenant_id_resource_name_id")
        batch_op.create_index(
            "ix_audit_log_tenant_id_resource_name", ["tenant_id", "resource_name"]
        )
        batch_op.drop_column("request_digest")
