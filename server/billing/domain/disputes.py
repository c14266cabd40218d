"""Disputes (chargebacks) as plain decisions (ADR 0041): what a gateway's dispute event does
to the dispute and to its payment's `disputed_minor`.

`disputed_minor` is the money a dispute holds or took: it rises when a dispute opens, comes
back down when it is won, and stays when it is lost (the money is gone, with the fee). The
invoice the payment paid stays paid in every case: the loss is the ledger's business.
Events may come out of order (a `won` before its `opened`): a close of a dispute we never
saw opened records it closed at once, with the same effect on the payment as both events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from billing.domain.payments import DISPUTE_TRANSITIONS, Dispute, DisputeStatus

# Webhook kinds (plugins.engines.GatewayEvent.kind) to the status they announce.
DISPUTE_KINDS = {
    "dispute.opened": DisputeStatus.OPEN,
    "dispute.won": DisputeStatus.WON,
    "dispute.lost": DisputeStatus.LOST,
}


@dataclass(frozen=True)
class DisputeFacts:
    """What the gateway said about one dispute."""

    gateway: str
    gateway_dispute_id: str
    status: DisputeStatus
    amount_minor: int
    fee_minor: int
    currency: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class DisputeChange:
    dispute: Dispute  # as it is to be written
    created: bool  # insert (True) or compare-and-set from `expected` (False)
    expected: DisputeStatus | None
    disputed_delta_minor: int  # to add to the payment's disputed_minor
    event: str  # dispute.opened, dispute.won or dispute.lost

    @property
    def outcome(self) -> str:
        return f"{self.dispute.name} {self.dispute.status.value}"


def dispute_change(
    existing: Dispute | None,
    facts: DisputeFacts,
    *,
    new_id: str,
    payment_id: str,
    attempt_id: str,
    customer_id: str,
) -> DisputeChange | None:
    """The change the facts make, or None when they change nothing (a repeated `opened`, a
    close of a dispute already closed: its decision is final)."""
    if existing is None:
        amount = facts.amount_minor
        closed = facts.status is not DisputeStatus.OPEN
        dispute = Dispute(
            id=new_id,
            payment_id=payment_id,
            attempt_id=attempt_id,
            customer_id=customer_id,
            gateway=facts.gateway,
            gateway_dispute_id=facts.gateway_dispute_id,
            amount_minor=amount,
            fee_minor=facts.fee_minor if facts.status is DisputeStatus.LOST else 0,
            currency=facts.currency,
            status=facts.status,
            reason=facts.reason,
            opened_at=facts.at,
            updated_at=facts.at,
            closed_at=facts.at if closed else None,
        )
        # Opened then won nets to nothing; opened or lost holds (or took) the amount.
        delta = 0 if facts.status is DisputeStatus.WON else amount
        return DisputeChange(dispute, True, None, delta, _event(facts.status))
    if facts.status not in DISPUTE_TRANSITIONS[existing.status]:
        return None
    closed_dispute = replace(
        existing,
        status=facts.status,
        fee_minor=facts.fee_minor if facts.status is DisputeStatus.LOST else existing.fee_minor,
        reason=existing.reason or facts.reason,
        updated_at=facts.at,
        closed_at=facts.at,
        version=existing.version + 1,
    )
    delta = -existing.amount_minor if facts.status is DisputeStatus.WON else 0
    return DisputeChange(closed_dispute, False, existing.status, delta, _event(facts.status))


def _event(status: DisputeStatus) -> str:
    return "dispute.opened" if status is DisputeStatus.OPEN else f"dispute.{status.value}"
