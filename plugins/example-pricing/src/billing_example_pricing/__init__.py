"""The `per_block` pricing model: started blocks of `block_size` units at `block_amount`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from billing.domain.pricing import Priced, PricingStep
from billing.plugins.engines import PricingModel, PricingRequest
from billing.plugins.hookspecs import hookimpl


class PerBlock:
    def check_params(self, params: Mapping[str, Any]) -> list[str]:
        problems = []
        size = params.get("block_size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            problems.append("params.block_size must be a whole number of units, at least 1")
        amount = params.get("block_amount")
        if not isinstance(amount, (int, Decimal)) or isinstance(amount, bool) or amount < 0:
            problems.append("params.block_amount must be a decimal amount, not negative")
        return problems

    def price(self, request: PricingRequest) -> Priced:
        size = Decimal(request.price.params["block_size"])
        amount = Decimal(request.price.params["block_amount"])
        blocks = (request.quantity / size).to_integral_value(rounding=ROUND_CEILING)
        total = blocks * amount
        step = PricingStep(f"{blocks} blocks of {size} units", blocks, amount, Decimal(0), total)
        return Priced(total, (step,))


@hookimpl
def billing_register_pricing_models(register: Callable[[str, PricingModel], None]) -> None:
    register("per_block", PerBlock())
