"""Fraud checks before a charge (ADR 0034, ADR 0040): velocity, amounts for new customers and
country mismatch, from the payment rules. Every check that fires gives its outcome and a
reason in plain words; the worst outcome wins (block > review > allow) and every reason is
kept, in the order of the rules.

- Velocity: for each limit, the attempts already recorded in its window (counted by the
  caller, this attempt left out) plus this one; more than `max_attempts` fires. Scope
  `method` counts the payment method, `customer` the customer, `country` the card's country
  (else the billing country; with neither, the limit does not apply).
- New customer: a customer younger than `max_age` charged more than the limit of the
  charge's currency fires; a currency the limit does not list is not limited.
- Country mismatch: the card's, the billing address's and the request's countries, blanks
  ignored, are not all the same.

External scorers run in the app layer (`billing.app.fraud_scoring`): they are outside calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from billing.domain.errors import InvariantBroken
from billing.domain.money import Money
from billing.domain.payment_rules import (
    FraudRules,
    NewCustomerLimit,
    VelocityLimit,
    duration_text,
)

OUTCOMES = ("allow", "review", "block")  # in rising severity
_SEVERITY = {outcome: rank for rank, outcome in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class FraudFacts:
    amount_minor: int
    currency: str
    card_country: str
    billing_country: str
    request_country: str
    customer_age_days: int
    # Attempts already recorded in each velocity limit's window, this attempt left out; the
    # caller counts them with `PaymentAttemptRepository.count_since` for each limit of the
    # rules. Each entry is (limit, count), the limit being the rules' VelocityLimit (see
    # `velocity_counts`); (scope, count) in the order of `rules.velocity` is also read.
    recent_attempts: tuple[tuple[VelocityLimit | str, int], ...] = ()
    # Finer than customer_age_days when the caller has it (a customer 6 days 23 hours old is
    # younger than 7d).
    customer_age: timedelta | None = None
    # For external scorers (FraudRequest); the rules' own checks do not read them.
    tenant_id: str = ""
    customer_id: str = ""
    method_type: str = ""

    @property
    def velocity_country(self) -> str:
        """The country a `country` velocity limit counts: the card's, else the billing one."""
        return self.card_country or self.billing_country


@dataclass(frozen=True)
class Verdict:
    outcome: str  # allow, review, block
    reasons: tuple[str, ...] = ()


ALLOW = Verdict("allow")


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The most severe outcome, with every reason in order."""
    outcome, reasons = "allow", list[str]()
    for verdict in verdicts:
        if _SEVERITY[verdict.outcome] > _SEVERITY[outcome]:
            outcome = verdict.outcome
        reasons.extend(verdict.reasons)
    return Verdict(outcome, tuple(reasons))


def is_outcome(value: object) -> bool:
    return isinstance(value, str) and value in _SEVERITY


def assess(rules: FraudRules, facts: FraudFacts) -> Verdict:
    found: list[Verdict] = []
    for index, limit in enumerate(rules.velocity):
        found.extend(_velocity(limit, _count(limit, index, facts), facts))
    if rules.new_customer is not None:
        found.extend(_new_customer(rules.new_customer, facts))
    if rules.country_mismatch != "allow":
        found.extend(_country_mismatch(rules.country_mismatch, facts))
    return worst(found)


def velocity_counts(
    rules: FraudRules, counts: Iterable[int]
) -> tuple[tuple[VelocityLimit | str, int], ...]:
    """`recent_attempts` from the counts of each limit, in the order of `rules.velocity`."""
    return tuple(zip(rules.velocity, counts, strict=True))


def _count(limit: VelocityLimit, index: int, facts: FraudFacts) -> int:
    for key, count in facts.recent_attempts:
        if key is limit:
            return count
    if index < len(facts.recent_attempts):
        key, count = facts.recent_attempts[index]
        if key in (limit, limit.scope):
            return count
    # Counting zero would let every attempt through unchecked: a caller's bug, said loudly.
    raise InvariantBroken(f"no attempt count for velocity limit {index} ({limit.scope})")


_SCOPE_WORDS = {"method": "on this payment method", "customer": "by this customer"}


def _velocity(limit: VelocityLimit, recorded: int, facts: FraudFacts) -> list[Verdict]:
    if limit.scope == "country":
        if not facts.velocity_country:
            return []
        where = f"from {facts.velocity_country}"
    else:
        where = _SCOPE_WORDS[limit.scope]
    attempts = recorded + 1  # this one included
    if attempts <= limit.max_attempts:
        return []
    window = duration_text(limit.window)
    reason = f"{attempts} attempts {where} in {window} (at most {limit.max_attempts})"
    return [Verdict(limit.outcome, (reason,))]


def _new_customer(limit: NewCustomerLimit, facts: FraudFacts) -> list[Verdict]:
    age = facts.customer_age
    if age is None:
        age = timedelta(days=facts.customer_age_days)
    ceiling = limit.max_amount_minor.get(facts.currency)
    if age >= limit.max_age or ceiling is None or facts.amount_minor <= ceiling:
        return []
    charged, most = Money(facts.currency, facts.amount_minor), Money(facts.currency, ceiling)
    reason = (
        f"{charged} from a customer created {_age_words(age)} ago (customers newer than"
        f" {duration_text(limit.max_age)}: at most {most})"
    )
    return [Verdict(limit.outcome, (reason,))]


def _age_words(age: timedelta) -> str:
    if age >= timedelta(days=1):
        days = age.days
        return f"{days} day{'s' if days != 1 else ''}"
    hours = int(age.total_seconds()) // 3600
    return f"{hours} hour{'s' if hours != 1 else ''}" if hours else "less than an hour"


def _country_mismatch(outcome: str, facts: FraudFacts) -> list[Verdict]:
    known = [
        (what, country)
        for what, country in (
            ("card", facts.card_country),
            ("billing address", facts.billing_country),
            ("request", facts.request_country),
        )
        if country
    ]
    if len({country for _, country in known}) <= 1:
        return []
    reason = "countries differ: " + ", ".join(f"{what} {country}" for what, country in known)
    return [Verdict(outcome, (reason,))]
