"""Records every state change writes beside itself: the outbox event and the audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OutboxEvent:
    """A domain event, committed with the change it describes; a relay publishes it later."""

    id: str  # evt_<ULID>
    tenant_id: str
    type: str  # e.g. "customer.created"
    resource_name: str
    payload: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    """Who changed what, through which call."""

    id: str  # aud_<ULID>
    tenant_id: str
    actor: str
    method: str
    request_id: str
    request_digest: bytes  # the request's body hash, as the idempotency key stores it
    resource_name: str
    action: str  # "create", "update", ...
    changes: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class AuditQuery:
    """Filters of ListAuditRecords; empty or None: any. They combine with AND."""

    resource_name: str = ""
    actor: str = ""
    method: str = ""
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
