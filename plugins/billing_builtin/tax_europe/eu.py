"""The `eu_vat` engine: VAT of a buyer in an EU member state (Council Directive 2006/112/EC,
ADR 0029). Per line, in this order:

1. seller and buyer in the same country: domestic, taxed at that country's rate (B2B or B2C);
2. a business buyer (customer type business and an EU VAT id of its own country, VALID, or
   UNKNOWN / FORMAT_VALID under `policy.unknown_tax_id: trust_format`), seller elsewhere (in
   or outside the EU): services and digital supplies are reverse charged (Article 196) with the
   legal note; goods from an EU seller are an exempt intra-Community supply (Article 138) in
   the seller's country, goods from outside the EU are imports (out of scope of the invoice);
3. a consumer (or a business without a confirmed id):
   - digital services (Article 58) and distance sales of goods (Article 33) are taxed at the
     buyer's country rate when the seller holds, on the invoice date, a registration in that
     country, `EU-OSS` (digital and goods), `EU-NONUNION-OSS` (digital) or `EU-IOSS` (goods),
     or is established in the EU and over the EUR 10,000 threshold (Article 59c): the setting
     `oss_threshold_exceeded` of the *seller's* country jurisdiction, `true` or the ISO date
     from which it applies; an EU seller under the threshold without those charges its own
     country's rate; a non-EU seller without them: digital -> the buyer jurisdiction's
     `unregistered_seller` choice (error by default), goods -> an import, out of scope;
   - other services (Article 45): the seller's country rate when it is in the EU, else out of
     scope of EU VAT.

Each taxing jurisdiction's tax-code mapping may turn the line exempt, zero rated or out of
scope instead (see `common.charge`). Exemption certificates are the core's (tax_calc turns a
TAXED decision in the certificate's jurisdiction into EXEMPT), so the engines ignore them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from billing.domain.tax import (
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

MEMBER_STATES = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"}
    | {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
)
REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Article 196, Council Directive 2006/112/EC)"
)
INTRA_COMMUNITY_NOTE = "Exempt intra-Community supply (Article 138, Council Directive 2006/112/EC)"
IMPORT_NOTE = "Import of goods: VAT is due on importation"
NON_EU_SERVICES_NOTE = (
    "Outside the scope of EU VAT: the supplier is established outside the EU "
    "(Article 45, Council Directive 2006/112/EC)"
)
SCHEMES = {
    Supply.DIGITAL: ("EU-OSS", "EU-NONUNION-OSS"),
    Supply.GOODS: ("EU-OSS", "EU-IOSS"),
}
EU_SETTINGS = COMMON_SETTINGS | {"oss_threshold_exceeded"}


class EuVat:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Problems in a jurisdiction's `settings:`, each naming its key (at load and on use)."""
        problems = check_common(settings, EU_SETTINGS)
        value = settings.get("oss_threshold_exceeded", False)
        if not isinstance(value, bool) and _iso_date(value) is None:
            problems.append(
                "oss_threshold_exceeded: must be true, false or an ISO date "
                f"(YYYY-MM-DD), not {value!r}"
            )
        return problems

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        buyer = request.buyer
        home = rules.jurisdiction_for(buyer.place)
        if home is None or buyer.place.country not in MEMBER_STATES:
            raise TaxNotDetermined(
                f"eu_vat taxes buyers in EU member states; {buyer.place.country!r} is not one "
                "listed in the tax rules"
            )
        checked(home, self.check_settings(home.settings))
        origin = rules.jurisdictions.get(request.seller.place.country)
        if origin is not None and origin.engine == home.engine and origin is not home:
            checked(origin, self.check_settings(origin.settings))
        decide = _Decision(request, rules, home)
        return tuple(decide.line(line) for line in request.lines)


