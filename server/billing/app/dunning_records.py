"""What every move of a dunning case writes beside it (ADR 0043): the case itself by
compare-and-set, its timeline entry, outbox events, the audit record (actor
`system:dunning`) and the notices it decides to send."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from billing.app.dunning_kinds import SEND_DUNNING_NOTICE
from billing.app.ids import new_id
from billing.app.ports import DueItem, RetryableConflict, Transaction
from billing.app.records import AuditRecord, OutboxEvent
from billing.domain.dunning import EMAIL_CHANNEL, DunningCase, EntryKind, TimelineEntry

ACTOR = "system:dunning"


def noted(
    case: DunningCase,
    at: datetime,
    kind: EntryKind,
    what: str = "",
    detail: str = "",
    attempt_id: str = "",
) -> DunningCase:
    """`case` with one more timeline entry."""
    entry = TimelineEntry(at, kind, what, detail, attempt_id)
    return replace(case, timeline=(*case.timeline, entry))


async def save(tx: Transaction, tenant_id: str, case: DunningCase, read: DunningCase) -> None:
    """Compare-and-set `case` over `read` (the case as loaded): one winner per version."""
    if not await tx.dunning_cases.update(tenant_id, case, read.version):
        raise RetryableConflict(f"{read.name} changed while dunning moved it")


def advanced(case: DunningCase, at: datetime) -> DunningCase:
    """The next version of `case`, as of `at`."""
    return replace(case, version=case.version + 1, updated_at=at)


async def emit(
    tx: Transaction,
    tenant_id: str,
    event: str,
    resource: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    await tx.outbox.add(OutboxEvent(new_id("evt"), tenant_id, event, resource, payload, at))


async def case_event(
    tx: Transaction,
    tenant_id: str,
    event: str,
    case: DunningCase,
    at: datetime,
    **details: Any,
) -> None:
    """A `dunning.*` event about `case`: who and what it chases, and what happened."""
    payload = {
        "customer": f"customers/{case.customer_id}",
        "invoice": f"invoices/{case.invoice_id}",
        "subscription": f"subscriptions/{case.subscription_id}" if case.subscription_id else None,
        "policy": case.policy,
        "status": case.status.value,
        **details,
    }
    await emit(tx, tenant_id, event, case.name, payload, at)


async def audit(
    tx: Transaction,
    tenant_id: str,
    method: str,
    request_id: str,
    resource: str,
    action: str,
    changes: dict[str, Any],
    at: datetime,
) -> None:
    await tx.audit.add(
        AuditRecord(
            new_id("aud"),
            tenant_id,
            ACTOR,
            method,
            request_id,
            b"",
            resource,
            action,
            changes,
            at,
        )
    )


async def schedule_notice(
    tx: Transaction,
    tenant_id: str,
    case: DunningCase,
    at: datetime,
    *,
    template: str,
    step: str,
    attempt_id: str = "",
    channel: str = EMAIL_CHANNEL,
) -> None:
    """A `send_dunning_notice` item at `at`: sent after this transaction commits, by the
    notices' handler."""
    await tx.due_work.schedule(
        DueItem(
            tenant_id,
            new_id("due"),
            SEND_DUNNING_NOTICE,
            case.id,
            case.clock_id,
            at,
            json.dumps(
                {
                    "case_id": case.id,
                    "template": template,
                    "channel": channel,
                    "step": step,
                    "attempt_id": attempt_id,
                }
            ),
        )
    )


def last_attempt(case: DunningCase) -> str:
    """The latest attempt on the case's timeline ("" before any)."""
    return next((e.attempt_id for e in reversed(case.timeline) if e.attempt_id), "")
