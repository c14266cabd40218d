"""Payments as plain data (ADR 0034): payment methods (gateway tokens only), attempts and
their state machine, payments received and where they went, refunds and disputes.

Every record that moves money is a small state machine: a transition is allowed only along
the tables below, and the store applies it as a compare-and-set on status and version, so of
two racing callers exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

# --- payment methods ----------------------------------------------------------------------


class MethodType(StrEnum):
    CARD = "card"
    SEPA_DEBIT = "sepa_debit"
    ACH_DEBIT = "ach_debit"
    BACS_DEBIT = "bacs_debit"
    WALLET = "wallet"


@dataclass(frozen=True)
class PaymentMethod:
    """A method the caller tokenized at a gateway. Only the gateway's token is kept (encrypted
    at rest) with what may be shown: never a card number, never a CVC."""

    id: str  # pm_<ULID>
    customer_id: str
    gateway: str  # the gateway name in the payment rules that issued the token
    token: str  # the gateway's token (e.g. pm_1Nx..., a stored-payment-method id)
    type: MethodType
    created_at: datetime
    fingerprint: str = ""  # the gateway's card fingerprint: one card, many tokens
    brand: str = ""  # visa, mastercard, amex...
    last4: str = ""
    exp_month: int = 0
    exp_year: int = 0
    country: str = ""  # ISO 3166-1 alpha-2 of the card's issuer or the account
    billing_country: str = ""  # of the billing address the caller gave
    detached_at: datetime | None = None
    version: int = 1

    @property
    def name(self) -> str:
        return f"paymentMethods/{self.id}"

    @property
    def attached(self) -> bool:
        return self.detached_at is None


# --- attempts -----------------------------------------------------------------------------

# Declines are normalized to these codes (an engine maps its own); anything else is
# `generic_decline` with the gateway's code kept in `gateway_code`.
DECLINE_CODES: Final = frozenset(
    {
        "insufficient_funds",
        "do_not_honor",
        "expired_card",
        "stolen_card",
        "lost_card",
        "pickup_card",
        "incorrect_cvc",
        "card_not_supported",
        "currency_not_supported",
        "processing_error",
        "fraudulent",
        "authentication_required",
        "invalid_account",
        "generic_decline",
    }
)


class AttemptStatus(StrEnum):
    PENDING = "pending"  # intent recorded, the gateway call not answered yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # declined, refused by fraud checks, or proven never charged
    REQUIRES_ACTION = "requires_action"  # 3-D Secure or similar: the customer must act
    UNKNOWN = "unknown"  # timeout, 5xx, lost reply: only a status lookup may decide


ATTEMPT_TRANSITIONS: Mapping[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.PENDING: frozenset(
        {
            AttemptStatus.SUCCEEDED,
            AttemptStatus.FAILED,
            AttemptStatus.REQUIRES_ACTION,
            AttemptStatus.UNKNOWN,
        }
    ),
    AttemptStatus.UNKNOWN: frozenset(
        {AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION}
    ),
    AttemptStatus.REQUIRES_ACTION: frozenset({AttemptStatus.SUCCEEDED, AttemptStatus.FAILED}),
    AttemptStatus.SUCCEEDED: frozenset(),
    AttemptStatus.FAILED: frozenset(),
}

# Still waiting for the gateway's word: the reconciler looks these up, nothing charges again.
UNSETTLED = frozenset({AttemptStatus.PENDING, AttemptStatus.UNKNOWN})


class FraudOutcome(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"  # charged, and flagged for a person to look at
    BLOCK = "block"  # never sent to the gateway: the attempt fails with the reason


@dataclass(frozen=True)
class PaymentAttempt:
    """One try to take money through a gateway, for one invoice (or none: a top-up)."""

    id: str  # pay_<ULID>
    customer_id: str
    invoice_id: str | None
    payment_method_id: str
    gateway: str  # the gateway (name in the payment rules) the routing chose
    amount_minor: int
    currency: str
    status: AttemptStatus
    idempotency_key: str  # what the gateway sees; derived from the attempt, never reused
    created_at: datetime
    updated_at: datetime
    gateway_reference: str = ""  # the gateway's charge / PSP reference once known
    decline_code: str = ""  # normalized: insufficient_funds, do_not_honor, expired_card...
    failure_message: str = ""  # plain words, safe to show
    action_url: str = ""  # requires_action: where the customer authenticates
    fraud_outcome: FraudOutcome = FraudOutcome.ALLOW
    fraud_reasons: tuple[str, ...] = ()
    source: str = "pay_invoice"  # pay_invoice, automatic_collection, dunning_retry
    lookups: int = 0  # status lookups made by the reconciler
    request_id: str = ""  # the RPC's idempotency key, for the audit trail
    version: int = 1
    payment_id: str | None = None  # succeeded: the payment its money made (set with it)

    @property
    def name(self) -> str:
        return f"paymentAttempts/{self.id}"

    @property
    def settled(self) -> bool:
        return self.status not in UNSETTLED


def attempt_key(tenant_id: str, attempt_id: str) -> str:
    """The idempotency key a gateway sees for an attempt: stable across retries and lookups
    of the same attempt, distinct for every attempt (a new attempt is a new charge)."""
    return f"billing-{tenant_id}-{attempt_id}"


def can_move(status: AttemptStatus, to: AttemptStatus) -> bool:
    return to in ATTEMPT_TRANSITIONS[status]


# --- payments received --------------------------------------------------------------------


class PaymentSource(StrEnum):
    GATEWAY = "gateway"  # a succeeded attempt
    MANUAL = "manual"  # recorded by finance: bank transfer, check, cash


@dataclass(frozen=True)
class Allocation:
    invoice_id: str
    amount_minor: int  # > 0


@dataclass(frozen=True)
class Payment:
    """Money received, and where it went: invoices first, the rest to the customer's credit
    balance. amount = sum(allocations) + to_credit_minor, always."""

    id: str  # pmt_<ULID>
    customer_id: str
    amount_minor: int
    currency: str
    source: PaymentSource
    received_at: datetime
    allocations: tuple[Allocation, ...] = ()
    to_credit_minor: int = 0
    attempt_id: str | None = None  # source gateway
    reference: str = ""  # source manual: the bank transfer id, the check number
    method: str = ""  # source manual: bank_transfer, check, cash, other
    refunded_minor: int = 0
    disputed_minor: int = 0

    @property
    def name(self) -> str:
        return f"payments/{self.id}"

    def __post_init__(self) -> None:
        allocated = sum(a.amount_minor for a in self.allocations)
        if allocated + self.to_credit_minor != self.amount_minor:
            raise ValueError("a payment's allocations and credit must add up to its amount")


# --- refunds ------------------------------------------------------------------------------


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


REFUND_TRANSITIONS: Mapping[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING: frozenset(
        {RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.UNKNOWN}
    ),
    RefundStatus.UNKNOWN: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}


@dataclass(frozen=True)
class Refund:
    id: str  # re_<ULID>
    payment_id: str
    attempt_id: str | None  # the charge refunded at its gateway; None for a manual payment
    customer_id: str
    amount_minor: int
    currency: str
    status: RefundStatus
    idempotency_key: str
    reason: str
    created_at: datetime
    updated_at: datetime
    credit_note_id: str | None = None
    gateway_reference: str = ""
    failure_message: str = ""
    version: int = 1

    @property
    def name(self) -> str:
        return f"refunds/{self.id}"


# --- disputes -----------------------------------------------------------------------------


class DisputeStatus(StrEnum):
    OPEN = "open"  # the money is held; evidence may be sent
    WON = "won"  # returned to us
    LOST = "lost"  # gone, with the fee


DISPUTE_TRANSITIONS: Mapping[DisputeStatus, frozenset[DisputeStatus]] = {
    DisputeStatus.OPEN: frozenset({DisputeStatus.WON, DisputeStatus.LOST}),
    DisputeStatus.WON: frozenset(),
    DisputeStatus.LOST: frozenset(),
}


@dataclass(frozen=True)
class Dispute:
    id: str  # dp_<ULID>
    payment_id: str
    attempt_id: str
    customer_id: str
    gateway: str
    gateway_dispute_id: str
    amount_minor: int
    fee_minor: int
    currency: str
    status: DisputeStatus
    reason: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    version: int = 1

    @property
    def name(self) -> str:
        return f"disputes/{self.id}"


# --- webhooks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayEventRecord:
    """A gateway's webhook event, kept once by (gateway, event id): a duplicate delivery
    finds it and changes nothing."""

    gateway: str
    event_id: str
    type: str
    received_at: datetime
    outcome: str  # what it changed: "attempts/... succeeded", "ignored: unknown charge"...
    details: Mapping[str, str] = field(default_factory=dict)
