"""Fraud checks before a charge (ADR 0034): velocity, amounts for new customers and country
mismatch, from the payment rules; the worst outcome wins (block > review > allow) and every
reason is kept in plain words.

SEAM: allows everything until the fraud rules land.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.domain.payment_rules import FraudRules


@dataclass(frozen=True)
class FraudFacts:
    amount_minor: int
    currency: str
    card_country: str
    billing_country: str
    request_country: str
    customer_age_days: int
    # Attempts already recorded in each velocity limit's window, by scope (method, customer,
    # country), the attempt being checked left out; the caller counts them with
    # `PaymentAttemptRepository.count_since` for each limit of the rules.
    recent_attempts: tuple[tuple[str, int], ...] = ()  # ((scope, count), ...) per limit


@dataclass(frozen=True)
class Verdict:
    outcome: str  # allow, review, block
    reasons: tuple[str, ...] = ()


ALLOW = Verdict("allow")


def assess(rules: FraudRules, facts: FraudFacts) -> Verdict:
    return ALLOW
