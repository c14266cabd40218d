"""Catalog use cases: products, plans and prices as of an instant, and price previews.

Every answer carries the active rule set it came from. Raises NotFound, InvalidArgument,
NoActiveRuleSet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.app.clock import Clock
from billing.app.context import CallContext
from billing.app.rules import ActiveRules, RuleUseCases
from billing.domain.errors import InvalidArgument, NotFound
from billing.domain.money import (
    QUANTITY_MAX,
    AmountOutOfRange,
    Money,
    parse_decimal,
    round_to_minor,
)
from billing.domain.pricing import Priced
from billing.plugins.engines import PricingModel, PricingRequest
from billing.plugins.registry import Engines
from billing.rules.model import Plan, Price, Product

MAX_QUANTITY = QUANTITY_MAX  # bounded: beyond this a quantity is a bug upstream


@dataclass(frozen=True)
class PricePreview:
    price: Price
    priced: Priced
    amount: Money
    rounding: str
    rules: ActiveRules


class CatalogUseCases:
    def __init__(self, rules: RuleUseCases, engines: Engines, clock: Clock) -> None:
        self._rules = rules
        self._engines = engines
        self._clock = clock

    async def products(self, ctx: CallContext) -> tuple[list[Product], ActiveRules]:
        active = await self._rules.active_rules(ctx)
        products = active.rules.catalog.products
        return [products[code] for code in sorted(products)], active

    async def plans(
        self, ctx: CallContext, as_of: datetime | None
    ) -> tuple[list[Plan], ActiveRules]:
        active = await self._rules.active_rules(ctx)
        plans = active.rules.catalog_as_of(as_of or self._clock.now()).plans
        return [plans[code] for code in sorted(plans)], active

    async def plan(
        self, ctx: CallContext, name: str, as_of: datetime | None
    ) -> tuple[Plan, ActiveRules]:
        code = _code(name, "plans")
        active = await self._rules.active_rules(ctx)
        plan = active.rules.catalog_as_of(as_of or self._clock.now()).plans.get(code)
        if plan is None:
            raise NotFound(name)
        return plan, active

    async def price(
        self, ctx: CallContext, name: str, as_of: datetime | None
    ) -> tuple[Price, ActiveRules]:
        active = await self._rules.active_rules(ctx)
        return _price_in_force(active, name, as_of or self._clock.now(), "name"), active

    async def preview_price(
        self, ctx: CallContext, name: str, quantity_text: str, as_of: datetime | None
    ) -> PricePreview:
        quantity = _quantity(quantity_text)
        active = await self._rules.active_rules(ctx)
        price = _price_in_force(active, name, as_of or self._clock.now(), "price")
        engine: PricingModel = self._engines.get("pricing_model", price.model)
        priced = engine.price(PricingRequest(price, quantity))
        rounding = active.rules.money.rounding_for(price.currency)
        try:
            amount = round_to_minor(priced.amount, price.currency, rounding)
        except AmountOutOfRange as exc:
            raise exc.naming("quantity") from None
        return PricePreview(price, priced, amount, rounding, active)


def _code(name: str, collection: str, field: str = "name") -> str:
    head, _, code = name.partition("/")
    if head != collection or not code:
        raise InvalidArgument.single(field, f"must look like {collection}/<code>, got {name!r}")
    return code


def _price_in_force(active: ActiveRules, name: str, at: datetime, field: str) -> Price:
    code = _code(name, "prices", field)
    try:
        price = active.rules.price_in_force(code, at)
    except KeyError:
        raise NotFound(name) from None
    if price is None:
        raise NotFound(f"{name} (no version in force at {at.isoformat()})")
    return price


def _quantity(text: str) -> Decimal:
    try:
        quantity = parse_decimal(text)
    except ValueError as exc:
        raise InvalidArgument.single("quantity", str(exc)) from None
    if quantity < 0 or quantity > MAX_QUANTITY:
        raise InvalidArgument.single("quantity", f"must be between 0 and {MAX_QUANTITY}")
    return quantity
