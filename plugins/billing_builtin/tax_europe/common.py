"""What the European engines share (ADR 0029): who counts as a business buyer, what kind of
supply a tax code is, what a jurisdiction's tax-code mapping makes of a line, and the engine
settings they read from a jurisdiction's `settings:`.

Settings (all optional, per jurisdiction):

- `supply_types: {tax_code: digital | services | goods}` — what a tax code is for the
  place-of-supply rules, read on the buyer's jurisdiction. Codes not listed there follow
  `DEFAULT_SUPPLY` (saas, digital_service, ebook... are digital; physical_good, goods... are
  goods); any other code is a general service (the supplier's place for consumers).
- `reverse_charge_note`, `exempt_note`, `zero_rated_note`, `out_of_scope_note` — the legal
  note printed for that treatment in this jurisdiction, instead of the engine's default.
- `unregistered_seller: error | out_of_scope` — a consumer supply taxable here that no
  registration of the seller covers: `error` (the default) refuses it with TaxNotDetermined
  naming the registration missing; `out_of_scope` invoices it without this tax.
- `b2b_requires_tax_id: true | false` (GB, CH, NO; default true) — whether a business buyer
  must show a tax id of the country to be treated as one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from billing.domain.tax import (
    Buyer,
    CustomerType,
    Jurisdiction,
    LineTax,
    TaxableLine,
    TaxIdFact,
    TaxIdStatus,
    TaxRules,
    Treatment,
    UnknownTaxId,
)
from billing.plugins.engines import TaxNotDetermined


class Supply(StrEnum):
    """The kind of supply, which decides the place-of-supply rule for consumers."""

    DIGITAL = "digital"  # electronically supplied, telecom, broadcasting: the customer's place
    SERVICES = "services"  # other services (professional...): the supplier's place
    GOODS = "goods"  # distance sales of goods: the customer's place over the threshold


DEFAULT_SUPPLY: Mapping[str, Supply] = {
    "saas": Supply.DIGITAL,
    "digital_service": Supply.DIGITAL,
    "electronic_service": Supply.DIGITAL,
    "digital_goods": Supply.DIGITAL,
    "ebook": Supply.DIGITAL,
    "streaming": Supply.DIGITAL,
    "software_download": Supply.DIGITAL,
    "telecom": Supply.DIGITAL,
    "broadcasting": Supply.DIGITAL,
    "physical_good": Supply.GOODS,
    "goods": Supply.GOODS,
    "printed_book": Supply.GOODS,
}

NON_TAXED = {t.value: t for t in (Treatment.EXEMPT, Treatment.ZERO_RATED, Treatment.OUT_OF_SCOPE)}
DEFAULT_NOTES: Mapping[Treatment, str] = {
    Treatment.EXEMPT: "Exempt from {tax}",
    Treatment.ZERO_RATED: "Zero-rated supply: {tax} at 0%",
    Treatment.OUT_OF_SCOPE: "Outside the scope of {tax}",
}
UNREGISTERED_CHOICES = ("error", "out_of_scope")
SUPPLY_CHOICES = tuple(s.value for s in Supply)
COMMON_SETTINGS = frozenset(
    {
        "supply_types",
        "reverse_charge_note",
        "exempt_note",
        "zero_rated_note",
        "out_of_scope_note",
        "unregistered_seller",
    }
)
GREECE_PREFIX = {"EL": "GR"}  # Greek VAT numbers start EL; the country is GR


def supply_of(tax_code: str, jurisdiction: Jurisdiction) -> Supply:
    configured = _mapping(jurisdiction, "supply_types").get(tax_code)
    if configured is not None:
        return Supply(str(configured))
    return DEFAULT_SUPPLY.get(tax_code, Supply.SERVICES)


def note_for(jurisdiction: Jurisdiction, treatment: Treatment, default: str = "") -> str:
    configured = jurisdiction.settings.get(f"{treatment.value}_note")
    if configured:
        return str(configured)
    template = default or DEFAULT_NOTES.get(treatment, "")
    return template.format(tax=jurisdiction.tax_name)


def meaning(jurisdiction: Jurisdiction, tax_code: str) -> str:
    """What a tax code is in a jurisdiction: its mapping there; else, for a code named for a
    treatment (`exempt`, `zero_rated`, `out_of_scope`), that treatment; else `standard`."""
    mapped = jurisdiction.treatment_of(tax_code)
    if mapped is not None:
        return mapped
    return tax_code if tax_code in NON_TAXED else "standard"


def charge(jurisdiction: Jurisdiction, line: TaxableLine, reason: str) -> LineTax:
    """The line taxed in `jurisdiction` as the tax code means there (see `meaning`): a named
    rate, or exempt / zero rated / out of scope with the jurisdiction's note."""
    mapped = meaning(jurisdiction, line.tax_code)
    treatment = NON_TAXED.get(mapped)
    if treatment is not None:
        return LineTax(
            line.index,
            jurisdiction.code,
            jurisdiction.tax_name,
            treatment,
            rate_name="",
            note=note_for(jurisdiction, treatment),
            reason=f"{reason}; tax code {line.tax_code} is {mapped} in {jurisdiction.code}",
        )
    return LineTax(
        line.index,
        jurisdiction.code,
        jurisdiction.tax_name,
        Treatment.TAXED,
        rate_name=mapped,
        reason=f"{reason}; tax code {line.tax_code}: {mapped} rate of {jurisdiction.code}",
    )


