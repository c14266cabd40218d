"""Built-in pricing models: per_unit, graduated, volume, package (quantity models) and
percentage, graduated_percentage (on transaction amounts). per_unit, graduated and volume
price the request's prorated usage instead of its quantity when the price is prorated and
the usage is given (a billed period of a metric whose level persists)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from billing.domain import pricing, prorated_usage
from billing.domain.errors import InvariantBroken
from billing.domain.pricing import Priced
from billing.plugins.engines import PricingModel, PricingRequest
from billing.plugins.hookspecs import hookimpl


class _SchemaChecked:
    """Built-in models read fields the rule schema already checks; they take no params."""

    def check_params(self, params: Mapping[str, Any]) -> list[str]:
        return []


class PerUnit(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        if request.price.unit_amount is None:  # the rule validator requires one
            raise InvariantBroken(f"prices/{request.price.code} has no unit_amount")
        if request.price.prorated and request.prorated is not None:
            return prorated_usage.prorated_per_unit(request.prorated, request.price.unit_amount)
        return pricing.per_unit(request.quantity, request.price.unit_amount)


class Graduated(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        if price.prorated and request.prorated is not None:
            return prorated_usage.prorated_graduated(
                request.prorated, price.tiers, flat_fee_at_zero=price.flat_fee_at_zero
            )
        return pricing.graduated(
            request.quantity, price.tiers, flat_fee_at_zero=price.flat_fee_at_zero
        )


class Volume(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        if price.prorated and request.prorated is not None:
            return prorated_usage.prorated_volume(
                request.prorated, price.tiers, flat_fee_at_zero=price.flat_fee_at_zero
            )
        return pricing.volume(
            request.quantity, price.tiers, flat_fee_at_zero=price.flat_fee_at_zero
        )


class Package(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        if price.package_size is None or price.package_amount is None:
            raise InvariantBroken(f"prices/{price.code} has no package_size or package_amount")
        return pricing.package(
            request.quantity, price.package_size, price.package_amount, free_units=price.free_units
        )


class Percentage(_SchemaChecked):
    """Reads the request's transaction amounts, not its quantity."""

    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        if price.rate is None:  # the rule validator requires one
            raise InvariantBroken(f"prices/{price.code} has no rate")
        return pricing.percentage(
            request.amounts,
            price.rate,
            fixed_fee=price.fixed_fee,
            min_per_transaction=price.min_per_transaction,
            max_per_transaction=price.max_per_transaction,
            free_units_per_events=price.free_units_per_events,
            free_units_per_total_aggregation=price.free_units_per_total_aggregation,
        )


class GraduatedPercentage(_SchemaChecked):
    """Reads the request's transaction amounts, not its quantity."""

    def price(self, request: PricingRequest) -> Priced:
        return pricing.graduated_percentage(request.amounts, request.price.percentage_tiers)


@hookimpl
def billing_register_pricing_models(register: Callable[[str, PricingModel], None]) -> None:
    register("per_unit", PerUnit())
    register("graduated", Graduated())
    register("volume", Volume())
    register("package", Package())
    register("percentage", Percentage())
    register("graduated_percentage", GraduatedPercentage())
