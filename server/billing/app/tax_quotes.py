"""QuoteTax: the tax of a cart without an invoice, for checkout pages (ADR 0026, 0028).

The cart's lines become TaxableLines exactly as an invoice's would (amounts rounded once as
the money rules say, tax codes and tax behavior from the catalog) and go through the one door,
`compute_tax`. Read-only: nothing is written.

Raises InvalidArgument (a malformed line, buyer or currency, naming the field), NotFound (the
customer, a plan or a price), NoActiveRuleSet, TaxNotComputable (FAILED_PRECONDITION: the
engine cannot place the supply, a rate is missing, the customer has no country).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.app.billing_time import BillingTime
from billing.app.context import CallContext
from billing.app.ports import Store
from billing.app.rules import ActiveRules, RuleUseCases
from billing.app.tax import buyer_of, compute_tax
from billing.domain import regions
from billing.domain.customers import TaxId
from billing.domain.errors import InvalidArgument, NotFound, TaxNotComputable, Violations
from billing.domain.money import (
    MONEY_CONTEXT,
    QUANTITY_MAX,
    AmountOutOfRange,
    currency_problem,
    parse_decimal,
    round_to_minor,
)
from billing.domain.names import parse_name
from billing.domain.tax import (
    Buyer,
    CustomerType,
    Place,
    Seller,
    TaxableLine,
    TaxIdFact,
    TaxIdStatus,
    TaxOutcome,
    TaxRequest,
)
from billing.plugins.engines import PricingModel, PricingRequest, TaxEngine
from billing.plugins.registry import Engines
from billing.rules.model import Price, RuleSet


@dataclass(frozen=True)
class QuoteBuyer:
    country: str
    subdivision: str = ""
    postal_code: str = ""
    customer_type: CustomerType = CustomerType.CONSUMER
    tax_ids: tuple[TaxId, ...] = ()


@dataclass(frozen=True)
class QuoteLine:
    plan: str = ""  # plans/<code>
    price: str = ""  # prices/<code>
    amount_minor: int | None = None
    amount_currency: str = ""
    unit_amount: str = ""
    quantity: str = ""  # default 1
    tax_code: str = ""
    inclusive: bool | None = None


@dataclass(frozen=True)
class QuoteInput:
    lines: tuple[QuoteLine, ...]
    customer: str = ""  # customers/<id>, or
    buyer: QuoteBuyer | None = None
    on: date | None = None
    currency: str = ""


@dataclass(frozen=True)
class QuotedLine:
    net_minor: int
    tax_minor: int
    tax_code: str
    inclusive: bool

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.tax_minor


@dataclass(frozen=True)
class TaxQuote:
    currency: str
    on: date
    lines: tuple[QuotedLine, ...]
    outcome: TaxOutcome
    jurisdiction: str  # the buyer's in the rules; "" when none or tax is off
    rules: ActiveRules

    @property
    def net_minor(self) -> int:
        return sum(self.outcome.net_minor)

    @property
    def tax_minor(self) -> int:
        return self.outcome.tax_minor


class TaxQuoteUseCases:
    def __init__(
        self, store: Store, rules: RuleUseCases, engines: Engines, time_of: BillingTime
    ) -> None:
        self._store = store
        self._rules = rules
        self._engines = engines
        self._time = time_of

    def _tax_engines(self) -> dict[str, TaxEngine]:
        return dict(self._engines.by_kind.get("tax_engine", {}))

    async def quote(self, ctx: CallContext, request: QuoteInput) -> TaxQuote:
        v = Violations()
        _check_shape(request, v)
        v.raise_if_any()
        active = await self._rules.active_rules(ctx)
        buyer, currency, now, today = await self._buyer(ctx, request, v)
        on = request.on or today
        at = now if request.on is None else datetime.combine(on, time.min, UTC)
        rules = active.rules
        lines = tuple(
            _line(rules, self._engines, line, i, currency, at, v)
            for i, line in enumerate(request.lines)
        )
        v.raise_if_any()
        tax = rules.tax
        seller = tax.seller or Seller(Place(""))
        taxable = tuple(
            TaxableLine(i, amount, code, inclusive)
            for i, (amount, code, inclusive) in enumerate(lines)
        )
        if tax.policy.enabled and not buyer.place.country:
            raise TaxNotComputable(
                f"{request.customer} has no billing address country; tax cannot be placed"
            )
        outcome = compute_tax(
            tax,
            self._tax_engines(),
            TaxRequest(currency, seller, buyer, taxable, on),
            rounding=rules.money.rounding_for(currency),
        )
        jurisdiction = tax.jurisdiction_for(buyer.place) if tax.policy.enabled else None
        quoted = tuple(
            QuotedLine(net, tax_minor, code, inclusive)
            for net, tax_minor, (_, code, inclusive) in zip(
                outcome.net_minor, outcome.tax_minor_per_line, lines, strict=True
            )
        )
        return TaxQuote(
            currency, on, quoted, outcome, "" if jurisdiction is None else jurisdiction.code, active
        )

    async def _buyer(
        self, ctx: CallContext, request: QuoteInput, v: Violations
    ) -> tuple[Buyer, str, datetime, date]:
        """The buyer's facts, the quote's currency, now and today for the buyer: the
        customer's clock and its date in the customer's time zone, or the server's clock and
        its date in UTC."""
        if request.buyer is None:
            customer_id = parse_name(request.customer, "customers", "customer")
            async with self._store.read() as tx:
                customer = await tx.customers.get(ctx.tenant_id, customer_id)
                if customer is None:
                    raise NotFound(request.customer)
                now = await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            today = now.astimezone(ZoneInfo(customer.fields.time_zone)).date()
            currency = request.currency or customer.fields.currency_code
            return buyer_of(customer), currency, now, today
        now = self._time.real.now()
        return _inline_buyer(request.buyer, v), request.currency, now, now.astimezone(UTC).date()


def _check_shape(request: QuoteInput, v: Violations) -> None:
    if not request.customer and request.buyer is None:
        v.add("customer", "give a customer, or the buyer's facts in `buyer`")
    if not request.lines:
        v.add("lines", "at least one line is required")
    if request.currency:
        problem = currency_problem(request.currency)
        if problem is not None:
            v.add("currency_code", problem)
    elif request.buyer is not None:
        v.add("currency_code", "is required with an inline buyer (an ISO 4217 code such as EUR)")


def _inline_buyer(buyer: QuoteBuyer, v: Violations) -> Buyer:
    country = buyer.country.upper()
    subdivision = buyer.subdivision.upper()
    if not country:
        v.add("buyer.country", "is required (an ISO 3166-1 alpha-2 code such as DE)")
    elif (problem := regions.country_problem(country)) is not None:
        v.add("buyer.country", problem)
    elif (
        subdivision
        and (problem := regions.jurisdiction_problem(f"{country}-{subdivision}")) is not None
    ):
        v.add("buyer.subdivision", problem)
    facts = []
    for i, tax_id in enumerate(buyer.tax_ids):
        value = re.sub(r"[\s.\-/]", "", tax_id.value).upper()
        if not tax_id.type:
            v.add(f"buyer.tax_ids[{i}].type", "is required (eu_vat, gb_vat, au_abn...)")
        if not value:
            v.add(f"buyer.tax_ids[{i}].value", "is required")
        kind = tax_id.type.lower()
        issuer = value[:2] if kind == "eu_vat" else kind.partition("_")[0].upper()
        facts.append(TaxIdFact(kind, value, TaxIdStatus.UNKNOWN, None, issuer))
    place = Place(country, subdivision, buyer.postal_code)
    return Buyer(place, buyer.customer_type, tuple(facts))


@dataclass(frozen=True)
class _Item:
    """What a line's catalog item gives: the tax code of its product, its tax behavior, and
    its amount at a quantity (None: the line gives its own)."""

    tax_code: str | None = None
    behavior: str | None = None
    amount: Decimal | None = None


def _line(
    rules: RuleSet,
    engines: Engines,
    line: QuoteLine,
    i: int,
    currency: str,
    at: datetime,
    v: Violations,
) -> tuple[int, str, bool]:
    """(amount in minor units, tax code, inclusive) of one line; violations named
    `lines[i]...`."""
    field = f"lines[{i}]"
    quantity = _quantity(line.quantity, f"{field}.quantity", v)
    item = _item(rules, engines, line, field, quantity, currency, at, v)
    rounding = rules.money.rounding_for(currency)
    amount = 0
    try:
        if line.amount_minor is not None:
            if line.amount_currency != currency:
                v.add(
                    f"{field}.amount.currency_code",
                    f"must be the quote's currency {currency}, not {line.amount_currency!r}",
                )
            amount = line.amount_minor
        elif line.unit_amount:
            unit = _decimal(line.unit_amount, f"{field}.unit_amount", v)
            amount = round_to_minor(
                MONEY_CONTEXT.multiply(unit, quantity), currency, rounding
            ).amount_minor
        elif item.amount is not None:
            amount = round_to_minor(item.amount, currency, rounding).amount_minor
        elif not (line.plan or line.price):
            v.add(field, "give an amount, a unit_amount, a plan or a price")
    except AmountOutOfRange as exc:
        v.add(field, exc.description)
    policy = rules.tax.policy
    code = line.tax_code or item.tax_code or policy.default_tax_code
    if policy.enabled:
        if policy.require_tax_code and not (line.tax_code or item.tax_code):
            v.add(f"{field}.tax_code", "is required: the tax rules require a tax code")
        elif rules.tax.tax_codes and code not in rules.tax.tax_codes:
            known = ", ".join(sorted(rules.tax.tax_codes))
            v.add(f"{field}.tax_code", f"{code!r} is not a tax code of the rules ({known})")
    if line.inclusive is not None:
        inclusive = line.inclusive
    elif item.behavior:
        inclusive = item.behavior == "inclusive"
    else:
        inclusive = policy.prices_include_tax
    return amount, code, inclusive


def _item(
    rules: RuleSet,
    engines: Engines,
    line: QuoteLine,
    field: str,
    quantity: Decimal,
    currency: str,
    at: datetime,
    v: Violations,
) -> _Item:
    if line.plan:
        code = _code(line.plan, "plans", f"{field}.plan")
        plan = rules.catalog_as_of(at).plans.get(code)
        if plan is None:
            raise NotFound(f"{line.plan} (no price in force on {at.date().isoformat()})")
        product = rules.catalog.products.get(plan.product)
        charges = [entry for entry in plan.prices if entry.currency == currency]
        if not charges:
            v.add(f"{field}.plan", f"{line.plan} has no price in {currency}")
            return _Item(product.tax_code if product else None)
        amount = Decimal(0)
        behavior = None
        for entry in charges:
            if entry.price_code is not None:
                price = _price_in_force(rules, f"prices/{entry.price_code}", at)
                amount = MONEY_CONTEXT.add(amount, _priced(engines, price, quantity))
                behavior = behavior or entry.tax_behavior or price.tax_behavior
            else:
                amount += MONEY_CONTEXT.multiply(entry.amount or Decimal(0), quantity)
                behavior = behavior or entry.tax_behavior
        return _Item(product.tax_code if product else None, behavior, amount)
    if line.price:
        _code(line.price, "prices", f"{field}.price")
        price = _price_in_force(rules, line.price, at)
        if price.currency != currency:
            v.add(f"{field}.price", f"{line.price} is priced in {price.currency}, not {currency}")
            return _Item(None, price.tax_behavior)
        return _Item(None, price.tax_behavior, _priced(engines, price, quantity))
    return _Item()


def _code(name: str, collection: str, field: str) -> str:
    head, _, code = name.partition("/")
    if head != collection or not code:
        raise InvalidArgument.single(field, f"must look like {collection}/<code>, got {name!r}")
    return code


def _price_in_force(rules: RuleSet, name: str, at: datetime) -> Price:
    try:
        price = rules.price_in_force(name.partition("/")[2], at)
    except KeyError:
        raise NotFound(name) from None
    if price is None:
        raise NotFound(f"{name} (no version in force on {at.date().isoformat()})")
    return price


def _priced(engines: Engines, price: Price, quantity: Decimal) -> Decimal:
    model: PricingModel = engines.get("pricing_model", price.model)
    return model.price(PricingRequest(price, quantity)).amount


def _quantity(text: str, field: str, v: Violations) -> Decimal:
    quantity = _decimal(text or "1", field, v)
    if not 0 <= quantity <= QUANTITY_MAX:
        v.add(field, f"must be between 0 and {QUANTITY_MAX}")
        return Decimal(0)
    return quantity


def _decimal(text: str, field: str, v: Violations) -> Decimal:
    try:
        return parse_decimal(text)
    except ValueError as exc:
        v.add(field, str(exc))
        return Decimal(0)
