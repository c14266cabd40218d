"""CatalogService: translation only."""

from __future__ import annotations

from decimal import Decimal

import grpc

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.convert import instant, timestamp
from billing.app.catalog import CatalogUseCases
from billing.domain.money import Money
from billing.rules.model import Plan, Price, Product
from billing_client.v1 import catalog_pb2, catalog_pb2_grpc, money_pb2

INTERVALS = {
    "day": catalog_pb2.DAY,
    "week": catalog_pb2.WEEK,
    "month": catalog_pb2.MONTH,
    "year": catalog_pb2.YEAR,
}


def money_of(amount: Money) -> money_pb2.Money:
    return money(amount.currency_code, amount.amount_minor)


def text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def product_to_proto(product: Product, rule_set: str) -> catalog_pb2.Product:
    return catalog_pb2.Product(
        name=f"products/{product.code}",
        display_name=product.name,
        features=list(product.features),
        rule_set=rule_set,
        tax_code=product.tax_code or "",
    )


def plan_to_proto(plan: Plan, rule_set: str) -> catalog_pb2.Plan:
    prices = []
    for entry in plan.prices:
        message = catalog_pb2.PlanPrice(
            currency_code=entry.currency, tax_behavior=entry.tax_behavior or ""
        )
        if entry.price_code is not None:
            message.price = f"prices/{entry.price_code}"
        elif entry.amount is not None:
            message.flat_amount.CopyFrom(money_of(Money.from_decimal(entry.amount, entry.currency)))
        if entry.effective_from is not None:
            message.effective_from.CopyFrom(timestamp(entry.effective_from))
        prices.append(message)
    return catalog_pb2.Plan(
        name=f"plans/{plan.code}",
        display_name=plan.name or plan.code,
        product=f"products/{plan.product}",
        interval=INTERVALS[plan.interval],
        interval_count=plan.interval_count,
        trial_days=plan.trial_days,
        entitlements=[
            catalog_pb2.Entitlement(feature=e.feature, limit=e.limit)
            if e.limit is not None
            else catalog_pb2.Entitlement(feature=e.feature)
            for e in plan.entitlements
        ],
        prices=prices,
        rule_set=rule_set,
    )


def price_to_proto(price: Price, rule_set: str) -> catalog_pb2.Price:
    message = catalog_pb2.Price(
        name=f"prices/{price.code}",
        display_name=price.name or price.code,
        model=price.model,
        currency_code=price.currency,
        unit=price.unit or "",
        unit_amount=text(price.unit_amount),
        tiers=[
            catalog_pb2.PriceTier(
                up_to=tier.up_to,
                unit_amount=str(tier.unit_amount),
                flat_amount=text(tier.flat_amount),
            )
            if tier.up_to is not None
            else catalog_pb2.PriceTier(
                unit_amount=str(tier.unit_amount), flat_amount=text(tier.flat_amount)
            )
            for tier in price.tiers
        ],
        params={key: str(value) for key, value in price.params.items()},
        rule_set=rule_set,
        tax_behavior=price.tax_behavior or "",
    )
    if price.effective_from is not None:
        message.effective_from.CopyFrom(timestamp(price.effective_from))
    return message


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):  # type: ignore[misc]
    def __init__(self, catalog: CatalogUseCases, call_context: ContextFactory) -> None:
        self._catalog = catalog
        self._ctx = call_context

    async def ListProducts(
        self, request: catalog_pb2.ListProductsRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListProductsResponse:
        ctx = self._ctx("ListProducts", context)
        products, rules = await self._catalog.products(ctx)
        return catalog_pb2.ListProductsResponse(
            products=[product_to_proto(p, rules.name) for p in products], rule_set=rules.name
        )

    async def ListPlans(
        self, request: catalog_pb2.ListPlansRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListPlansResponse:
        ctx = self._ctx("ListPlans", context)
        plans, rules = await self._catalog.plans(
            ctx, instant(request.as_of, request.HasField("as_of"), "as_of")
        )
        return catalog_pb2.ListPlansResponse(
            plans=[plan_to_proto(p, rules.name) for p in plans], rule_set=rules.name
        )

    async def GetPlan(
        self, request: catalog_pb2.GetPlanRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.Plan:
        ctx = self._ctx("GetPlan", context)
        plan, rules = await self._catalog.plan(
            ctx, request.name, instant(request.as_of, request.HasField("as_of"), "as_of")
        )
        return plan_to_proto(plan, rules.name)

    async def GetPrice(
        self, request: catalog_pb2.GetPriceRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.Price:
        ctx = self._ctx("GetPrice", context)
        price, rules = await self._catalog.price(
            ctx, request.name, instant(request.as_of, request.HasField("as_of"), "as_of")
        )
        return price_to_proto(price, rules.name)

    async def PreviewPrice(
        self, request: catalog_pb2.PreviewPriceRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.PreviewPriceResponse:
        ctx = self._ctx("PreviewPrice", context)
        preview = await self._catalog.preview_price(
            ctx,
            request.price,
            request.quantity,
            instant(request.as_of, request.HasField("as_of"), "as_of"),
        )
        return catalog_pb2.PreviewPriceResponse(
            amount=money_of(preview.amount),
            unrounded_amount=str(preview.priced.amount),
            rounding=preview.rounding,
            steps=[
                catalog_pb2.PricingStep(
                    description=s.description,
                    quantity=str(s.quantity),
                    unit_amount=str(s.unit_amount),
                    flat_amount=str(s.flat_amount),
                    amount=str(s.amount),
                )
                for s in preview.priced.steps
            ],
            price=price_to_proto(preview.price, preview.rules.name),
            rule_set=preview.rules.name,
        )
