"""The `example_iceland_vat` tax engine: Icelandic VAT (virðisaukaskattur) for buyers in IS.

It decides, per line, how Iceland taxes it; the rates themselves (24% standard, 11% reduced,
with their dates and sources) are in the rules, and the core does the arithmetic:

- the seller is registered in IS on the invoice date: taxed, at the rate name the
  jurisdiction's `tax_codes` gives the line's tax code (`standard` when it lists none), or
  the treatment it names (exempt, zero_rated, out_of_scope);
- else, a business buyer with an Icelandic VAT number (confirmed or well formed; one that could
  not be checked only if `policy.unknown_tax_id` is trust_format): reverse charge (the buyer
  accounts for the VAT on services bought from abroad), unless `settings.reverse_charge_b2b`
  is false;
- else: out of scope (the seller collects no Icelandic VAT).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from billing.domain.tax import (
    CustomerType,
    LineTax,
    TaxIdStatus,
    TaxRequest,
    TaxRules,
    Treatment,
    UnknownTaxId,
)
from billing.plugins.engines import TaxEngine, TaxNotDetermined
from billing.plugins.hookspecs import hookimpl

ENGINE = "example_iceland_vat"
COUNTRY = "IS"
TAX_ID_TYPE = "is_vat"  # virðisaukaskattsnúmer
REVERSE_CHARGE_NOTE = (
    "Reverse charge: the buyer accounts for the VAT (Act No. 50/1988 on Value Added Tax)"
)
_SETTINGS = {"reverse_charge_b2b": bool}
_TREATMENTS = {t.value: t for t in (Treatment.EXEMPT, Treatment.ZERO_RATED, Treatment.OUT_OF_SCOPE)}


class IcelandVat:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = [
            f"settings.{key} is not a setting of {ENGINE} (it reads: {', '.join(_SETTINGS)})"
            for key in settings
            if key not in _SETTINGS
        ]
        problems += [
            f"settings.{key} must be true or false"
            for key, kind in _SETTINGS.items()
            if key in settings and not isinstance(settings[key], kind)
        ]
        return problems

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        jurisdiction = rules.jurisdictions.get(COUNTRY)
        if jurisdiction is None:
            raise TaxNotDetermined(f"{ENGINE} needs the jurisdiction {COUNTRY} in the tax rules")
        registered = request.seller.registered_in(COUNTRY, request.invoice_date)
        if registered is None:
            return self._not_collected(request, rules, jurisdiction.tax_name, jurisdiction.settings)
        found = []
        for line in request.lines:
            meaning = jurisdiction.treatment_of(line.tax_code) or "standard"
            treatment = _TREATMENTS.get(meaning)
            found.append(
                LineTax(
                    line.index,
                    COUNTRY,
                    jurisdiction.tax_name,
                    treatment or Treatment.TAXED,
                    rate_name=meaning if treatment is None else "",
                    note=f"{treatment.value.replace('_', ' ')} supply" if treatment else "",
                    reason=f"the seller is registered for VAT in Iceland ({registered.number})",
                )
            )
        return tuple(found)

    def _not_collected(
        self, request: TaxRequest, rules: TaxRules, tax_name: str, settings: Mapping[str, Any]
    ) -> Sequence[LineTax]:
        buyer = request.buyer
        # A tax id counts when confirmed or well formed; one the registry could not be asked
        # about counts only if the policy trusts the format (`unknown_tax_id`).
        counted = {TaxIdStatus.VALID, TaxIdStatus.FORMAT_VALID}
        if rules.policy.unknown_tax_id is UnknownTaxId.TRUST_FORMAT:
            counted.add(TaxIdStatus.UNKNOWN)
        business = buyer.customer_type is CustomerType.BUSINESS and any(
            tax_id.type == TAX_ID_TYPE and tax_id.status in counted for tax_id in buyer.tax_ids
        )
        if business and settings.get("reverse_charge_b2b", True):
            treatment, note = Treatment.REVERSE_CHARGE, REVERSE_CHARGE_NOTE
            reason = "a business in Iceland buying from a seller not registered there"
        else:
            treatment, note = Treatment.OUT_OF_SCOPE, ""
            reason = "the seller is not registered for VAT in Iceland"
        return tuple(
            LineTax(
                line.index, COUNTRY, tax_name, treatment, rate_name="", note=note, reason=reason
            )
            for line in request.lines
        )


@hookimpl
def billing_register_tax_engines(register: Callable[[str, TaxEngine], None]) -> None:
    register(ENGINE, IcelandVat())
