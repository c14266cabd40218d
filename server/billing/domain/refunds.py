"""Refunds as plain decisions (ADR 0041): how much of a payment may still be given back, how
much of a credit note's credit, and what a gateway's answer makes of a refund.

Money in flight counts as gone: a refund recorded and not failed holds its amount from the
moment it is recorded (before the gateway answers), so two refunds racing each other can
never together give back more than was received.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from billing.domain.payments import (
    REFUND_TRANSITIONS,
    Payment,
    Refund,
    RefundStatus,
)

# Still waiting for the gateway's word: the reconciler looks these up.
UNSETTLED_REFUNDS = frozenset({RefundStatus.PENDING, RefundStatus.UNKNOWN})


def held_minor(refunds: Iterable[Refund]) -> int:
    """What refunds not (yet) settled as succeeded hold back: pending and unknown ones.
    Succeeded ones are already in the payment's `refunded_minor`."""
    return sum(r.amount_minor for r in refunds if r.status in UNSETTLED_REFUNDS)


def refundable_minor(payment: Payment, refunds: Iterable[Refund]) -> int:
    """What may still be refunded on the payment: its amount less what was refunded, what
    refunds in flight hold, and what is disputed (open or lost). An open dispute's money is
    held by the card network: refunding it as well would give it back twice if the dispute
    is lost; a won dispute gave its amount back to `disputed_minor` already."""
    left = payment.amount_minor - payment.refunded_minor - held_minor(refunds)
    return max(0, left - payment.disputed_minor)


@dataclass(frozen=True)
class NoteCredit:
    """What a credit note put on the customer's credit balance, and what of it refunds
    have already paid out (or hold while in flight)."""

    credit_minor: int
    refunded_minor: int

    @property
    def left_minor(self) -> int:
        return max(0, self.credit_minor - self.refunded_minor)


def note_credit(credit_minor: int, refunds_of_note: Iterable[Refund]) -> NoteCredit:
    """The note's credit part and what refunds tied to it took (failed ones gave it back)."""
    taken = sum(r.amount_minor for r in refunds_of_note if r.status is not RefundStatus.FAILED)
    return NoteCredit(credit_minor, taken)


# A gateway's answer (`GatewayStatus` values, kept as text: the domain knows no plugin) to
# the refund status it means. `pending` leaves the refund pending: the reconciler or a
# webhook settles it. `not_found` is decided by the reconciler (too early: wait).
_BY_GATEWAY_STATUS = {
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "unknown": RefundStatus.UNKNOWN,
    "pending": RefundStatus.PENDING,
}


def refund_status_for(gateway_status: str) -> RefundStatus | None:
    """The refund status a gateway answer means; None for one that decides nothing."""
    return _BY_GATEWAY_STATUS.get(gateway_status)


def can_move_refund(status: RefundStatus, to: RefundStatus) -> bool:
    return to in REFUND_TRANSITIONS[status]


def settled_refund(
    refund: Refund,
    to: RefundStatus,
    at: datetime,
    *,
    reference: str = "",
    message: str = "",
) -> Refund | None:
    """The refund moved to `to` (version bumped), or None when the move is not allowed
    (already settled, or the same status: nothing to write)."""
    if not can_move_refund(refund.status, to):
        return None
    return replace(
        refund,
        status=to,
        gateway_reference=reference or refund.gateway_reference,
        failure_message=message if to is RefundStatus.FAILED else refund.failure_message,
        updated_at=at,
        version=refund.version + 1,
    )


def refund_key(tenant_id: str, refund_id: str) -> str:
    """The idempotency key a gateway sees for a refund: one per refund, never reused."""
    return f"billing-{tenant_id}-{refund_id}"
