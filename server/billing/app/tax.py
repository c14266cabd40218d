"""The one door to tax for every use case (invoices, previews, credit notes, QuoteTax): build
the facts, ask the buyer's engine, let the core compute (ADR 0026).

The signatures below are the contract the invoice, preview, credit note and quote paths code
against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing.domain import tax_calc
from billing.domain.customers import Customer
from billing.domain.errors import TaxNotComputable
from billing.domain.money import DEFAULT_ROUNDING
from billing.domain.tax import (
    Buyer,
    Place,
    TaxableLine,
    TaxIdFact,
    TaxOutcome,
    TaxRequest,
    TaxRules,
)
from billing.plugins.engines import TaxEngine, TaxNotDetermined


def buyer_of(customer: Customer) -> Buyer:
    """The buyer's tax facts from the customer record: the billing address's country and
    subdivision, the customer type, the tax ids with what is known of them (status, the day
    the registry was asked, the issuing country), the exemption certificates (ADR 0031)."""
    fields = customer.fields
    address = fields.billing_address
    return Buyer(
        Place(
            address.region_code.upper(),
            address.administrative_area.upper(),
            address.postal_code,
        ),
        fields.customer_type,
        tuple(
            TaxIdFact(
                t.type,
                t.value,
                t.verification.status,
                t.verification.checked_time.date() if t.verification.checked_time else None,
                t.country,
            )
            for t in fields.tax_ids
        ),
        fields.tax_exemptions,
    )


class SupplyNotPlaced(TaxNotComputable, TaxNotDetermined):
    """An engine's TaxNotDetermined, carried on as the domain error the API maps
    (FAILED_PRECONDITION, reason TAX_NOT_DETERMINED), still a TaxNotDetermined for callers
    that catch that."""


def compute_tax(
    rules: TaxRules,
    engines: Mapping[str, TaxEngine],
    request: TaxRequest,
    *,
    rounding: str = DEFAULT_ROUNDING,
) -> TaxOutcome:
    """Tax of the request's lines under the rules: zero everywhere while tax is off, or when
    the rules list no jurisdiction for the buyer's place (out of scope: no tax amounts).
    Otherwise the engine of the buyer's most specific listed jurisdiction decides and the core
    computes (`domain/tax_calc.py`); `rounding` is the money rules' mode for the currency.

    Raises TaxNotComputable (a ValueError; FAILED_PRECONDITION on the API): the engine could
    not place the supply (SupplyNotPlaced, also a TaxNotDetermined: `TAX_NOT_DETERMINED`,
    with the engine's message), the rules name an
    engine no plugin registers, or a jurisdiction lacks the named rate on the tax point
    (`TAX_RATE_MISSING`)."""
    if not rules.policy.enabled:
        return untaxed(request.lines)
    jurisdiction = rules.jurisdiction_for(request.buyer.place)
    if jurisdiction is None:
        return untaxed(request.lines)
    engine = engines.get(jurisdiction.engine)
    if engine is None:
        raise TaxNotComputable(
            f"the tax rules give {jurisdiction.code} the engine {jurisdiction.engine!r},"
            " which no installed plugin registers"
        )
    try:
        decisions = engine.determine(request, rules)
    except TaxNotDetermined as exc:
        raise SupplyNotPlaced(f"tax in {jurisdiction.code} not determined: {exc}") from exc
    return tax_calc.compute(request, decisions, rules, rounding)


def untaxed(lines: Sequence[TaxableLine]) -> TaxOutcome:
    return TaxOutcome(tuple(line.amount_minor for line in lines), tuple(0 for _ in lines), ())
