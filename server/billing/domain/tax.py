"""Tax as plain data: the facts an engine decides from, what it decides, the rules it reads,
and what the core computes from that (ADR 0026).

The split of work:
- the **rules** (`kind: tax` files) hold the seller's registrations, the policy (rounding,
  inclusive prices, tax points), and per jurisdiction its engine, its rates with effective
  dates and sources, and what each tax code means there;
- an **engine** (a plugin, one per family: eu_vat, canada, us_sales_tax...) decides *where*
  and *how* each line is taxed: which jurisdictions, which named rate, or a treatment such as
  reverse charge, with the legal note. It never does arithmetic on money;
- the **core** (`domain/tax_calc.py`) looks each named rate up on the jurisdiction's tax
  point, splits inclusive prices, rounds per line or per invoice as the policy says, and
  produces tax lines that add up exactly.

Jurisdiction codes are ISO 3166-1 alpha-2 countries (`DE`), or a country and an ISO 3166-2
subdivision joined by a dash (`CA-ON`, `US-WA`, `IN-MH`). A rate is a percent as a Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class CustomerType(StrEnum):
    BUSINESS = "business"
    CONSUMER = "consumer"


class Treatment(StrEnum):
    """How a line is taxed in one jurisdiction."""

    TAXED = "taxed"  # at the named rate
    REVERSE_CHARGE = "reverse_charge"  # the buyer accounts for the tax; 0 on the invoice
    EXEMPT = "exempt"  # an exempt supply or an exempt buyer (certificate)
    ZERO_RATED = "zero_rated"  # taxable at 0% (exports of goods, some food...)
    OUT_OF_SCOPE = "out_of_scope"  # not taxable here (no registration, export of services)


class TaxIdStatus(StrEnum):
    """What we know of a buyer's tax id."""

    VALID = "valid"  # confirmed by the registry (VIES...) on checked_on
    INVALID = "invalid"  # wrong format or checksum, or the registry said so
    UNKNOWN = "unknown"  # the format is right; the registry could not be asked
    FORMAT_VALID = "format_valid"  # the format is right; no online check is configured


class TaxPoint(StrEnum):
    """Which date picks the rate, per jurisdiction."""

    INVOICE_DATE = "invoice_date"
    PERIOD_START = "period_start"  # the start of the line's service period
    EARLIER_OF_INVOICE_AND_PAYMENT = "earlier_of_invoice_and_payment"


# --- facts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    country: str  # ISO 3166-1 alpha-2, upper case
    subdivision: str = ""  # ISO 3166-2 suffix, upper case: "ON" for CA-ON; "" when unknown
    postal_code: str = ""

    @property
    def jurisdiction(self) -> str:
        return f"{self.country}-{self.subdivision}" if self.subdivision else self.country


@dataclass(frozen=True)
class Registration:
    """Where the seller collects tax. `jurisdiction` is a code as above, or a scheme that
    covers many (`EU-OSS`: the Union One-Stop Shop; `EU-NONUNION-OSS`)."""

    jurisdiction: str
    number: str
    valid_from: date
    valid_until: date | None = None  # exclusive

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)


@dataclass(frozen=True)
class TaxIdFact:
    type: str  # eu_vat, gb_vat, ch_vat, no_vat, au_abn, nz_gst, ca_bn, ca_qst, in_gst, sg_uen...
    value: str  # normalized (compact) form
    status: TaxIdStatus
    checked_on: date | None = None
    country: str = ""  # the issuing country, from the type or the number's prefix


@dataclass(frozen=True)
class Exemption:
    """An exemption certificate: no tax in `jurisdiction` (a country, or a subdivision) for
    invoices dated in [valid_from, valid_until)."""

    jurisdiction: str
    reason: str
    certificate: str
    valid_from: date
    valid_until: date | None = None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)


@dataclass(frozen=True)
class Seller:
    place: Place
    registrations: tuple[Registration, ...] = ()
    tax_ids: tuple[tuple[str, str], ...] = ()  # (type, value) shown on documents

    def registered_in(self, jurisdiction: str, day: date) -> Registration | None:
        for registration in self.registrations:
            if registration.jurisdiction == jurisdiction and registration.active_on(day):
                return registration
        return None


@dataclass(frozen=True)
class Buyer:
    place: Place
    customer_type: CustomerType = CustomerType.CONSUMER
    tax_ids: tuple[TaxIdFact, ...] = ()
    exemptions: tuple[Exemption, ...] = ()


@dataclass(frozen=True)
class TaxableLine:
    index: int  # the line's position on the invoice (or cart)
    amount_minor: int  # as priced; gross when `inclusive`; negative for credits
    tax_code: str  # the product's tax code (saas, digital_service, physical_good, ...)
    inclusive: bool = False
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True)
class TaxRequest:
    currency: str
    seller: Seller
    buyer: Buyer
    lines: tuple[TaxableLine, ...]
    invoice_date: date
    payment_date: date | None = None


# --- what an engine decides -------------------------------------------------------------------