class _Decision:
    """One request's facts, worked out once, and the per-line rule."""

    def __init__(self, request: TaxRequest, rules: TaxRules, home: Jurisdiction) -> None:
        self.request = request
        self.rules = rules
        self.home = home
        self.day = request.invoice_date
        self.buyer_country = request.buyer.place.country
        self.seller_country = request.seller.place.country
        self.seller_in_eu = self.seller_country in MEMBER_STATES
        self.tax_id, self.why_b2x = business_id(
            request.buyer, frozenset({"eu_vat"}), frozenset({self.buyer_country}), rules
        )

    def line(self, line: TaxableLine) -> LineTax:
        supply = supply_of(line.tax_code, self.home)
        if self.seller_country == self.buyer_country:
            return charge(self.home, line, f"domestic supply in {self.buyer_country}")
        if self.tax_id is not None:
            return self._b2b(line, supply)
        if supply is Supply.SERVICES:
            return self._b2c_general(line)
        return self._b2c_at_destination(line, supply)

    def _b2b(self, line: TaxableLine, supply: Supply) -> LineTax:
        facts = f"B2B {self.seller_country} -> {self.buyer_country}: {self.why_b2x}"
        if supply is Supply.GOODS:
            if self.seller_in_eu:
                origin = self._seller_jurisdiction()
                return untaxed(
                    origin, line, Treatment.EXEMPT, facts, default_note=INTRA_COMMUNITY_NOTE
                )
            return untaxed(self.home, line, Treatment.OUT_OF_SCOPE, f"{facts}; import", IMPORT_NOTE)
        return untaxed(
            self.home,
            line,
            Treatment.REVERSE_CHARGE,
            f"{facts}; place of supply {self.buyer_country} (Article 44)",
            default_note=REVERSE_CHARGE_NOTE,
        )

    def _b2c_general(self, line: TaxableLine) -> LineTax:
        facts = f"B2C service {self.seller_country} -> {self.buyer_country} ({self.why_b2x})"
        if self.seller_in_eu:
            return charge(
                self._seller_jurisdiction(),
                line,
                f"{facts}: the supplier's country (Article 45)",
            )
        return untaxed(
            self.home,
            line,
            Treatment.OUT_OF_SCOPE,
            f"{facts}: supplier established outside the EU (Article 45)",
            NON_EU_SERVICES_NOTE,
        )

    def _b2c_at_destination(self, line: TaxableLine, supply: Supply) -> LineTax:
        what = "digital service" if supply is Supply.DIGITAL else "distance sale of goods"
        facts = f"B2C {what} {self.seller_country} -> {self.buyer_country} ({self.why_b2x})"
        registration = self._covering(supply)
        if registration is not None:
            return charge(
                self.home,
                line,
                f"{facts}: the customer's country, registration {registration.jurisdiction} "
                f"{registration.number}",
            )
        if self.seller_in_eu:
            if self._over_threshold():
                return charge(
                    self.home,
                    line,
                    f"{facts}: the customer's country, the seller is over the EUR 10,000 "
                    "threshold (Article 59c)",
                )
            return charge(
                self._seller_jurisdiction(),
                line,
                f"{facts}: under the EUR 10,000 threshold without OSS, the seller's country "
                "(Article 59c)",
            )
        if supply is Supply.GOODS:
            return untaxed(self.home, line, Treatment.OUT_OF_SCOPE, f"{facts}: import", IMPORT_NOTE)
        code = self.buyer_country
        return unregistered(
            self.home,
            line,
            f"the seller has no registration covering B2C supplies to {code}: register for "
            f"the non-Union OSS or list {code}",
            f"{facts}: no registration covers {code}",
        )

    def _covering(self, supply: Supply) -> Registration | None:
        seller = self.request.seller
        for jurisdiction in (self.buyer_country, *SCHEMES[supply]):
            found = seller.registered_in(jurisdiction, self.day)
            if found is not None:
                return found
        return None

    def _seller_jurisdiction(self) -> Jurisdiction:
        found = self.rules.jurisdictions.get(self.seller_country)
        if found is None:
            raise TaxNotDetermined(
                f"the seller's country {self.seller_country} is not listed in the tax rules; "
                "its rates are needed for this supply"
            )
        return found

    def _over_threshold(self) -> bool:
        origin = self.rules.jurisdictions.get(self.seller_country)
        value = origin.settings.get("oss_threshold_exceeded", False) if origin else False
        if isinstance(value, bool):
            return value
        since = _iso_date(value)
        return since is not None and since <= self.day


def _iso_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None
