"""The `recognition` rule kind (ADR 0054): performance obligations with their method and
standalone selling prices, the modification and collectibility policies. Meaning checks and
the build into `RecognitionRules` (the schema is `recognition_schema`).

```yaml
kind: recognition
default_method: ratable
modifications: prospective      # or catch_up
collectibility: recognize       # or defer_until_paid
obligations:
  - {plan: suite_yearly, method: ratable, ssp: {USD: 400.00}}
  - {price: onboarding, method: point_in_time, ssp: {USD: 150.00}}
  - {product: api, method: usage}
```
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType

from billing.domain.money import CURRENCY_EXPONENTS, currency_problem
from billing.domain.recognition import (
    BUILT_IN_METHODS,
    NO_RECOGNITION_RULES,
    Collectibility,
    Modifications,
    Obligation,
    RecognitionRules,
)
from billing.rules.errors import RuleError
from billing.rules.structure import ValidatedFile

TARGETS = ("price", "plan", "product")


def check_recognition(
    files: Sequence[ValidatedFile], engines: Mapping[str, Collection[str]]
) -> list[RuleError]:
    """One file; each obligation names one price, plan or product that exists, once, and a
    method built in or registered by a plugin; SSPs positive, in real currencies, payable in
    their minor unit."""
    errors: list[RuleError] = []
    found = [file for file in files if file.kind == "recognition"]
    for extra in found[1:]:
        message = f"only one recognition file is allowed; {found[0].name} already holds them"
        errors.append(extra.error(("kind",), message))
    known = _known(files)
    methods = BUILT_IN_METHODS | set(engines.get("recognition_method", ()))
    for file in found[:1]:
        default = file.data.get("default_method")
        if default is not None and default not in methods:
            errors.append(file.error(("default_method",), _unknown_method(default, methods)))
        seen: set[tuple[str, str]] = set()
        for path, item in file.items("obligations"):
            if item["method"] not in methods:
                errors.append(
                    file.error((*path, "method"), _unknown_method(item["method"], methods))
                )
            targets = [t for t in TARGETS if item.get(t)]
            if len(targets) != 1:
                errors.append(file.error(path, "name exactly one of price, plan or product"))
                continue
            target = targets[0]
            code = item[target]
            if code not in known[target]:
                errors.append(file.error((*path, target), f"unknown {target} {code!r}"))
            if (target, code) in seen:
                errors.append(file.error((*path, target), f"{target} {code!r} appears twice"))
            seen.add((target, code))
            for currency, amount in item["ssp"].items():
                where = (*path, "ssp", currency)
                if (problem := currency_problem(currency)) is not None:
                    errors.append(file.error(where, problem))
                elif amount <= 0:
                    errors.append(file.error(where, "must be above 0"))
                elif -int(amount.as_tuple().exponent) > CURRENCY_EXPONENTS[currency] + 6:
                    errors.append(file.error(where, "has too many decimal places"))
    return errors


def _unknown_method(name: str, methods: Collection[str]) -> str:
    return f"unknown recognition method {name!r}; expected one of {', '.join(sorted(methods))}"


def _known(files: Sequence[ValidatedFile]) -> dict[str, set[str]]:
    known: dict[str, set[str]] = {"price": set(), "plan": set(), "product": set()}
    for file in files:
        if file.kind == "catalog":
            known["plan"] |= {item["code"] for _, item in file.items("plans")}
            known["plan"] |= file.broken_codes("plans")
            known["product"] |= {item["code"] for _, item in file.items("products")}
            known["product"] |= file.broken_codes("products")
        if file.kind == "pricing":
            known["price"] |= {item["code"] for _, item in file.items("prices")}
            known["price"] |= file.broken_codes("prices")
    return known


def build_recognition_rules(files: Sequence[ValidatedFile]) -> RecognitionRules:
    found = [file for file in files if file.kind == "recognition"]
    if not found:
        return NO_RECOGNITION_RULES
    file = found[0]
    tables: dict[str, dict[str, Obligation]] = {t: {} for t in TARGETS}
    for _, item in file.items("obligations"):
        target = next(t for t in TARGETS if item.get(t))
        ssp = MappingProxyType(dict(item["ssp"]))
        tables[target][item[target]] = Obligation(item["method"], ssp)
    return RecognitionRules(
        by_price=MappingProxyType(tables["price"]),
        by_plan=MappingProxyType(tables["plan"]),
        by_product=MappingProxyType(tables["product"]),
        default_method=file.data["default_method"],
        modifications=Modifications(file.data["modifications"]),
        collectibility=Collectibility(file.data["collectibility"]),
    )