def untaxed(
    jurisdiction: Jurisdiction,
    line: TaxableLine,
    treatment: Treatment,
    reason: str,
    default_note: str = "",
) -> LineTax:
    """A treatment other than TAXED, unless the tax code is itself non-taxed there (an exempt
    supply stays exempt rather than reverse charged)."""
    mapped = NON_TAXED.get(meaning(jurisdiction, line.tax_code))
    if mapped is not None and treatment is Treatment.REVERSE_CHARGE:
        return charge(jurisdiction, line, reason)
    return LineTax(
        line.index,
        jurisdiction.code,
        jurisdiction.tax_name,
        treatment,
        rate_name="",
        note=note_for(jurisdiction, treatment, default_note),
        reason=reason,
    )


def tax_id_country(fact: TaxIdFact) -> str:
    country = fact.country.upper() or fact.value[:2].upper()
    return GREECE_PREFIX.get(country, country)


def business_id(
    buyer: Buyer, types: frozenset[str], countries: frozenset[str], rules: TaxRules
) -> tuple[TaxIdFact | None, str]:
    """The tax id that makes the buyer a business for these engines, and why (or why not):
    a business customer with an id of one of `types` issued by one of `countries`, VALID, or
    UNKNOWN / FORMAT_VALID when the policy trusts the format."""
    if buyer.customer_type is not CustomerType.BUSINESS:
        return None, "the buyer is a consumer"
    trust = rules.policy.unknown_tax_id is UnknownTaxId.TRUST_FORMAT
    accepted = {TaxIdStatus.VALID} | (
        {TaxIdStatus.UNKNOWN, TaxIdStatus.FORMAT_VALID} if trust else set()
    )
    seen: list[str] = []
    for fact in buyer.tax_ids:
        if fact.type not in types or tax_id_country(fact) not in countries:
            continue
        if fact.status in accepted:
            return fact, f"the buyer's {fact.type} id {fact.value} is {fact.status.value}"
        seen.append(f"{fact.value} ({fact.status.value})")
    if seen:
        policy = rules.policy.unknown_tax_id.value
        return None, (
            f"the buyer's tax id {', '.join(seen)} is not confirmed (unknown_tax_id: {policy}); "
            "taxed as a consumer"
        )
    wanted = "/".join(sorted(types))
    return None, f"the business buyer shows no {wanted} id of {'/'.join(sorted(countries))}"


def unregistered_choice(jurisdiction: Jurisdiction) -> str:
    return str(jurisdiction.settings.get("unregistered_seller", "error"))


def unregistered(
    jurisdiction: Jurisdiction, line: TaxableLine, message: str, reason: str
) -> LineTax:
    """No registration of the seller covers a consumer supply taxable here: an error, or out
    of scope when the jurisdiction's settings say so."""
    if unregistered_choice(jurisdiction) != "out_of_scope":
        raise TaxNotDetermined(message)
    return LineTax(
        line.index,
        jurisdiction.code,
        jurisdiction.tax_name,
        Treatment.OUT_OF_SCOPE,
        rate_name="",
        note=note_for(jurisdiction, Treatment.OUT_OF_SCOPE),
        reason=f"{reason} (unregistered_seller: out_of_scope)",
    )


def check_common(settings: Mapping[str, Any], allowed: frozenset[str]) -> list[str]:
    """Problems in a jurisdiction's settings for these engines, each naming the key."""
    problems = [f"{key}: unknown setting" for key in settings if key not in allowed]
    choice = settings.get("unregistered_seller", "error")
    if choice not in UNREGISTERED_CHOICES:
        problems.append(f"unregistered_seller: must be error or out_of_scope, not {choice!r}")
    supply_types = settings.get("supply_types", {})
    if not isinstance(supply_types, Mapping):
        problems.append("supply_types: must map tax codes to digital, services or goods")
    else:
        problems.extend(
            f"supply_types.{code}: must be digital, services or goods, not {kind!r}"
            for code, kind in supply_types.items()
            if kind not in SUPPLY_CHOICES
        )
    for key in ("reverse_charge_note", "exempt_note", "zero_rated_note", "out_of_scope_note"):
        if key in settings and not isinstance(settings[key], str):
            problems.append(f"{key}: must be text")
    return problems


def checked(jurisdiction: Jurisdiction, problems: list[str]) -> None:
    """Refuse to decide under settings the engine does not understand."""
    if problems:
        raise TaxNotDetermined(f"settings of {jurisdiction.code}: {'; '.join(problems)}")


def _mapping(jurisdiction: Jurisdiction, key: str) -> Mapping[str, Any]:
    value = jurisdiction.settings.get(key)
    return value if isinstance(value, Mapping) else {}
