"""The audit record of a change a caller made through a keyed write: who (the token's
subject), through which call and request (its id and body digest), on what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.records import AuditRecord


def audit_of(
    ctx: CallContext,
    write: Write[Any],
    resource_name: str,
    action: str,
    changes: dict[str, Any],
    at: datetime,
) -> AuditRecord:
    return AuditRecord(
        new_id("aud"),
        ctx.tenant_id,
        ctx.actor,
        ctx.method,
        write.request_id,
        write.body_hash,
        resource_name,
        action,
        changes,
        at,
    )
