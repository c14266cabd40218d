"""The payment rules (ADR 0034), kind `payments`: gateways, routing, circuit breakers, the
reconciler's schedule, fraud checks and collection. Without a payments file a rule set has
the defaults below: one `sandbox` gateway, automatic collection, no fraud limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class GatewayRule:
    name: str  # how routing, methods and webhooks name it, e.g. stripe_eu
    engine: str  # a registered gateway engine: sandbox, stripe, adyen...
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # Gateways of one pool take each other's tokens (e.g. two accounts of one platform, or a
    # vault's network tokens): failover only moves an attempt within the method's pool.
    token_pool: str = ""  # empty: its own name

    @property
    def pool(self) -> str:
        return self.token_pool or self.name


@dataclass(frozen=True, slots=True)
class RoutingMatch:
    """Every listed condition must hold; an empty one holds for all."""

    currencies: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()  # the method's country, else the billing country
    # Bounds in the charge's own currency, whatever it is (for code that builds rules; rule
    # files write bounds per currency below, since 100 means little without a currency).
    min_amount_minor: int | None = None  # inclusive
    max_amount_minor: int | None = None  # inclusive
    method_types: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()  # the customer's metadata["segment"]
    # Bounds per ISO 4217 currency in minor units (inclusive): when given, a charge in a
    # currency they do not list does not match.
    min_amounts_minor: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    max_amounts_minor: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class RoutingCase:
    when: RoutingMatch
    gateways: tuple[str, ...]  # in failover order
    name: str = ""  # shown on the attempt's audit record


@dataclass(frozen=True, slots=True)
class CircuitBreakerRule:
    failures: int = 5  # consecutive outages (unknown outcomes, connection errors) that open it
    open_for: timedelta = timedelta(seconds=60)  # then one call is let through (half open)


@dataclass(frozen=True, slots=True)
class ReconcileRule:
    # Status lookups of an unknown or pending attempt, at these delays after it was recorded;
    # after the last, the attempt stays unknown and is parked for a person.
    lookups_after: tuple[timedelta, ...] = (
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(hours=24),
    )
    # A key the gateway still says it never saw this long after the call is failed as
    # never charged (the call cannot arrive any more).
    not_found_after: timedelta = timedelta(minutes=10)

    def first_lookup_at(self, created_at: datetime) -> datetime:
        return created_at + self.lookups_after[0]

    def never_reached(self, created_at: datetime, at: datetime) -> bool:
        """Whether a `not_found` answer at `at` is final: the call cannot arrive any more."""
        return at - created_at >= self.not_found_after

    def spent(self, lookups: int) -> bool:
        """Whether `lookups` lookups are all the schedule holds: after the last, an
        unsettled attempt or refund is parked for a person."""
        return lookups >= len(self.lookups_after)

    def next_lookup_at(self, created_at: datetime, lookups: int, at: datetime) -> datetime | None:
        """When to look again after `lookups` lookups, the last at `at`; None once the
        schedule is spent (the item is parked for a person). Never at `at` itself: a due
        item's (subject, kind, due time) is unique."""
        if self.spent(lookups):
            return None
        return max(created_at + self.lookups_after[lookups], at + timedelta(microseconds=1))


@dataclass(frozen=True, slots=True)
class VelocityLimit:
    scope: str  # method, customer or country
    window: timedelta
    max_attempts: int  # more than this in the window -> `outcome`
    outcome: str = "block"  # review or block


@dataclass(frozen=True, slots=True)
class NewCustomerLimit:
    max_age: timedelta  # a customer younger than this is new
    max_amount_minor: Mapping[str, int]  # per currency: more than this -> `outcome`
    outcome: str = "review"


@dataclass(frozen=True, slots=True)
class FraudRules:
    velocity: tuple[VelocityLimit, ...] = ()
    new_customer: NewCustomerLimit | None = None
    # The card's country, the billing address's and the request's are not all the same.
    country_mismatch: str = "allow"  # allow, review or block
    scorers: tuple[str, ...] = ()  # registered FraudCheck names, run in order
    settings: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )  # per scorer


@dataclass(frozen=True, slots=True)
class CollectionRule:
    # charge_automatically invoices are charged at finalization through the subscription's
    # default method, else the customer's; without a method they stay open.
    automatic: bool = True


@dataclass(frozen=True, slots=True)
class PaymentRules:
    gateways: tuple[GatewayRule, ...] = (GatewayRule("sandbox", "sandbox"),)
    routing: tuple[RoutingCase, ...] = ()  # empty: the method's own gateway
    circuit_breaker: CircuitBreakerRule = CircuitBreakerRule()
    reconcile: ReconcileRule = ReconcileRule()
    fraud: FraudRules = FraudRules()
    collection: CollectionRule = CollectionRule()

    def gateway(self, name: str) -> GatewayRule | None:
        return next((g for g in self.gateways if g.name == name), None)


DEFAULT_PAYMENT_RULES = PaymentRules()

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_text(span: timedelta) -> str:
    """A span as the rule files write it (the largest unit that divides it): 1h, 7d, 90s;
    so a reason on an attempt reads like the limit it quotes."""
    seconds = span.total_seconds()
    if seconds != int(seconds) or seconds <= 0:
        return str(span)
    whole = int(seconds)
    unit, size = next((unit, size) for unit, size in _UNITS if whole % size == 0)
    return f"{whole // size}{unit}"
