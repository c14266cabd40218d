"""What a plan bills in a currency at an instant, as subscription items."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from billing.domain.errors import InvalidArgument, InvariantBroken, NotFound, Violations
from billing.domain.money import QUANTITY_MAX, parse_decimal
from billing.domain.subscriptions import Item
from billing.rules.model import Plan, RuleSet

LICENSED_MODELS = frozenset({"per_unit"})  # billed in advance by quantity; others are metered
FLAT_FEE_KEY = ""


def plan_at(rules: RuleSet, plan_code: str, at: datetime, field: str = "plan") -> Plan:
    plan = rules.catalog_as_of(at).plans.get(plan_code)
    if plan is None:
        if plan_code in rules.catalog.plans:
            raise InvalidArgument.single(field, f"plans/{plan_code} has no price in force then")
        raise NotFound(f"plans/{plan_code}")
    return plan


def items_for_plan(
    rules: RuleSet,
    plan: Plan,
    currency: str,
    at: datetime,
    quantities: Mapping[str, int],
    overrides: Mapping[str, Decimal],
    keep_unit_amounts: Mapping[str, Decimal] | None = None,
    carried_quantities: Mapping[str, int] | None = None,
) -> tuple[Item, ...]:
    """The plan's flat fee and per-unit prices in `currency`; metered prices are billed from
    usage, not here. `quantities` and `overrides` are keyed by price code ("" = flat fee);
    `keep_unit_amounts` carries negotiated amounts over a quantity change, and
    `carried_quantities` the current quantities of prices the plan also has (prices it does
    not have are dropped, unlike `quantities`, which must all exist)."""
    v = Violations()
    items: list[Item] = []
    licensed: set[str] = set()
    entries = [e for e in plan.prices if e.currency == currency]
    if not entries:
        raise InvalidArgument.single("plan", f"plans/{plan.code} has no {currency} price")
    for entry in entries:
        if entry.price_code is None:
            if entry.amount is None:  # the rule validator guarantees one of the two
                raise InvariantBroken(f"plans/{plan.code}: a price entry without an amount")
            key, unit, description, quantity = FLAT_FEE_KEY, entry.amount, plan.name or plan.code, 1
        else:
            price = rules.price_in_force(entry.price_code, at)
            metered = price is not None and price.metric is not None
            if price is None or metered or price.model not in LICENSED_MODELS:
                continue  # metered prices bill usage in arrears, not a quantity in advance
            if price.unit_amount is None:
                continue
            key, unit = entry.price_code, price.unit_amount
            description = price.name or price.code
            quantity = quantities.get(key, (carried_quantities or {}).get(key, 1))
            licensed.add(key)
        if keep_unit_amounts is not None and key in keep_unit_amounts:
            unit = keep_unit_amounts[key]
        negotiated = key in overrides
        unit = overrides.get(key, unit)
        items.append(Item(key or None, quantity, unit, description, unit, negotiated))
    for key, quantity in quantities.items():
        if key not in licensed:
            v.add(f'quantities["prices/{key}"]', f"plans/{plan.code} has no per-unit price {key}")
        elif quantity < 0:
            v.add(f'quantities["prices/{key}"]', "must not be negative")
        elif quantity > QUANTITY_MAX:
            v.add(f'quantities["prices/{key}"]', f"must be at most {QUANTITY_MAX:,}")
    v.raise_if_any()
    return tuple(items)


def parse_overrides(raw: Mapping[str, str]) -> dict[str, Decimal]:
    v = Violations()
    parsed: dict[str, Decimal] = {}
    for name, text in raw.items():
        key = name.removeprefix("prices/")
        try:
            amount = parse_decimal(text)
        except ValueError as exc:
            v.add(f'price_overrides["{name}"]', str(exc))
            continue
        if amount < 0:
            v.add(f'price_overrides["{name}"]', "must not be negative")
        parsed[key] = amount
    v.raise_if_any()
    return parsed


def parse_quantities(raw: Mapping[str, int]) -> dict[str, int]:
    v = Violations()
    parsed: dict[str, int] = {}
    for name, quantity in raw.items():
        if not name.startswith("prices/"):
            v.add(f'quantities["{name}"]', "keys are prices/<code>")
            continue
        parsed[name.removeprefix("prices/")] = quantity
    v.raise_if_any()
    return parsed


def repriced(
    rules: RuleSet, sub_items: tuple[Item, ...], plan_code: str, currency: str, at: datetime
) -> tuple[Item, ...]:
    """The items at the list prices in force at `at` (a renewal), negotiated prices kept.
    If the plan has no price in force then, the items stay as they are."""
    plan = rules.catalog_as_of(at).plans.get(plan_code)
    if plan is None or not any(e.currency == currency for e in plan.prices):
        return sub_items
    negotiated = {i.key: i.unit_amount for i in sub_items if i.negotiated}
    quantities = {i.key: i.quantity for i in sub_items if i.price_code}
    return items_for_plan(rules, plan, currency, at, {}, negotiated, carried_quantities=quantities)
