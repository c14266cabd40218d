"""What the engines outside Europe share (ADR 0030): reading a jurisdiction's tax code
mapping, accepting a buyer's tax id, and what an unregistered seller gets.

Conventions every engine here follows:
- a tax code the jurisdiction does not list is taxed at its `standard` rate (GST and sales
  taxes tax everything unless a statute says otherwise); list `exempt`, `zero_rated` or
  `out_of_scope` (or another rate name) to say otherwise;
- registrations are checked on the invoice date;
- a jurisdiction's `settings.unregistered` says what a seller without a registration gets:
  `out_of_scope` (the default: a small supplier, below the threshold) or `error`
  (TaxNotDetermined: the rules are incomplete, someone must decide).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from billing.domain.tax import (
    Buyer,
    CustomerType,
    Jurisdiction,
    LineTax,
    TaxableLine,
    TaxIdFact,
    TaxIdStatus,
    TaxPolicy,
    TaxRequest,
    TaxRules,
    Treatment,
    UnknownTaxId,
)
from billing.plugins.engines import TaxNotDetermined

NON_RATE_TREATMENTS = frozenset(
    {Treatment.EXEMPT, Treatment.ZERO_RATED, Treatment.OUT_OF_SCOPE, Treatment.REVERSE_CHARGE}
)
UNREGISTERED_CHOICES = ("out_of_scope", "error")
_KINDS: Mapping[type, str] = {str: "a non-empty string", bool: "true or false"}


def jurisdiction(rules: TaxRules, code: str) -> Jurisdiction:
    """A jurisdiction the engine needs, or a plain error naming the missing entry."""
    found = rules.jurisdictions.get(code)
    if found is None:
        raise TaxNotDetermined(f"the tax rules list no jurisdiction {code}")
    return found


def rate_or_treatment(place: Jurisdiction, tax_code: str, default: str = "standard") -> str:
    """The rate name a tax code gets in a jurisdiction, or a non-rate treatment's value;
    `default` (`standard`) when the jurisdiction does not list the code."""
    return place.treatment_of(tax_code) or default


def is_treatment(value: str) -> bool:
    return value in {t.value for t in NON_RATE_TREATMENTS}


def line_tax(
    line: TaxableLine,
    code: str,
    tax_name: str,
    value: str,
    *,
    reason: str,
    notes: dict[str, str] | None = None,
) -> LineTax:
    """A line taxed at the rate `value` names, or the treatment `value` is, with its note."""
    if is_treatment(value):
        treatment = Treatment(value)
        note = (notes or {}).get(value, "")
        return LineTax(line.index, code, tax_name, treatment, note=note, reason=reason)
    return LineTax(line.index, code, tax_name, Treatment.TAXED, rate_name=value, reason=reason)


def accepted_tax_id(buyer: Buyer, types: Iterable[str], policy: TaxPolicy) -> TaxIdFact | None:
    """The buyer's first tax id of one of `types` that we may rely on: valid, format-valid,
    or unknown (registry down) when the policy trusts the format."""
    wanted = set(types)
    for fact in buyer.tax_ids:
        if fact.type not in wanted:
            continue
        if fact.status in (TaxIdStatus.VALID, TaxIdStatus.FORMAT_VALID):
            return fact
        if (
            fact.status is TaxIdStatus.UNKNOWN
            and policy.unknown_tax_id is UnknownTaxId.TRUST_FORMAT
        ):
            return fact
    return None


def is_business(buyer: Buyer, types: Iterable[str], policy: TaxPolicy, *, needs_id: bool) -> bool:
    """A business buyer for B2B rules: its customer type, and a tax id we may rely on when the
    jurisdiction requires one (a registration number proves the buyer is registered)."""
    if buyer.customer_type is not CustomerType.BUSINESS:
        return False
    return not needs_id or accepted_tax_id(buyer, types, policy) is not None


def unregistered(
    request: TaxRequest, place: Jurisdiction, tax_name: str, note: str
) -> tuple[LineTax, ...]:
    """Every line out of scope with `note`, or TaxNotDetermined, as `settings.unregistered`
    says (see the module docstring)."""
    choice = str(place.settings.get("unregistered", "out_of_scope"))
    if choice == "error":
        raise TaxNotDetermined(f"{note} ({place.code}: settings.unregistered is error)")
    return tuple(
        LineTax(
            line.index,
            place.code,
            tax_name,
            Treatment.OUT_OF_SCOPE,
            note=note,
            reason=f"the seller has no {tax_name} registration in {place.code}",
        )
        for line in request.lines
    )


def settings_problems(
    settings: Mapping[str, Any], choices: Mapping[str, tuple[Any, ...] | type]
) -> list[str]:
    """Load-time check of a jurisdiction's `settings` (the rules call `check_settings`): each
    key known, each value one of its choices or of its type."""
    problems = []
    for key, value in settings.items():
        allowed = choices.get(key)
        if allowed is None:
            known = ", ".join(sorted(choices)) or "none"
            problems.append(f"unknown setting {key!r} (known: {known})")
        elif isinstance(allowed, tuple):
            if value not in allowed:
                options = ", ".join(str(option) for option in allowed)
                problems.append(f"settings.{key} must be one of {options}, got {value!r}")
        elif not isinstance(value, allowed) or (allowed is str and not value):
            wanted = _KINDS.get(allowed, allowed.__name__)
            problems.append(f"settings.{key} must be {wanted}, got {value!r}")
    return problems
