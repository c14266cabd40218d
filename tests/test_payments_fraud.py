"""Fraud checks (ADR 0040): each rule blocks or reviews and says why in exact words, the
worst outcome wins, and external scorers registered by a plugin take part."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from billing.app.fraud_scoring import assess_payment
from billing.domain.errors import InvariantBroken
from billing.domain.fraud import ALLOW, FraudFacts, Verdict, assess, velocity_counts, worst
from billing.domain.payment_rules import FraudRules, NewCustomerLimit, VelocityLimit
from billing.plugins.engines import FraudRequest
from fraud_scorer_plugin import engines_with_scorers

PER_METHOD = VelocityLimit("method", timedelta(hours=1), 3, "block")
PER_CUSTOMER = VelocityLimit("customer", timedelta(days=1), 10, "review")
PER_COUNTRY = VelocityLimit("country", timedelta(minutes=5), 100, "review")
RULES = FraudRules(
    velocity=(PER_METHOD, PER_CUSTOMER, PER_COUNTRY),
    new_customer=NewCustomerLimit(timedelta(days=7), {"EUR": 50000, "JPY": 60000}, "review"),
    country_mismatch="review",
)
FACTS = FraudFacts(
    amount_minor=2000,
    currency="EUR",
    card_country="DE",
    billing_country="DE",
    request_country="",
    customer_age_days=400,
    recent_attempts=velocity_counts(RULES, (0, 0, 0)),
    tenant_id="t1",
    customer_id="cus_1",
    method_type="card",
)


def _counts(method: int = 0, customer: int = 0, country: int = 0) -> FraudFacts:
    return replace(FACTS, recent_attempts=velocity_counts(RULES, (method, customer, country)))


def test_nothing_fires() -> None:
    assert assess(RULES, FACTS) == ALLOW
    assert assess(FraudRules(), FACTS) == ALLOW


def test_velocity_per_method_blocks_above_the_limit_counting_this_attempt() -> None:
    assert assess(RULES, _counts(method=2)) == ALLOW  # 3 with this one: at the limit
    assert assess(RULES, _counts(method=3)) == Verdict(
        "block", ("4 attempts on this payment method in 1h (at most 3)",)
    )


def test_velocity_per_customer_and_country_review() -> None:
    assert assess(RULES, _counts(customer=10)) == Verdict(
        "review", ("11 attempts by this customer in 1d (at most 10)",)
    )
    assert assess(RULES, _counts(country=100)) == Verdict(
        "review", ("101 attempts from DE in 5m (at most 100)",)
    )
    # The country counted is the card's, else the billing address's; with neither, no limit.
    no_card = replace(_counts(country=100), card_country="", billing_country="AT")
    assert assess(RULES, no_card).reasons == ("101 attempts from AT in 5m (at most 100)",)
    nowhere = replace(no_card, billing_country="")
    assert assess(RULES, nowhere) == ALLOW


def test_counts_given_by_scope_in_the_order_of_the_rules() -> None:
    facts = replace(FACTS, recent_attempts=(("method", 5), ("customer", 0), ("country", 0)))
    assert assess(RULES, facts).outcome == "block"
    with pytest.raises(InvariantBroken, match=r"no attempt count for velocity limit 2 \(country\)"):
        assess(RULES, replace(FACTS, recent_attempts=(("method", 0), ("customer", 0))))


def test_new_customer_amount_per_currency() -> None:
    young = replace(FACTS, customer_age_days=2)
    assert assess(RULES, replace(young, amount_minor=50000)) == ALLOW  # at the limit
    assert assess(RULES, replace(young, amount_minor=50001)) == Verdict(
        "review",
        (
            "500.01 EUR from a customer created 2 days ago (customers newer than 7d: at"
            " most 500.00 EUR)",
        ),
    )
    assert assess(RULES, replace(young, currency="JPY", amount_minor=60001)).reasons == (
        "60001 JPY from a customer created 2 days ago (customers newer than 7d: at most 60000 JPY)",
    )
    # A currency the limit does not list is not limited; an old customer neither.
    assert assess(RULES, replace(young, currency="USD", amount_minor=10**9)) == ALLOW
    assert assess(RULES, replace(FACTS, customer_age_days=7, amount_minor=10**9)) == ALLOW
    # The finer age, when given, decides: 6 days 23 hours is still new.
    almost = replace(young, customer_age=timedelta(days=6, hours=23), amount_minor=50001)
    assert assess(RULES, almost).outcome == "review"
    hours = replace(young, customer_age=timedelta(hours=5), amount_minor=50001)
    assert assess(RULES, hours).reasons == (
        "500.01 EUR from a customer created 5 hours ago (customers newer than 7d: at most"
        " 500.00 EUR)",
    )


def test_country_mismatch_ignores_blanks() -> None:
    assert assess(RULES, replace(FACTS, request_country="")) == ALLOW
    assert assess(RULES, replace(FACTS, request_country="DE")) == ALLOW
    assert assess(RULES, replace(FACTS, billing_country="", request_country="NG")) == Verdict(
        "review", ("countries differ: card DE, request NG",)
    )
    assert assess(RULES, replace(FACTS, billing_country="FR", request_country="NG")) == Verdict(
        "review", ("countries differ: card DE, billing address FR, request NG",)
    )
    blocking = replace(RULES, country_mismatch="block")
    assert assess(blocking, replace(FACTS, billing_country="FR")).outcome == "block"
    allowing = replace(RULES, country_mismatch="allow")
    assert assess(allowing, replace(FACTS, billing_country="FR")) == ALLOW


def test_worst_outcome_wins_and_every_reason_is_kept_in_rule_order() -> None:
    facts = replace(
        _counts(method=3, customer=10),
        customer_age_days=1,
        amount_minor=60000,
        billing_country="FR",
    )
    assert assess(RULES, facts) == Verdict(
        "block",
        (
            "4 attempts on this payment method in 1h (at most 3)",
            "11 attempts by this customer in 1d (at most 10)",
            "600.00 EUR from a customer created 1 day ago (customers newer than 7d: at"
            " most 500.00 EUR)",
            "countries differ: card DE, billing address FR",
        ),
    )
    assert worst([Verdict("review", ("a",)), ALLOW, Verdict("review", ("b",))]) == Verdict(
        "review", ("a", "b")
    )


# --- external scorers -------------------------------------------------------------------


def test_a_registered_scorer_blocks_with_its_reason_and_sees_the_facts() -> None:
    engines, plugin = engines_with_scorers()
    checks = engines.by_kind["fraud_check"]
    rules = replace(
        RULES,
        scorers=("block_list",),
        settings={"block_list": {"customers": ["cus_bad"]}},
    )
    facts = replace(_counts(method=2, customer=7, country=40), customer_id="cus_bad")
    verdict = asyncio.run(assess_payment(rules, facts, checks))
    assert verdict == Verdict("block", ("block_list: customer cus_bad is on the block list",))
    assert plugin.block_list.seen == [
        FraudRequest(
            tenant_id="t1",
            customer_id="cus_bad",
            amount_minor=2000,
            currency="EUR",
            method_type="card",
            card_country="DE",
            billing_country="DE",
            request_country="",
            customer_age_days=400,
            attempts_by_method=2,
            attempts_by_customer=7,
            attempts_by_country=40,
            settings={"customers": ["cus_bad"]},
        )
    ]
    # An allowed customer: the scorer's reasons for allowing are not kept.
    assert asyncio.run(assess_payment(rules, replace(facts, customer_id="cus_ok"), checks)) == ALLOW


def test_scorers_merge_with_the_rules_and_are_skipped_when_already_blocked() -> None:
    engines, plugin = engines_with_scorers()
    checks = engines.by_kind["fraud_check"]
    rules = replace(
        RULES, scorers=("block_list",), settings={"block_list": {"customers": ["cus_1"]}}
    )
    reviewed = replace(FACTS, billing_country="FR")
    assert asyncio.run(assess_payment(rules, reviewed, checks)) == Verdict(
        "block",
        (
            "countries differ: card DE, billing address FR",
            "block_list: customer cus_1 is on the block list",
        ),
    )
    plugin.block_list.seen.clear()
    blocked = asyncio.run(assess_payment(rules, _counts(method=3), checks))
    assert blocked.outcome == "block"
    assert plugin.block_list.seen == []  # nothing it says could change a block


def test_a_failing_slow_missing_or_confused_scorer_flags_review() -> None:
    engines, _ = engines_with_scorers()
    checks = engines.by_kind["fraud_check"]
    rules = replace(RULES, scorers=("broken", "sleepy", "gone", "confused"))
    verdict = asyncio.run(assess_payment(rules, FACTS, checks, timeout_s=0.05))
    assert verdict == Verdict(
        "review",
        (
            "broken: failed (ConnectionError)",
            "sleepy: no answer within 0.05s",
            "gone: no such scorer is installed on this server",
            "confused: answered an unknown outcome 'maybe'",
        ),
    )
