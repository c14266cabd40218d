"""What every move of a dunning case writes beside it (ADR 0043): the case itself by
compare-and-set, its timeline entry, outbox events, the audit record (actor
`system:dunning`) and the notices it decides to send."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from billing.app.dunning_kinds import SEND_DUNNING_NOTICE
from billing.app.ids import new_id
from billing.app.ports import DueItem, RetryableConflict, Transaction
from billing.app.records import AuditRecord, OutboxEvent
from billing.domain.dunning import EMAIL_CHANNEL, DunningCase, EntryKind, TimelineEntry

ACTOR = "system:dunning"
_NEXT = timedelta(microseconds=1)


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


@dataclass
class Moment:
    """One transaction's move of a case: its tenant, its instant (everything it writes is at
    it), who asks (the due item) and the notices it decides."""

    tenant_id: str
    at: datetime
    request_id: str  # the due item's id
    method: str  # the audit trail's method: the kind of work moving the case
    notices: int = 0  # scheduled so far

    async def notice(
        self,
        tx: Transaction,
        case: DunningCase,
        *,
        template: str,
        step: str,
        attempt_id: str = "",
        channel: str = EMAIL_CHANNEL,
    ) -> None:
        """A `send_dunning_notice` item, sent after this transaction commits by the notices'
        handler. One item per (case, instant): a second notice of this moment is due a
        microsecond after the first."""
        await tx.due_work.schedule(
            DueItem(
                self.tenant_id,
                new_id("due"),
                SEND_DUNNING_NOTICE,
                case.id,
                case.clock_id,
                self.at + self.notices * _NEXT,
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
        self.notices += 1

    async def audit(
        self, tx: Transaction, resource: str, action: str, changes: dict[str, Any]
    ) -> None:
        await audit(
            tx, self.tenant_id, self.method, self.request_id, resource, action, changes, self.at
        )

    async def event(self, tx: Transaction, event: str, case: DunningCase, **details: Any) -> None:
        await case_event(tx, self.tenant_id, event, case, self.at, **details)


def last_attempt(case: DunningCase) -> str:
    """The latest attempt on the case's timeline ("" before any)."""
    return next((e.attempt_id for e in reversed(case.timeline) if e.attempt_id), "")
