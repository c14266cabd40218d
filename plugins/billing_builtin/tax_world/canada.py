"""Tax engine `canada`: GST, HST, PST/RST and QST (ADR 0030).

Place of supply: the buyer's province (the recipient's address; ETA Schedule IX, Part V for
intangibles and services), so a Canadian address must name it.

- **GST/HST** (the seller's registration `CA`, one number for both): in a province whose
  jurisdiction says `settings.provincial: hst` (ON, NS, NB, NL, PE) the line gets HST at the
  province's rate (jurisdiction `CA-ON`, tax `HST`), replacing GST; elsewhere GST at the
  federal rate (jurisdiction `CA`). The federal entry's `tax_codes` decide whether a code is
  taxable, zero-rated or exempt; an HST province's rates give the percent.
- **PST/RST/QST** (`settings.provincial: pst` or `qst`: BC, SK, MB, QC): on top of GST, each
  on the net price (the core applies every LineTax to the net), only when the seller is
  registered in that province on the invoice date and the province's `tax_codes` give the code
  a rate (SaaS is taxable under BC PST, SK PST, MB RST and QST). Not registered there, or a
  code the province does not tax: no provincial line.
- A seller without a GST/HST registration: `settings.unregistered` of `CA` (out_of_scope, the
  small supplier; or error).
- A non-resident seller supplying a business that gave its GST/HST number (`ca_bn`, `ca_gst`):
  no GST/HST charged (the simplified-registration regime charges consumers only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from billing.domain.tax import Jurisdiction, LineTax, TaxRequest, TaxRules, Treatment
from billing.plugins.engines import TaxNotDetermined
from billing_builtin.tax_world._common import (
    UNREGISTERED_CHOICES,
    is_business,
    is_treatment,
    jurisdiction,
    line_tax,
    rate_or_treatment,
    settings_problems,
    unregistered,
)

PROVINCIAL_KINDS = ("hst", "pst", "qst", "none")
GST_ID_TYPES = ("ca_bn", "ca_gst")
FEDERAL_NOTES = {
    "zero_rated": "Zero-rated supply (Excise Tax Act, Schedule VI)",
    "exempt": "Exempt supply (Excise Tax Act, Schedule V)",
    "out_of_scope": "Not subject to GST/HST",
}
SMALL_SUPPLIER = "The supplier is not registered for GST/HST (small supplier, ETA s.148)"
NON_RESIDENT_B2B = (
    "Supply by a non-resident to a GST/HST registrant: no GST/HST charged; the recipient "
    "self-assesses where required (ETA Part IX, Division II, Subdivision E)"
)


class Canada:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return settings_problems(
            settings, {"provincial": PROVINCIAL_KINDS, "unregistered": UNREGISTERED_CHOICES}
        )

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        place = request.buyer.place
        if place.country != "CA":
            raise TaxNotDetermined(f"the canada engine taxes Canadian buyers, not {place.country}")
        if not place.subdivision:
            raise TaxNotDetermined("a Canadian address needs its province")
        federal = jurisdiction(rules, "CA")
        province = jurisdiction(rules, place.jurisdiction)
        kind = str(province.settings.get("provincial", "none"))
        if kind not in PROVINCIAL_KINDS:
            raise TaxNotDetermined(
                f"{province.code}: settings.provincial must be one of {', '.join(PROVINCIAL_KINDS)}"
            )
        taxes = list(self._federal(request, rules, federal, province, harmonized=kind == "hst"))
        if kind in ("pst", "qst"):
            taxes.extend(self._provincial(request, province))
        return taxes

    def _federal(
        self,
        request: TaxRequest,
        rules: TaxRules,
        federal: Jurisdiction,
        province: Jurisdiction,
        *,
        harmonized: bool,
    ) -> Sequence[LineTax]:
        seller = request.seller
        code, tax_name = (province.code, province.tax_name) if harmonized else ("CA", "GST")
        if seller.place.country != "CA" and is_business(
            request.buyer, GST_ID_TYPES, rules.policy, needs_id=True
        ):
            return tuple(
                LineTax(
                    line.index,
                    code,
                    tax_name,
                    Treatment.OUT_OF_SCOPE,
                    note=NON_RESIDENT_B2B,
                    reason="non-resident supplier, registered business recipient",
                )
                for line in request.lines
            )
        if seller.registered_in("CA", request.invoice_date) is None:
            return unregistered(request, federal, "GST/HST", SMALL_SUPPLIER)
        reason = f"place of supply: the buyer's province {province.code}"
        return tuple(
            line_tax(
                line,
                code,
                tax_name,
                rate_or_treatment(federal, line.tax_code),
                reason=reason,
                notes=FEDERAL_NOTES,
            )
            for line in request.lines
        )

    def _provincial(self, request: TaxRequest, province: Jurisdiction) -> Sequence[LineTax]:
        if request.seller.registered_in(province.code, request.invoice_date) is None:
            return ()
        taxes = []
        for line in request.lines:
            value = rate_or_treatment(province, line.tax_code)
            if is_treatment(value):
                continue  # not taxed by the province: the federal line carries the supply
            taxes.append(
                LineTax(
                    line.index,
                    province.code,
                    province.tax_name,
                    Treatment.TAXED,
                    rate_name=value,
                    reason=f"{province.tax_name} on the net price, seller registered in "
                    f"{province.code}",
                )
            )
        return taxes
