"""The `uk_vat`, `ch_vat` and `no_vat` engines: one VAT territory each, outside the EU
(ADR 0029). Per line, in this order:

1. a seller established in the territory: taxed at its rate when the seller is registered
   there, else the `unregistered_seller` choice (a small business below the registration
   threshold sets `out_of_scope`);
2. a business buyer (customer type business with a tax id of the territory, VALID, or
   UNKNOWN / FORMAT_VALID under `policy.unknown_tax_id: trust_format`; without the id when
   `b2b_requires_tax_id: false`) of imported services: reverse charge with the country's note
   (GB: VATA 1994 s.8; CH: acquisition tax, MWSTG Art. 45; NO: mval. § 11-1 (2));
   imported goods: out of scope (import VAT is due at the border);
3. a consumer: digital services (and in CH every service: the recipient's place, MWSTG
   Art. 8 (1)) are taxed at the territory's rate when the seller holds a registration there
   on the invoice date (GB: `GB`; CH: `CH` or `LI`, owed by foreign sellers over CHF 100,000
   worldwide turnover; NO: `NO`, the VOEC number for a foreign seller, or `NO-VOEC` should
   the rules ever accept it as a scheme), else the `unregistered_seller` choice; other
   services are out of scope (the supplier's place); goods are taxed when the seller is
   registered (low-value schemes), else an import, out of scope.

Exemption certificates are applied by the core (tax_calc), not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from billing.domain.tax import (
    CustomerType,
    Jurisdiction,
    LineTax,
    Registration,
    TaxableLine,
    TaxRequest,
    TaxRules,
    Treatment,
)
from billing.plugins.engines import TaxNotDetermined
from billing_builtin.tax_europe.common import (
    COMMON_SETTINGS,
    Supply,
    business_id,
    charge,
    check_common,
    checked,
    supply_of,
    unregistered,
    untaxed,
)

NATIONAL_SETTINGS = COMMON_SETTINGS | {"b2b_requires_tax_id"}
IMPORT_NOTE = "Import of goods: {tax} is due on importation"
SUPPLIER_PLACE_NOTE = "Outside the scope of {tax}: the place of supply is the supplier's country"


@dataclass(frozen=True)
class Territory:
    """One VAT territory: its countries, the registrations that let a seller charge its tax,
    the tax id types that make a buyer a business, and its reverse-charge note."""

    engine: str
    countries: frozenset[str]
    registrations: tuple[str, ...]
    tax_id_types: frozenset[str]
    reverse_charge_note: str
    services_at_recipient: bool  # B2C services in general taxed where the customer is


UK = Territory(
    "uk_vat",
    frozenset({"GB"}),
    ("GB",),
    frozenset({"gb_vat"}),
    "Reverse charge: the customer accounts for the VAT to HMRC (section 8, VAT Act 1994)",
    services_at_recipient=False,
)
SWITZERLAND = Territory(
    "ch_vat",
    frozenset({"CH", "LI"}),
    ("CH", "LI"),
    frozenset({"ch_vat", "li_vat"}),
    "Reverse charge: acquisition tax (Bezugsteuer) to be accounted for by the recipient "
    "(Art. 45 MWSTG)",
    services_at_recipient=True,
)
NORWAY = Territory(
    "no_vat",
    frozenset({"NO"}),
    ("NO", "NO-VOEC"),
    frozenset({"no_vat"}),
    "Reverse charge: VAT to be accounted for by the recipient (merverdiavgiftsloven § 11-1)",
    services_at_recipient=False,
)


class NationalVat:
    def __init__(self, territory: Territory) -> None:
        self.territory = territory

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Problems in a jurisdiction's `settings:`, each naming its key (at load and on use)."""
        problems = check_common(settings, NATIONAL_SETTINGS)
        if not isinstance(settings.get("b2b_requires_tax_id", True), bool):
            problems.append("b2b_requires_tax_id: must be true or false")
        return problems

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        place = request.buyer.place
        home = rules.jurisdiction_for(place)
        if home is None or place.country not in self.territory.countries:
            countries = ", ".join(sorted(self.territory.countries))
            raise TaxNotDetermined(
                f"{self.territory.engine} taxes buyers in {countries}; "
                f"{place.country!r} is not one listed in the tax rules"
            )
        checked(home, self.check_settings(home.settings))
        decide = _Decision(self.territory, request, rules, home)
        return tuple(decide.line(line) for line in request.lines)


class _Decision:
    def __init__(
        self, territory: Territory, request: TaxRequest, rules: TaxRules, home: Jurisdiction
    ) -> None:
        self.territory = territory
        self.request = request
        self.home = home
        self.day = request.invoice_date
        self.buyer_country = request.buyer.place.country
        self.seller_country = request.seller.place.country
        self.registration = self._registration()
        self.business, self.why_b2x = self._business(rules)

    def line(self, line: TaxableLine) -> LineTax:
        supply = supply_of(line.tax_code, self.home)
        if self.seller_country in self.territory.countries:
            return self._registered_or_not(line, f"domestic supply in {self.buyer_country}")
        facts = f"{self.seller_country} -> {self.buyer_country}: {self.why_b2x}"
        if supply is Supply.GOODS:
            if self.registration is not None and not self.business:
                return self._registered_or_not(line, f"B2C goods {facts}")
            return untaxed(
                self.home, line, Treatment.OUT_OF_SCOPE, f"goods {facts}: import", IMPORT_NOTE
            )
        if self.business:
            return untaxed(
                self.home,
                line,
                Treatment.REVERSE_CHARGE,
                f"B2B imported service {facts}",
                default_note=self.territory.reverse_charge_note,
            )
        if supply is Supply.DIGITAL or self.territory.services_at_recipient:
            return self._registered_or_not(line, f"B2C imported service {facts}")
        return untaxed(
            self.home,
            line,
            Treatment.OUT_OF_SCOPE,
            f"B2C service {facts}: the supplier's place",
            SUPPLIER_PLACE_NOTE,
        )

    def _registered_or_not(self, line: TaxableLine, facts: str) -> LineTax:
        found = self.registration
        if found is not None:
            return charge(
                self.home, line, f"{facts}; registration {found.jurisdiction} {found.number}"
            )
        wanted = " or ".join(self.territory.registrations)
        return unregistered(
            self.home,
            line,
            f"the seller has no registration covering supplies to {self.buyer_country}: "
            f"list {wanted} in its registrations",
            f"{facts}; no {wanted} registration",
        )

    def _registration(self) -> Registration | None:
        seller = self.request.seller
        for code in self.territory.registrations:
            found = seller.registered_in(code, self.day)
            if found is not None:
                return found
        return None

    def _business(self, rules: TaxRules) -> tuple[bool, str]:
        fact, why = business_id(
            self.request.buyer, self.territory.tax_id_types, self.territory.countries, rules
        )
        if fact is not None:
            return True, why
        requires = self.home.settings.get("b2b_requires_tax_id", True)
        if not requires and self.request.buyer.customer_type is CustomerType.BUSINESS:
            return True, "a business buyer (b2b_requires_tax_id: false)"
        return False, why
