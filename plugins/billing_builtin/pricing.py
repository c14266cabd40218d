"""Built-in pricing models: per_unit, graduated, volume, package (quantity models) and
percentage, graduated_percentage (on transaction amounts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from billing.domain import pricing
from billing.domain.pricing import Priced
from billing.plugins.engines import PricingModel, PricingRequest
from billing.plugins.hookspecs import hookimpl


class _SchemaChecked:
    """Built-in models read fields the rule schema already checks; they take no params."""

    def check_params(self, params: Mapping[str, Any]) -> list[str]:
        return []


class PerUnit(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        assert request.price.unit_amount is not None  # check() ran at load
        return pricing.per_unit(request.quantity, request.price.unit_amount)


class Graduated(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        return pricing.graduated(
            request.quantity, price.tiers, flat_fee_at_zero=price.flat_fee_at_zero
        )


class Volume(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        return pricing.volume(
            request.quantity, price.tiers, flat_fee_at_zero=price.flat_fee_at_zero
        )


class Package(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        assert price.package_size is not None and price.package_amount is not None
        return pricing.package(
            request.quantity, price.package_size, price.package_amount, free_units=price.free_units
        )


class Percentage(_SchemaChecked):
    """Reads the request's transaction amounts, not its quantity."""

    def price(self, request: PricingRequest) -> Priced:
        price = request.price
        assert price.rate is not None  # check() ran at load
        return pricing.percentage(
            request.amounts,
            price.rate,
            fixed_fee=price.fixed_fee,
            min_per_transaction=price.min_per_transaction,
            max_per_transaction=price.max_per_transaction,
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
