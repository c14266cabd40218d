"""Routing (ordered cases, token pools, failover order) and circuit breakers (ADR 0040)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from billing.app.circuit_breakers import BreakerState, CircuitBreakers
from billing.domain.payment_routing import NoRoute, Route, RouteFacts, route
from billing.domain.payment_rules import (
    CircuitBreakerRule,
    GatewayRule,
    PaymentRules,
    RoutingCase,
    RoutingMatch,
)

RULES = PaymentRules(
    gateways=(
        GatewayRule("sandbox", "sandbox"),
        GatewayRule("stripe_eu", "stripe", token_pool="stripe"),
        GatewayRule("stripe_us", "stripe", token_pool="stripe"),
        GatewayRule("adyen_eu", "adyen"),
        GatewayRule("orphan", "sandbox"),  # its own pool, named by no case
    ),
    routing=(
        RoutingCase(
            RoutingMatch(currencies=("EUR",), min_amounts_minor={"EUR": 500000}),
            ("adyen_eu", "stripe_eu", "stripe_us"),
            "big_eur",
        ),
        RoutingCase(RoutingMatch(countries=("US", "CA")), ("stripe_us", "stripe_eu"), "americas"),
        RoutingCase(
            RoutingMatch(method_types=("sepa_debit",), max_amounts_minor={"EUR": 100000}),
            ("adyen_eu",),
            "small_sepa",
        ),
        RoutingCase(RoutingMatch(segments=("enterprise",)), ("stripe_eu", "stripe_us"), "ent"),
        RoutingCase(RoutingMatch(currencies=("CHF",)), ("adyen_eu",), "chf_adyen_only"),
    ),
)
CARD = RouteFacts("EUR", 1000, "stripe_eu", "card", "DE", "")


def test_no_case_matches_the_methods_own_gateway() -> None:
    assert route(RULES, CARD) == Route(("stripe_eu",), "")
    assert route(RULES, replace(CARD, method_gateway="sandbox")) == Route(("sandbox",), "")


def test_first_matching_case_in_its_order_kept_to_the_methods_pool() -> None:
    big = replace(CARD, amount_minor=500000)
    assert route(RULES, big) == Route(("stripe_eu", "stripe_us"), "big_eur")
    assert route(RULES, replace(big, method_gateway="adyen_eu")) == Route(("adyen_eu",), "big_eur")
    # A bound per currency: one cent below, or another currency, does not match.
    assert route(RULES, replace(big, amount_minor=499999)) == Route(("stripe_eu",), "")
    assert route(RULES, replace(big, currency="USD")) == Route(("stripe_eu",), "")
    # Both the first and a later case hold: the first wins.
    assert route(RULES, replace(big, country="US")) == Route(("stripe_eu", "stripe_us"), "big_eur")


def test_each_condition_selects_its_case() -> None:
    assert route(RULES, replace(CARD, country="CA")) == Route(
        ("stripe_us", "stripe_eu"), "americas"
    )
    sepa = RouteFacts("EUR", 100000, "adyen_eu", "sepa_debit", "FR", "")
    assert route(RULES, sepa) == Route(("adyen_eu",), "small_sepa")
    assert route(RULES, replace(sepa, amount_minor=100001)) == Route(("adyen_eu",), "")
    assert route(RULES, replace(sepa, method_type="card")) == Route(("adyen_eu",), "")
    ent = replace(CARD, segment="enterprise")
    assert route(RULES, ent) == Route(("stripe_eu", "stripe_us"), "ent")
    assert route(RULES, replace(ent, segment="smb")) == Route(("stripe_eu",), "")
    # An unknown country matches no case that asks for one.
    assert route(RULES, replace(CARD, country="")) == Route(("stripe_eu",), "")


def test_plain_bounds_in_the_charges_currency() -> None:
    case = RoutingCase(
        RoutingMatch(min_amount_minor=100, max_amount_minor=200), ("sandbox",), "mid"
    )
    rules = replace(RULES, routing=(case,))
    own = replace(CARD, method_gateway="sandbox")
    found = [route(rules, replace(own, amount_minor=a)).case for a in (99, 100, 200, 201)]
    assert found == ["", "mid", "mid", ""]


def test_no_route_says_why() -> None:
    with pytest.raises(NoRoute) as raised:
        route(RULES, replace(CARD, currency="CHF"))
    assert str(raised.value) == (
        "routing case 'chf_adyen_only' matches this payment but names no gateway of the"
        " method's token pool 'stripe' (it names adyen_eu)"
    )
    with pytest.raises(NoRoute) as raised:
        route(RULES, replace(CARD, method_gateway="braintree"))
    assert str(raised.value) == (
        "the payment method was issued by gateway 'braintree', which the payment rules no"
        " longer declare"
    )


# --- circuit breakers -----------------------------------------------------------------------

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RULE = CircuitBreakerRule(failures=3, open_for=timedelta(seconds=60))


def test_opens_after_n_consecutive_outages_per_tenant_and_gateway() -> None:
    breakers = CircuitBreakers()
    for second in range(2):
        breakers.record_outage("t1", "stripe_eu", RULE, T0 + timedelta(seconds=second))
    assert breakers.allow("t1", "stripe_eu", RULE, T0 + timedelta(seconds=2))
    assert breakers.state("t1", "stripe_eu", T0) == BreakerState("stripe_eu", "closed", 2, None)
    breakers.record_outage("t1", "stripe_eu", RULE, T0 + timedelta(seconds=2))
    retry_at = T0 + timedelta(seconds=62)
    assert not breakers.allow("t1", "stripe_eu", RULE, T0 + timedelta(seconds=61))
    assert breakers.state("t1", "stripe_eu", T0 + timedelta(seconds=3)) == BreakerState(
        "stripe_eu", "open", 3, retry_at
    )
    # Another tenant, another gateway: untouched.
    assert breakers.allow("t2", "stripe_eu", RULE, T0 + timedelta(seconds=3))
    assert breakers.allow("t1", "stripe_us", RULE, T0 + timedelta(seconds=3))


def test_a_definite_answer_resets_the_count() -> None:
    breakers = CircuitBreakers()
    breakers.record_outage("t1", "g", RULE, T0)
    breakers.record_outage("t1", "g", RULE, T0)
    breakers.record_success("t1", "g")  # a decline counts as an answer too
    breakers.record_outage("t1", "g", RULE, T0)
    breakers.record_outage("t1", "g", RULE, T0)
    assert breakers.state("t1", "g", T0) == BreakerState("g", "closed", 2, None)


def _open(breakers: CircuitBreakers) -> None:
    for _ in range(RULE.failures):
        breakers.record_outage("t1", "g", RULE, T0)


def test_half_open_lets_one_call_through_and_success_closes() -> None:
    breakers = CircuitBreakers()
    _open(breakers)
    later = T0 + timedelta(seconds=60)
    assert not breakers.allow("t1", "g", RULE, later - timedelta(microseconds=1))
    assert breakers.state("t1", "g", later).state == "half_open"
    assert breakers.allow("t1", "g", RULE, later)  # the probe
    assert not breakers.allow("t1", "g", RULE, later + timedelta(seconds=1))  # only one
    breakers.record_success("t1", "g")
    assert breakers.state("t1", "g", later) == BreakerState("g", "closed", 0, None)
    assert breakers.allow("t1", "g", RULE, later + timedelta(seconds=1))


def test_an_outage_of_the_probe_reopens_for_another_window() -> None:
    breakers = CircuitBreakers()
    _open(breakers)
    probe_at = T0 + timedelta(seconds=90)
    assert breakers.allow("t1", "g", RULE, probe_at)
    breakers.record_outage("t1", "g", RULE, probe_at + timedelta(seconds=5))
    reopened_until = probe_at + timedelta(seconds=65)
    assert breakers.state("t1", "g", probe_at + timedelta(seconds=6)) == BreakerState(
        "g", "open", 4, reopened_until
    )
    assert not breakers.allow("t1", "g", RULE, reopened_until - timedelta(seconds=1))
    assert breakers.allow("t1", "g", RULE, reopened_until)


def test_a_late_outage_of_a_call_sent_before_it_opened_does_not_extend_it() -> None:
    breakers = CircuitBreakers()
    _open(breakers)
    breakers.record_outage("t1", "g", RULE, T0 + timedelta(seconds=30))
    assert breakers.state("t1", "g", T0).retry_at == T0 + timedelta(seconds=60)


def test_a_probe_that_never_reports_frees_the_slot_after_open_for() -> None:
    breakers = CircuitBreakers()
    _open(breakers)
    probe_at = T0 + timedelta(seconds=60)
    assert breakers.allow("t1", "g", RULE, probe_at)
    assert not breakers.allow("t1", "g", RULE, probe_at + timedelta(seconds=59))
    assert breakers.allow("t1", "g", RULE, probe_at + timedelta(seconds=60))


def test_exactly_one_probe_among_racing_threads_and_tasks() -> None:
    breakers = CircuitBreakers()
    _open(breakers)
    later = T0 + timedelta(seconds=60)
    allowed: list[bool] = []
    start = threading.Barrier(16)

    def call() -> None:
        start.wait()
        allowed.append(breakers.allow("t1", "g", RULE, later))

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(allowed) == [False] * 15 + [True]

    async def tasks() -> list[bool]:
        other = CircuitBreakers()
        for _ in range(RULE.failures):
            other.record_outage("t1", "g", RULE, T0)

        async def one() -> bool:
            await asyncio.sleep(0)
            return other.allow("t1", "g", RULE, later)

        return list(await asyncio.gather(*(one() for _ in range(16))))

    assert sorted(asyncio.run(tasks())) == [False] * 15 + [True]


def test_states_for_list_gateways() -> None:
    breakers = CircuitBreakers()
    _open(breakers)
    assert breakers.states("t1", ("sandbox", "g"), T0) == (
        BreakerState("sandbox", "closed", 0, None),
        BreakerState("g", "open", 3, T0 + timedelta(seconds=60)),
    )
