"""Decline codes in plain words, for the dunning notices a customer reads (ADR 0043).

Every normalized code of `billing.plugins.engines.DECLINE_CODES` has words here (a test
keeps it so), plus the two the server gives itself: `never_charged` (a charge the gateway
never received) and `fraud_blocked` (our own fraud check refused it). Each reads as the end
of a sentence ("the payment did not go through: <reason>."): lower case, no full stop.

Codes that point at a stolen or lost card, or at fraud, are told as a plain refusal: the
reader may be the person who has the card, and the words must not help them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_REFUSED_FOR_GOOD = "your bank declined the card, and it cannot be charged again"

DECLINE_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "insufficient_funds": "the card did not have enough funds available",
        "do_not_honor": "your bank declined the payment without giving a reason",
        "expired_card": "the card has expired",
        "stolen_card": _REFUSED_FOR_GOOD,
        "lost_card": _REFUSED_FOR_GOOD,
        "pickup_card": _REFUSED_FOR_GOOD,
        "incorrect_cvc": "the card's security code (CVC) was not accepted",
        "card_not_supported": "the card does not support this kind of payment",
        "currency_not_supported": "the card cannot be charged in this currency",
        "processing_error": "an error occurred while the payment was processed",
        "fraudulent": _REFUSED_FOR_GOOD,
        "authentication_required": "your bank asks you to confirm the payment",
        "invalid_account": "the account behind this payment method is closed or not valid",
        "generic_decline": "your bank declined the payment",
        "never_charged": "the payment could not be completed, and you were not charged",
        "fraud_blocked": "the payment was declined",
    }
)

# A code the server does not know (a newer plugin's): still a sentence a customer can read.
UNKNOWN_REASON = "the payment was declined"


def decline_reason(code: str) -> str:
    """`code` in plain words; an unknown or empty code reads as a plain decline."""
    return DECLINE_REASONS.get(code, UNKNOWN_REASON)
