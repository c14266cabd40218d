"""Turn validated `kind: payments` and `kind: routing` files into `PaymentRules` (ADR 0034,
ADR 0040). Runs only when both passes found nothing, so it trusts shapes and references.

Amounts are written in major units per currency (`EUR: 500.00`) like every price of the
rules, and kept in minor units (50000) like every amount the server moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from billing.domain.money import Money
from billing.domain.payment_rules import (
    DEFAULT_PAYMENT_RULES,
    CircuitBreakerRule,
    CollectionRule,
    FraudRules,
    GatewayRule,
    NewCustomerLimit,
    PaymentRules,
    ReconcileRule,
    RoutingCase,
    RoutingMatch,
    VelocityLimit,
)
from billing.rules.structure import ValidatedFile


def build_payment_rules(files: Sequence[ValidatedFile]) -> PaymentRules:
    """The payments and routing files (one each at most); without them, the defaults."""
    payments = next((f.data for f in files if f.kind == "payments"), None)
    routing = next((f for f in files if f.kind == "routing"), None)
    rules = DEFAULT_PAYMENT_RULES
    if payments is not None:
        rules = PaymentRules(
            gateways=_gateways(payments.get("gateways")) or rules.gateways,
            reconcile=_reconcile(payments.get("reconcile") or {}),
            fraud=_fraud(payments.get("fraud") or {}),
            collection=CollectionRule(
                (payments.get("collection") or {}).get("automatic", CollectionRule().automatic)
            ),
        )
    if routing is None:
        return rules
    breaker = routing.data.get("circuit_breaker") or {}
    defaults = CircuitBreakerRule()
    return PaymentRules(
        gateways=rules.gateways,
        routing=tuple(
            _case(path[1] if isinstance(path[1], int) else 0, case)
            for path, case in routing.items("cases")
        ),
        circuit_breaker=CircuitBreakerRule(
            breaker.get("failures", defaults.failures), breaker.get("open_for", defaults.open_for)
        ),
        reconcile=rules.reconcile,
        fraud=rules.fraud,
        collection=rules.collection,
    )


def minor_units(amount: Decimal, currency: str) -> int:
    """500.00 EUR -> 50000 (the meaning pass made sure it is payable exactly)."""
    return Money.from_decimal(amount, currency).amount_minor


def _per_currency(amounts: Mapping[str, Decimal] | None) -> Mapping[str, int]:
    return MappingProxyType(
        {currency: minor_units(amount, currency) for currency, amount in (amounts or {}).items()}
    )


def _gateways(items: Sequence[Mapping[str, Any]] | None) -> tuple[GatewayRule, ...]:
    return tuple(
        GatewayRule(
            item["name"],
            item["engine"],
            MappingProxyType(dict(item.get("settings") or {})),
            item.get("token_pool", ""),
        )
        for item in items or ()
    )


def _reconcile(data: Mapping[str, Any]) -> ReconcileRule:
    defaults = ReconcileRule()
    return ReconcileRule(
        tuple(data.get("lookups_after") or defaults.lookups_after),
        data.get("not_found_after", defaults.not_found_after),
    )


def _fraud(data: Mapping[str, Any]) -> FraudRules:
    new_customer = data.get("new_customer")
    scorers = data.get("scorers") or ()
    return FraudRules(
        velocity=tuple(
            VelocityLimit(v["scope"], v["window"], v["max_attempts"], v["outcome"])
            for v in data.get("velocity") or ()
        ),
        new_customer=None
        if new_customer is None
        else NewCustomerLimit(
            new_customer["max_age"],
            _per_currency(new_customer["max_amount"]),
            new_customer["outcome"],
        ),
        country_mismatch=data.get("country_mismatch", "allow"),
        scorers=tuple(s["name"] for s in scorers),
        settings=MappingProxyType(
            {s["name"]: MappingProxyType(dict(s.get("settings") or {})) for s in scorers}
        ),
    )


def _case(index: int, case: Mapping[str, Any]) -> RoutingCase:
    when = case.get("when") or {}
    return RoutingCase(
        RoutingMatch(
            currencies=tuple(when.get("currencies") or ()),
            countries=tuple(when.get("countries") or ()),
            method_types=tuple(when.get("method_types") or ()),
            segments=tuple(when.get("segments") or ()),
            min_amounts_minor=_per_currency(when.get("min_amount")),
            max_amounts_minor=_per_currency(when.get("max_amount")),
        ),
        tuple(case["gateways"]),
        case.get("name") or f"cases[{index}]",
    )
