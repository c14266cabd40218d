"""Built-in pricing models: per_unit, graduated, volume."""

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
        return pricing.graduated(
            request.quantity, request.price.tiers, flat_fee_at_zero=request.flat_fee_at_zero
        )


class Volume(_SchemaChecked):
    def price(self, request: PricingRequest) -> Priced:
        return pricing.volume(
            request.quantity, request.price.tiers, flat_fee_at_zero=request.flat_fee_at_zero
        )


@hookimpl
def billing_register_pricing_models(register: Callable[[str, PricingModel], None]) -> None:
    register("per_unit", PerUnit())
    register("graduated", Graduated())
    register("volume", Volume())
