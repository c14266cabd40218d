"""Turn validated `kind: tax` files into `billing.domain.tax.TaxRules` (ADR 0026). Runs only
when both passes found nothing, so it trusts shapes, codes and references.

Each rate and jurisdiction keeps its rule entry, the path a reader finds it at:
`tax_eu.yaml: jurisdictions[DE].rates[2]` (the index as written in the file; the built rates
are sorted by name and effective_from)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from billing.domain.tax import (
    NO_TAX_RULES,
    InclusiveRounding,
    Jurisdiction,
    LineRounding,
    Place,
    Registration,
    Seller,
    TaxCodeInfo,
    TaxPoint,
    TaxPolicy,
    TaxRate,
    TaxRules,
    UnknownTaxId,
)
from billing.rules.structure import ValidatedFile


def build_tax_rules(files: Sequence[ValidatedFile]) -> TaxRules:
    """The tax files merged; without any, NO_TAX_RULES (tax off)."""
    files = [file for file in files if file.kind == "tax"]
    if not files:
        return NO_TAX_RULES
    policy, seller, seller_name = TaxPolicy(), None, ""
    codes: dict[str, TaxCodeInfo] = {}
    jurisdictions: dict[str, Jurisdiction] = {}
    for file in files:
        data = file.data
        if "policy" in data:
            policy = _policy(data["policy"])
        if "seller" in data:
            seller, seller_name = _seller(data["seller"]), data["seller"]["name"]
        for _, item in file.items("tax_codes"):
            codes[item["code"]] = TaxCodeInfo(item["code"], item["description"])
        for _, item in file.items("jurisdictions"):
            jurisdictions[item["code"]] = _jurisdiction(file.name, item)
    return TaxRules(
        policy=policy,
        seller=seller,
        seller_name=seller_name,
        tax_codes=MappingProxyType(dict(sorted(codes.items()))),
        jurisdictions=MappingProxyType(dict(sorted(jurisdictions.items()))),
    )


def _policy(data: Mapping[str, Any]) -> TaxPolicy:
    defaults = TaxPolicy()
    return TaxPolicy(
        enabled=data.get("enabled", defaults.enabled),
        rounding=LineRounding(data.get("rounding", defaults.rounding)),
        inclusive_rounding=InclusiveRounding(
            data.get("inclusive_rounding", defaults.inclusive_rounding)
        ),
        prices_include_tax=data.get("prices_include_tax", defaults.prices_include_tax),
        default_tax_code=data.get("default_tax_code", defaults.default_tax_code),
        require_tax_code=data.get("require_tax_code", defaults.require_tax_code),
        unknown_tax_id=UnknownTaxId(data.get("unknown_tax_id", defaults.unknown_tax_id)),
    )


def _seller(data: Mapping[str, Any]) -> Seller:
    return Seller(
        place=Place(data["country"], data.get("subdivision", "")),
        registrations=tuple(
            Registration(r["jurisdiction"], r["number"], r["valid_from"], r.get("valid_until"))
            for r in data.get("registrations") or ()
        ),
        tax_ids=tuple((t["type"], t["value"]) for t in data.get("tax_ids") or ()),
    )


def _jurisdiction(file_name: str, item: Mapping[str, Any]) -> Jurisdiction:
    code = item["code"]
    entry = f"{file_name}: jurisdictions[{code}]"
    rates = sorted(
        (
            TaxRate(
                name=rate["name"],
                percent=rate["percent"],
                effective_from=rate["effective_from"],
                source=rate["source"],
                entry=f"{entry}.rates[{index}]",
            )
            for index, rate in enumerate(item["rates"])
        ),
        key=lambda rate: (rate.name, rate.effective_from),
    )
    return Jurisdiction(
        code=code,
        name=item["name"],
        engine=item["engine"],
        tax_name=item["tax_name"],
        tax_point=TaxPoint(item["tax_point"]),
        rates=tuple(rates),
        tax_codes=MappingProxyType(dict(item["tax_codes"])),
        settings=MappingProxyType(dict(item["settings"])),
        entry=entry,
    )
