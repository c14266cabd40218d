"""Keeping an open dunning case's one due item (ADR 0043): whoever moves a case (a step, a
retry, a decline, a resume) asks `schedule_next` for the case as it must be stored. Nothing is
ever unscheduled: an item whose due time is not its case's `next_at` is stale and does
nothing when it runs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

from billing.app.dunning_kinds import DUNNING_STEP
from billing.app.ids import new_id
from billing.app.ports import DueItem, Transaction
from billing.domain.dunning import DunningCase, DunningPolicy, next_event

# A due item's (subject, kind, due time) is unique: an event due no later than the item being
# handled is scheduled just after it.
_AFTER = timedelta(microseconds=1)


async def schedule_next(
    tx: Transaction,
    tenant_id: str,
    case: DunningCase,
    policy: DunningPolicy,
    now: datetime | None = None,
) -> DunningCase:
    """`case` with `next_at` set to its next event, and a `dunning_step` item scheduled at
    that instant (on the case's clock). `next_at` None: the timeline is spent; the caller
    ends the case. `now`: the instant being handled; the next item is never due at or before
    it (a late resume or a step already past runs at once, just after)."""
    event = next_event(policy, case)
    if event is None:
        return replace(case, next_at=None)
    at = event.at if now is None else max(event.at, now + _AFTER)
    await tx.due_work.schedule(
        DueItem(
            tenant_id,
            new_id("due"),
            DUNNING_STEP,
            case.id,
            case.clock_id,
            at,
            json.dumps({"case_id": case.id, "kind": event.kind.value, "index": event.index}),
        )
    )
    return replace(case, next_at=at)
