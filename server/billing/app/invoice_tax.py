"""Tax on an invoice's lines (ADR 0032): every finalized invoice and every preview gets its
tax here, through `app/tax.py compute_tax`, after its discounts and before cash rounding and
account credit.

- The tax point's "invoice date" is the finalization instant's date in the customer's time
  zone (a preview: the instant the invoice would be finalized, in the same zone); a line's
  service period is given as dates in that zone too.
- A line's tax code is the tax code of its plan's product (Product.tax_code); its price
  includes tax as its plan price or named price says (`tax_behavior`), else as the policy's
  `prices_include_tax`. A line's plan is `derivation["plan"]` when set, else the invoice's
  subscription's plan; a named price's plan, else any plan that sells the price. A line no
  plan is found for takes the policy's defaults; a one-off line, the tax code it was added
  with (AddInvoiceLine `tax_code`), else the default.
- With tax off (`policy.enabled: false`, the default without tax rules) nothing is read and
  the lines stay as they are.

Raises TaxNotComputable (an InvalidState: FAILED_PRECONDITION) naming the customer and the
reason when tax cannot be computed (an engine could not place the supply, a rate missing on
its tax point).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing.app.ports import Transaction
from billing.app.rules import ActiveRules
from billing.app.tax import buyer_of, compute_tax
from billing.domain.customers import Customer
from billing.domain.errors import InvalidState, TaxNotComputable
from billing.domain.subscriptions import Line, LineKind
from billing.domain.tax import TaxRequest
from billing.domain.tax_lines import (
    LineTaxClass,
    apply_outcome,
    buyer_ids,
    seller_ids,
    taxable_lines,
)
from billing.rules.model import Plan, PlanPrice, RuleSet


def tax_enabled(rules: ActiveRules) -> bool:
    return rules.rules.tax.policy.enabled


async def with_tax(
    tx: Transaction,
    tenant_id: str,
    *,
    customer_id: str,
    currency: str,
    lines: Sequence[Line],
    period: tuple[datetime, datetime],
    plan_code: str | None,
    rules: ActiveRules,
    at: datetime,
    customer: Customer | None = None,
) -> tuple[Line, ...]:
    """The lines with their tax as of `at` (see the module). Reads the customer (one
    statement) unless given, and only when tax is on."""
    if not tax_enabled(rules):
        return tuple(lines)
    if customer is None:
        customer = await tx.customers.get(tenant_id, customer_id)
        if customer is None:
            raise InvalidState(
                f"customers/{customer_id} is gone; its invoice cannot be taxed", "TAX_NO_CUSTOMER"
            )
    return taxed_lines(customer, currency, lines, period, plan_code, rules, at)


def taxed_lines(
    customer: Customer,
    currency: str,
    lines: Sequence[Line],
    period: tuple[datetime, datetime],
    plan_code: str | None,
    rules: ActiveRules,
    at: datetime,
) -> tuple[Line, ...]:
    tax = rules.rules.tax
    seller = tax.seller
    if seller is None:  # the rules' load check requires a seller with tax on
        raise InvalidState("the tax rules name no seller", "TAX_NOT_DETERMINED")
    zone = ZoneInfo(customer.fields.time_zone)

    def day(instant: datetime) -> date:
        return instant.astimezone(zone).date()

    taxable = taxable_lines(lines, Classifier(rules.rules, plan_code), tax.policy, day)
    buyer = buyer_of(customer)
    request = TaxRequest(currency, seller, buyer, taxable, day(at))
    try:
        outcome = compute_tax(
            tax, rules.tax_engines, request, rounding=rules.rules.money.rounding_for(currency)
        )
    except TaxNotComputable as exc:  # the engine could not place it, a rate is missing
        raise TaxNotComputable(
            f"tax for customers/{customer.id} cannot be computed: {exc}", exc.reason
        ) from exc
    except ValueError as exc:  # anything else the seam documents as a ValueError
        raise TaxNotComputable(
            f"tax for customers/{customer.id} cannot be computed: {exc}"
        ) from exc
    return apply_outcome(
        lines,
        taxable,
        outcome,
        currency,
        period,
        seller_tax_ids=seller_ids(seller),
        buyer_tax_ids=buyer_ids(buyer),
    )


class Classifier:
    """A line's tax code and tax behaviour from the catalog, remembered per (plan, price) so
    a long invoice looks each up once."""

    def __init__(self, rules: RuleSet, plan_code: str | None) -> None:
        self._rules = rules
        self._plan_code = plan_code
        self._known: dict[tuple[str | None, str | None], LineTaxClass] = {}

    def __call__(self, line: Line) -> LineTaxClass:
        if line.kind == LineKind.ONE_OFF:  # its own tax code, if it was given one
            code = (line.derivation or {}).get("tax_code")
            return LineTaxClass(str(code) if code else None)
        plan_code = str((line.derivation or {}).get("plan") or self._plan_code or "") or None
        key = (plan_code, line.price_code)
        known = self._known.get(key)
        if known is None:
            known = self._classify(plan_code, line.price_code, line.period_start)
            self._known[key] = known
        return known

    def _classify(
        self, plan_code: str | None, price_code: str | None, at: datetime
    ) -> LineTaxClass:
        plans = self._rules.catalog.plans
        plan = plans.get(plan_code) if plan_code else None
        if price_code is not None and (plan is None or _entry(plan, price_code, at) is None):
            plan = next((p for p in plans.values() if _entry(p, price_code, at) is not None), None)
        if plan is None:
            return LineTaxClass()
        product = self._rules.catalog.products.get(plan.product)
        tax_code = product.tax_code if product is not None else None
        entry = _entry(plan, price_code, at)
        behavior = entry.tax_behavior if entry is not None else None
        if behavior is None and price_code is not None and price_code in self._rules.prices:
            versions = self._rules.prices[price_code]
            price = self._rules.price_in_force(price_code, at) or versions[-1]
            behavior = price.tax_behavior
        return LineTaxClass(tax_code, None if behavior is None else behavior == "inclusive")


def _entry(plan: Plan, price_code: str | None, at: datetime) -> PlanPrice | None:
    """The plan's entry for a named price (or the flat fee: None), the one in force at `at`
    if any is, else the latest."""
    entries = [e for e in plan.prices if e.price_code == price_code]
    if not entries:
        return None
    in_force = [e for e in plan.prices_in_force(at) if e.price_code == price_code]
    return (in_force or entries)[-1]
