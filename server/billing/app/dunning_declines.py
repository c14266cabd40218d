"""What an unsuccessful charge does to its case (ADR 0043): its decline on the timeline, a
hard one stopping the retries still to come with the policy's `hard_notice`, a requires-action
one sending its `requires_action_notice` with the authentication link."""

from __future__ import annotations

from dataclasses import replace

from billing.app.dunning_records import Moment, noted
from billing.app.ports import Transaction
from billing.domain.dunning import CaseStatus, DunningCase, DunningPolicy, EntryKind
from billing.domain.payments import AttemptStatus, PaymentAttempt

AUTHENTICATION_REQUIRED = "authentication_required"  # the normalized code of requires_action
UNSUCCESSFUL = frozenset({AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION})


def declined_as(attempt: PaymentAttempt) -> str:
    """The normalized code an unsuccessful attempt counts as."""
    if attempt.status is AttemptStatus.REQUIRES_ACTION:
        return AUTHENTICATION_REQUIRED
    return attempt.decline_code or "generic_decline"


async def take_outcome(
    tx: Transaction,
    now: Moment,
    case: DunningCase,
    attempt: PaymentAttempt,
    policy: DunningPolicy,
) -> DunningCase:
    """`case` with `attempt`'s failure applied (not saved). An outcome already applied (the
    step that made a retry applies it at once; the attempt's own item comes after) changes
    nothing. While paused nothing reaches the customer; the decline still counts."""
    if attempt.status not in UNSUCCESSFUL:
        return case  # settled otherwise meanwhile (authenticated and paid)
    code = declined_as(attempt)
    if any(
        e.kind is EntryKind.DECLINE and e.attempt_id == attempt.id and e.what == code
        for e in case.timeline
    ):
        return case
    case = noted(
        replace(case, decline_code=code),
        now.at,
        EntryKind.DECLINE,
        code,
        attempt.failure_message,
        attempt.id,
    )
    notify = case.status is CaseStatus.ACTIVE
    if attempt.status is AttemptStatus.REQUIRES_ACTION:
        template = policy.declines.requires_action_notice
        if notify and template:
            await now.notice(
                tx, case, template=template, step="requires_action", attempt_id=attempt.id
            )
        return case
    if not policy.declines.is_hard(code) or case.retries_stopped:
        return case
    case = noted(
        replace(case, retries_stopped=True),
        now.at,
        EntryKind.RETRIES_STOPPED,
        code,
        "a hard decline: no retry can cure it",
        attempt.id,
    )
    await now.event(tx, "dunning.retries_stopped", case, decline_code=code, attempt=attempt.name)
    template = policy.declines.hard_notice
    if notify and template:
        await now.notice(tx, case, template=template, step="hard_decline", attempt_id=attempt.id)
    return case
