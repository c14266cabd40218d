"""Which gateways may charge a method, in failover order (ADR 0034, ADR 0040).

- The first routing case whose conditions all hold names the gateways, kept in its order and
  filtered to the gateways of the method's **token pool** (a token only works where it was
  issued, or at a gateway sharing its pool).
- No case matches: the gateway that issued the method, alone.
- A matching case that names no gateway of the method's pool does not fall through to the
  next case: the rules sent this payment there, so it is refused (NoRoute) with the case and
  the pool named, rather than charged somewhere the rules did not say.

Breakers are not consulted here (they are per process state): the caller skips a gateway
whose breaker is open and moves on to the next of the route.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.domain.payment_rules import PaymentRules, RoutingMatch


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


def matches(when: RoutingMatch, facts: RouteFacts) -> bool:
    """Every listed condition holds; a country or segment that is unknown ("") matches only
    a case that does not ask for one."""
    if when.currencies and facts.currency not in when.currencies:
        return False
    if when.countries and facts.country not in when.countries:
        return False
    if when.method_types and facts.method_type not in when.method_types:
        return False
    if when.segments and facts.segment not in when.segments:
        return False
    if when.min_amount_minor is not None and facts.amount_minor < when.min_amount_minor:
        return False
    if when.max_amount_minor is not None and facts.amount_minor > when.max_amount_minor:
        return False
    # Bounds per currency: a currency they do not list does not match.
    if when.min_amounts_minor:
        low = when.min_amounts_minor.get(facts.currency)
        if low is None or facts.amount_minor < low:
            return False
    if when.max_amounts_minor:
        high = when.max_amounts_minor.get(facts.currency)
        if high is None or facts.amount_minor > high:
            return False
    return True


def route(rules: PaymentRules, facts: RouteFacts) -> Route:
    own = rules.gateway(facts.method_gateway)
    if own is None:
        raise NoRoute(
            f"the payment method was issued by gateway {facts.method_gateway!r}, which the"
            " payment rules no longer declare"
        )
    pool = own.pool
    for case in rules.routing:
        if not matches(case.when, facts):
            continue
        usable = tuple(
            name for name in case.gateways if (g := rules.gateway(name)) and g.pool == pool
        )
        if not usable:
            raise NoRoute(
                f"routing case {case.name!r} matches this payment but names no gateway of the"
                f" method's token pool {pool!r} (it names {', '.join(case.gateways)})"
            )
        return Route(usable, case.name)
    return Route((own.name,), "")