@dataclass(frozen=True)
class LineTax:
    """One jurisdiction's tax on one line. A line may carry several (CA GST + PST; IN CGST +
    SGST). For TAXED, the core looks `rate_name` up in the jurisdiction's rates on its tax
    point; `rate` set here wins (external providers that answer with a rate). Any other
    treatment is 0% and shows `note` on the invoice."""

    line_index: int
    jurisdiction: str
    tax_name: str  # VAT, GST, HST, PST, QST, IGST, CGST, SGST, sales tax, consumption tax
    treatment: Treatment
    rate_name: str = "standard"
    rate: Decimal | None = None
    note: str = ""  # the legal note (reverse charge, exemption, export)
    reason: str = ""  # why, for ExplainInvoice ("B2C digital service: customer's country")


# --- rules (kind: tax) --------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxRate:
    name: str  # standard, reduced, super_reduced, zero, or a jurisdiction's own (hst, pst...)
    percent: Decimal
    effective_from: date
    source: str  # where the figure comes from: a statute or the tax authority's page
    entry: str = ""  # the rule path, `tax_eu.yaml: jurisdictions[DE].rates[2]`


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    name: str
    engine: str
    tax_name: str
    tax_point: TaxPoint = TaxPoint.INVOICE_DATE
    rates: tuple[TaxRate, ...] = ()  # sorted by (name, effective_from)
    # tax code -> a rate name, or a treatment value (exempt, zero_rated, out_of_scope)
    tax_codes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    settings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # the engine's own
    entry: str = ""

    def rate_on(self, name: str, day: date) -> TaxRate | None:
        """The entry of `name` in force on `day`: the latest effective_from on or before it."""
        in_force = [r for r in self.rates if r.name == name and r.effective_from <= day]
        return max(in_force, key=lambda r: r.effective_from, default=None)

    def treatment_of(self, tax_code: str) -> str | None:
        """The rate name or treatment this jurisdiction gives a tax code; None if unlisted."""
        return self.tax_codes.get(tax_code)


class LineRounding(StrEnum):
    LINE = "line"  # each line's tax rounded, the tax line is their sum
    INVOICE = "invoice"  # unrounded taxes summed per (jurisdiction, tax, rate), rounded once


class InclusiveRounding(StrEnum):
    """For tax-inclusive prices, which part is rounded; the other is gross less it."""

    TAX_FIRST = "tax_first"
    NET_FIRST = "net_first"


class UnknownTaxId(StrEnum):
    """When the registry cannot be asked: charge tax as for a consumer, or trust the format."""

    CHARGE = "charge"
    TRUST_FORMAT = "trust_format"


@dataclass(frozen=True)
class TaxPolicy:
    enabled: bool = False
    rounding: LineRounding = LineRounding.LINE
    inclusive_rounding: InclusiveRounding = InclusiveRounding.TAX_FIRST
    prices_include_tax: bool = False  # the default for prices without their own tax_behavior
    default_tax_code: str = "saas"
    require_tax_code: bool = False  # a product without one is an error at load
    unknown_tax_id: UnknownTaxId = UnknownTaxId.CHARGE


@dataclass(frozen=True)
class TaxCodeInfo:
    code: str
    description: str


@dataclass(frozen=True)
class TaxRules:
    """The `kind: tax` files, merged. Without any, tax is off: every invoice has none."""

    policy: TaxPolicy = TaxPolicy()
    seller: Seller | None = None
    seller_name: str = ""
    tax_codes: Mapping[str, TaxCodeInfo] = field(default_factory=lambda: _EMPTY)
    jurisdictions: Mapping[str, Jurisdiction] = field(default_factory=lambda: _EMPTY)

    def jurisdiction_for(self, place: Place) -> Jurisdiction | None:
        """The most specific jurisdiction listed for a place: `CA-ON`, else `CA`."""
        if place.subdivision:
            found = self.jurisdictions.get(place.jurisdiction)
            if found is not None:
                return found
        return self.jurisdictions.get(place.country)


# --- what the core computes ----------------------------------------------------------------------


@dataclass(frozen=True)
class TaxAmount:
    """One tax line of an invoice or quote: a jurisdiction, tax and rate, over its base."""

    jurisdiction: str
    tax_name: str
    treatment: Treatment
    rate_name: str
    percent: Decimal
    taxable_minor: int  # the base: net amounts of the lines it covers
    tax_minor: int
    line_indexes: tuple[int, ...]
    note: str = ""
    entry: str = ""  # the rule entry of the rate (or the jurisdiction, for non-taxed)
    source: str = ""
    tax_point: date | None = None


@dataclass(frozen=True)
class TaxOutcome:
    """Per input line its net (equal to the amount unless inclusive) and its tax; the tax
    lines; the notes. For every line: net + tax = gross when inclusive, exactly."""

    net_minor: tuple[int, ...]
    tax_minor_per_line: tuple[int, ...]
    amounts: tuple[TaxAmount, ...]
    notes: tuple[str, ...] = ()

    @property
    def tax_minor(self) -> int:
        return sum(amount.tax_minor for amount in self.amounts)


NO_TAX_RULES = TaxRules()
