"""Stripe's objects and errors in our terms (ADR 0037): pure functions over the JSON Stripe
sends (plain dicts), so every mapping is testable without a network.

Stripe's `decline_code` (the issuer's reason) and `code` (Stripe's own error code) are both
normalized to `DECLINE_CODES`; the code as sent stays in `gateway_code`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from billing.plugins.engines import DECLINE_CODES, GatewayOutcome, GatewayStatus

# Where we put our idempotency key on every PaymentIntent and Refund we create: the only
# way back from our key to Stripe's object (Stripe has no lookup by Idempotency-Key).
KEY_FIELD = "billing_idempotency_key"

# Stripe codes that are ours under another name; the rest of DECLINE_CODES is spelled alike.
_DECLINE_ALIASES: Mapping[str, str] = {
    "card_declined": "generic_decline",
    "invalid_cvc": "incorrect_cvc",
    "incorrect_number": "invalid_account",
    "invalid_number": "invalid_account",
    "new_account_information_available": "invalid_account",
    "merchant_blacklist": "fraudulent",
    "restricted_card": "pickup_card",
    "security_violation": "pickup_card",
    "withdrawal_count_limit_exceeded": "insufficient_funds",
    "card_velocity_exceeded": "insufficient_funds",
    "try_again_later": "processing_error",
    "issuer_not_available": "processing_error",
    "reenter_transaction": "processing_error",
    "transaction_not_allowed": "card_not_supported",
    "not_permitted": "card_not_supported",
    "service_not_allowed": "card_not_supported",
}

# Identifiers that must never reach a message we store or show: payment method and token
# ids, API keys, webhook secrets (Stripe echoes a bad `payment_method` in its message).
_SECRET_IDS = re.compile(
    r"\b(pm|tok|card|src|ba|seti|sk_live|sk_test|rk_live|rk_test|whsec)_[A-Za-z0-9]+"
)


def scrub(message: str) -> str:
    """A message safe to store: every token-like id cut to its prefix."""
    return _SECRET_IDS.sub(lambda m: f"{m.group(1)}_…", message)[:500]


def decline_code(*codes: str | None) -> str:
    """The first of Stripe's codes we know (decline_code before code), else generic."""
    for code in codes:
        if not code:
            continue
        if code in DECLINE_CODES:
            return code
        if code in _DECLINE_ALIASES:
            return _DECLINE_ALIASES[code]
    return "generic_decline"


def _action_url(next_action: Mapping[str, Any] | None) -> str:
    if not next_action:
        return ""
    redirect = next_action.get("redirect_to_url") or {}
    return str(redirect.get("url") or "")


def _declined(error: Mapping[str, Any], reference: str) -> GatewayOutcome:
    raw_decline, raw_code = error.get("decline_code"), error.get("code")
    if "authentication_required" in (raw_decline, raw_code):
        # Off session: the bank wants the customer; they must come back and authenticate.
        intent = error.get("payment_intent") or {}
        return GatewayOutcome(
            GatewayStatus.REQUIRES_ACTION,
            reference,
            gateway_code=str(raw_decline or raw_code),
            message=scrub(
                str(error.get("message") or "the bank asks the customer to authenticate")
            ),
            action_url=_action_url(intent.get("next_action")),
        )
    return GatewayOutcome(
        GatewayStatus.FAILED,
        reference,
        decline_code=decline_code(raw_decline, raw_code),
        gateway_code=str(raw_decline or raw_code or ""),
        message=scrub(str(error.get("message") or "the card was declined")),
    )


def charge_outcome(intent: Mapping[str, Any]) -> GatewayOutcome:
    """A PaymentIntent as the outcome of a purchase, an authorization or a lookup."""
    reference = str(intent.get("id") or "")
    status = intent.get("status")
    if status == "succeeded":
        return GatewayOutcome(
            GatewayStatus.SUCCEEDED, reference, amount_minor=int(intent.get("amount_received") or 0)
        )
    if status == "requires_capture":  # authorized: the money is held, not yet taken
        return GatewayOutcome(
            GatewayStatus.SUCCEEDED,
            reference,
            amount_minor=int(intent.get("amount_capturable") or 0),
        )
    if status == "requires_action":
        return GatewayOutcome(
            GatewayStatus.REQUIRES_ACTION,
            reference,
            gateway_code="requires_action",
            message="the customer must authenticate the payment",
            action_url=_action_url(intent.get("next_action")),
        )
    if status == "processing":
        return GatewayOutcome(GatewayStatus.PENDING, reference, gateway_code="processing")
    if status == "requires_payment_method":
        # A confirmation failed (the error is kept on the intent) and nothing was taken.
        return _declined(intent.get("last_payment_error") or {}, reference)
    if status == "canceled":
        return GatewayOutcome(
            GatewayStatus.FAILED,
            reference,
            decline_code="generic_decline",
            gateway_code="canceled",
            message=f"the payment was canceled ({intent.get('cancellation_reason') or 'unsaid'})",
        )
    # requires_confirmation, or a status newer than this code: nothing we can call final.
    return GatewayOutcome(
        GatewayStatus.PENDING,
        reference,
        gateway_code=str(status),
        message=f"Stripe status {status}",
    )


def void_outcome(intent: Mapping[str, Any]) -> GatewayOutcome:
    """A cancel's answer: a canceled intent is a void that happened."""
    if intent.get("status") == "canceled":
        return GatewayOutcome(GatewayStatus.SUCCEEDED, str(intent.get("id") or ""))
    return charge_outcome(intent)


def refund_outcome(refund: Mapping[str, Any]) -> GatewayOutcome:
    reference = str(refund.get("id") or "")
    status = refund.get("status")
    amount = int(refund.get("amount") or 0)
    if status == "succeeded":
        return GatewayOutcome(GatewayStatus.SUCCEEDED, reference, amount_minor=amount)
    if status in ("failed", "canceled"):
        reason = str(refund.get("failure_reason") or status)
        return GatewayOutcome(
            GatewayStatus.FAILED,
            reference,
            gateway_code=reason,
            message=f"refund {status}: {reason}",
        )
    # pending, requires_action: the money has not moved yet; a webhook or lookup settles it.
    return GatewayOutcome(GatewayStatus.PENDING, reference, gateway_code=str(status))


def card_error_outcome(error: Mapping[str, Any]) -> GatewayOutcome:
    """A 402 (CardError) body's `error`: a decline, or authentication required."""
    intent = error.get("payment_intent") or {}
    return _declined(error, str(intent.get("id") or ""))
