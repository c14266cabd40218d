"""Which gateways may charge a method, in failover order (ADR 0034): the first routing case
whose conditions all hold names them, filtered to the gateways of the method's token pool.

SEAM: returns the method's own gateway until the routing rules land.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.domain.payment_rules import PaymentRules


@dataclass(frozen=True)
class RouteFacts:
    currency: str
    amount_minor: int
    method_gateway: str  # the gateway that issued the method's token
    method_type: str
    country: str  # the method's country, else its billing country
    segment: str  # the customer's metadata["segment"], or ""


@dataclass(frozen=True)
class Route:
    gateways: tuple[str, ...]  # in failover order; never empty
    case: str  # the routing case that chose them ("" for the default)


class NoRoute(ValueError):
    """No gateway of the rules can charge this method (FAILED_PRECONDITION at the edge)."""


def route(rules: PaymentRules, facts: RouteFacts) -> Route:
    if rules.gateway(facts.method_gateway) is None:
        raise NoRoute(f"the payment rules have no gateway {facts.method_gateway!r}")
    return Route((facts.method_gateway,), "")
