"""Tax engines `au_gst`, `nz_gst`, `sg_gst` and `jp_ct`: one country-wide tax, and imported
digital services taxed where the consumer is (ADR 0030).

They share one shape, so one class with a profile per country:
- **Domestic seller** (its address in the country): the line at the rate its tax code names
  when the seller is registered in the country on the invoice date; otherwise
  `settings.unregistered` (out_of_scope below the registration threshold, or error).
- **Foreign seller, business buyer** (customer type business, and, where the profile says so,
  a tax id of the profile's types that we may rely on): not charged by the seller. Japan and
  Singapore: reverse charge, the recipient accounts for the tax; Australia and New Zealand: out
  of scope for the supplier (the recipient reverse-charges only where its own rules say so).
  `settings.b2b_treatment` overrides (reverse_charge | out_of_scope).
- **Foreign seller, consumer**: charged when the seller is registered in the country (the
  simplified/overseas-vendor regimes: AU Div 84 from 2017-07-01, NZ remote services from
  2016-10-01, SG OVR from 2020-01-01, JP cross-border electronic services from 2015-10-01);
  otherwise `settings.unregistered`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from billing.domain.tax import Jurisdiction, LineTax, TaxRequest, TaxRules, Treatment
from billing.plugins.engines import TaxNotDetermined
from billing_builtin.tax_world._common import (
    UNREGISTERED_CHOICES,
    is_business,
    jurisdiction,
    line_tax,
    rate_or_treatment,
    settings_problems,
    unregistered,
)


@dataclass(frozen=True)
class Profile:
    country: str
    tax_name: str
    b2b_id_types: tuple[str, ...]
    b2b_needs_id: bool
    b2b_treatment: Treatment
    b2b_note: str
    unregistered_note: str
    notes: tuple[tuple[str, str], ...] = ()


AU = Profile(
    "AU",
    "GST",
    ("au_abn",),
    True,
    Treatment.OUT_OF_SCOPE,
    "Imported service to a GST-registered Australian business: not a taxable supply by the "
    "supplier; the recipient accounts for any GST under reverse charge (GST Act 1999 "
    "s.84-5, Div 84)",
    "The supplier is not registered for GST in Australia",
    (("exempt", "Input taxed supply"), ("zero_rated", "GST-free supply")),
)
NZ = Profile(
    "NZ",
    "GST",
    ("nz_gst",),
    True,
    Treatment.OUT_OF_SCOPE,
    "Remote service to a GST-registered New Zealand business: no GST charged by the "
    "supplier; the recipient accounts for any GST under reverse charge (GST Act 1985 s.8(4B))",
    "The supplier is not registered for GST in New Zealand",
    (("exempt", "Exempt supply"), ("zero_rated", "Zero-rated supply")),
)
SG = Profile(
    "SG",
    "GST",
    ("sg_uen", "sg_gst"),
    True,
    Treatment.REVERSE_CHARGE,
    "Imported service to a GST-registered Singapore business: reverse charge, GST to be "
    "accounted for by the recipient (GST Act 1993 s.14)",
    "The supplier is not registered for GST in Singapore (overseas vendor registration)",
    (("exempt", "Exempt supply"), ("zero_rated", "Zero-rated supply")),
)
JP = Profile(
    "JP",
    "consumption tax",
    ("jp_cn", "jp_trn"),
    False,
    Treatment.REVERSE_CHARGE,
    "Business-to-business electronic service: consumption tax to be paid by the recipient "
    "(reverse charge on specified taxable purchases, Consumption Tax Act as amended 2015)",
    "The supplier is not registered for consumption tax in Japan",
    (("exempt", "Non-taxable transaction"), ("zero_rated", "Export exemption")),
)
PROFILES = {"au_gst": AU, "nz_gst": NZ, "sg_gst": SG, "jp_ct": JP}


class CountryGst:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return settings_problems(
            settings,
            {
                "unregistered": UNREGISTERED_CHOICES,
                "b2b_treatment": (Treatment.REVERSE_CHARGE.value, Treatment.OUT_OF_SCOPE.value),
            },
        )

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        profile = self.profile
        if request.buyer.place.country != profile.country:
            raise TaxNotDetermined(
                f"this engine taxes buyers in {profile.country}, not {request.buyer.place.country}"
            )
        country = jurisdiction(rules, profile.country)
        seller = request.seller
        foreign = seller.place.country != profile.country
        if foreign and is_business(
            request.buyer, profile.b2b_id_types, rules.policy, needs_id=profile.b2b_needs_id
        ):
            return self._b2b(request, country)
        if seller.registered_in(profile.country, request.invoice_date) is None:
            return unregistered(request, country, profile.tax_name, profile.unregistered_note)
        reason = "imported digital service to a consumer" if foreign else "domestic supply"
        return tuple(
            line_tax(
                line,
                country.code,
                country.tax_name or profile.tax_name,
                rate_or_treatment(country, line.tax_code),
                reason=reason,
                notes=dict(profile.notes),
            )
            for line in request.lines
        )

    def _b2b(self, request: TaxRequest, country: Jurisdiction) -> Sequence[LineTax]:
        profile = self.profile
        configured = str(country.settings.get("b2b_treatment") or profile.b2b_treatment)
        if configured not in (Treatment.REVERSE_CHARGE, Treatment.OUT_OF_SCOPE):
            raise TaxNotDetermined(
                f"{country.code}: settings.b2b_treatment must be reverse_charge or out_of_scope"
            )
        treatment = Treatment(configured)
        return tuple(
            LineTax(
                line.index,
                country.code,
                country.tax_name or profile.tax_name,
                treatment,
                note=profile.b2b_note,
                reason="foreign supplier, business recipient",
            )
            for line in request.lines
        )
