"""The one door to tax for every use case (invoices, previews, credit notes, QuoteTax): build
the facts, ask the buyer's engine, let the core compute (ADR 0026).

SEAM: the signatures below are the contract the parallel work codes against; the bodies are
placeholders until the calculation lands (`domain/tax_calc.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing.domain.customers import Customer
from billing.domain.money import DEFAULT_ROUNDING
from billing.domain.tax import (
    Buyer,
    CustomerType,
    Place,
    TaxableLine,
    TaxOutcome,
    TaxRequest,
    TaxRules,
)
from billing.plugins.engines import TaxEngine


def buyer_of(customer: Customer) -> Buyer:
    """The buyer's tax facts from the customer record: the billing address's country and
    subdivision, the customer type, the tax ids with what is known of them, the exemptions.
    (Placeholder: a customer with a tax id is taken as a business.)"""
    address = customer.fields.billing_address
    return Buyer(
        Place(
            address.region_code.upper(),
            address.administrative_area.upper(),
            address.postal_code,
        ),
        CustomerType.BUSINESS if customer.fields.tax_ids else CustomerType.CONSUMER,
    )


def compute_tax(
    rules: TaxRules,
    engines: Mapping[str, TaxEngine],
    request: TaxRequest,
    *,
    rounding: str = DEFAULT_ROUNDING,
) -> TaxOutcome:
    """Tax of the request's lines under the rules: zero everywhere while tax is off.

    Raises TaxNotDetermined (an engine could not place the supply) and ValueError (a
    jurisdiction without the named rate on the tax point), each with a plain message."""
    del engines, rounding
    if not rules.policy.enabled:
        return untaxed(request.lines)
    return untaxed(request.lines)  # placeholder until domain/tax_calc.py lands


def untaxed(lines: Sequence[TaxableLine]) -> TaxOutcome:
    return TaxOutcome(tuple(line.amount_minor for line in lines), tuple(0 for _ in lines), ())
