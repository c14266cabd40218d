"""The meaning pass for `kind: tax` files (ADR 0026), across all of them at once.

Any number of tax files merge: the policy and the seller each in at most one; a tax code and
a jurisdiction once across all. Codes of places are ISO 3166; every engine is registered; rates
are percents below 100, one per (name, effective_from); a jurisdiction maps declared tax codes
to its own rate names or to a treatment; a registration ends after it starts. Catalog products
name declared tax codes, and carry one when the policy requires it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from billing.domain.regions import country_problem, jurisdiction_problem, registration_problem
from billing.domain.tax import Treatment
from billing.rules.errors import RuleError, RulePath
from billing.rules.structure import ValidatedFile

ENGINE_TAX = "tax_engine"

# What a tax code may mean in a jurisdiction besides one of its rate names.
CODE_TREATMENTS = (Treatment.EXEMPT.value, Treatment.ZERO_RATED.value, Treatment.OUT_OF_SCOPE.value)
# Percent places: 9.975 (QST) has 3; more is a typo, not a rate.
PERCENT_PLACES_MAX = 4
# Sections of which one file holds the whole rule set's.
_SINGLE_SECTIONS = ("policy", "seller")


def check_tax(
    files: Sequence[ValidatedFile], engines: Mapping[str, Collection[str]]
) -> list[RuleError]:
    checker = _TaxChecker(files, engines)
    checker.run()
    return checker.errors


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class _TaxChecker:
    def __init__(
        self, files: Sequence[ValidatedFile], engines: Mapping[str, Collection[str]]
    ) -> None:
        self.tax_files = [file for file in files if file.kind == "tax"]
        self.catalogs = [file for file in files if file.kind == "catalog"]
        self.engines = engines.get(ENGINE_TAX, frozenset())
        self.errors: list[RuleError] = []
        self.codes: dict[str, str] = {}  # declared tax code -> where
        self.broken_codes: set[str] = set()
        self.jurisdictions: dict[str, str] = {}  # code -> where
        self.policy: tuple[ValidatedFile, Mapping[str, Any]] | None = None

    def run(self) -> None:
        self._single_sections()
        self._tax_codes()
        self._policy()
        self._seller()
        for file in self.tax_files:
            for path, item in file.items("jurisdictions"):
                self._jurisdiction(file, path, item)
        self._products()

    def _error(
        self, file: ValidatedFile, path: RulePath, message: str, *, at_key: bool = False
    ) -> None:
        self.errors.append(file.error(path, message, at_key=at_key))

    @staticmethod
    def _sound(file: ValidatedFile, section: str, key: str | None = None) -> bool:
        """The section (or its key) passed the structure pass."""
        if (section,) in file.broken:
            return False
        return key is None or (section, key) not in file.broken

    def _declared(self, code: str) -> bool:
        return code in self.codes or code in self.broken_codes

    # -- the checks ----------------------------------------------------------------------

    def _single_sections(self) -> None:
        for section in _SINGLE_SECTIONS:
            holders = [file for file in self.tax_files if section in file.data]
            for extra in holders[1:]:
                self._error(
                    extra,
                    (section,),
                    f"{section} is already defined in {holders[0].name}; the {section} is in"
                    " one tax file only",
                    at_key=True,
                )

    def _tax_codes(self) -> None:
        for file in self.tax_files:
            self.broken_codes |= file.broken_codes("tax_codes")
            for path, item in file.items("tax_codes"):
                code = item["code"]
                if code in self.codes:
                    self._error(
                        file,
                        (*path, "code"),
                        f"tax code {code!r} is already declared at {self.codes[code]}",
                    )
                else:
                    self.codes[code] = file.where(path)

    def _policy(self) -> None:
        holders = [file for file in self.tax_files if "policy" in file.data]
        if not holders or not self._sound(holders[0], "policy"):
            return
        file = holders[0]
        self.policy = (file, file.data["policy"])
        code = file.data["policy"].get("default_tax_code")
        sound = self._sound(file, "policy", "default_tax_code")
        if code is not None and sound and not self._declared(code):
            self._error(
                file, ("policy", "default_tax_code"), self._unknown_code(code, "the default")
            )

    def _unknown_code(self, code: str, what: str) -> str:
        declared = ", ".join(sorted(self.codes)) or "none"
        return f"{what} tax code {code!r} is not declared under tax_codes (declared: {declared})"

    def _seller(self) -> None:
        holders = [file for file in self.tax_files if "seller" in file.data]
        if not holders or not self._sound(holders[0], "seller"):
            return
        file = holders[0]
        seller = file.data["seller"]
        country = seller.get("country")
        country_ok = False
        if country is not None and self._sound(file, "seller", "country"):
            problem = country_problem(country)
            country_ok = problem is None
            if problem is not None:
                self._error(file, ("seller", "country"), problem)
        subdivision = seller.get("subdivision") or ""
        if subdivision and country_ok and self._sound(file, "seller", "subdivision"):
            problem = jurisdiction_problem(f"{country}-{subdivision}")
            if problem is not None:
                self._error(file, ("seller", "subdivision"), problem)
        if self._sound(file, "seller", "registrations"):
            for index, registration in enumerate(seller.get("registrations") or ()):
                self._registration(file, ("seller", "registrations", index), registration)

    def _registration(
        self, file: ValidatedFile, path: RulePath, registration: Mapping[str, Any]
    ) -> None:
        problem = registration_problem(registration["jurisdiction"])
        if problem is not None:
            self._error(file, (*path, "jurisdiction"), problem)
        start: date = registration["valid_from"]
        end: date | None = registration.get("valid_until")
        if end is not None and end <= start:
            self._error(
                file,
                (*path, "valid_until"),
                f"valid_until {end.isoformat()} must be after valid_from {start.isoformat()}",
            )

    def _jurisdiction(self, file: ValidatedFile, path: RulePath, item: Mapping[str, Any]) -> None:
        code = item["code"]
        problem = jurisdiction_problem(code)
        if problem is not None:
            self._error(file, (*path, "code"), problem)
        elif code in self.jurisdictions:
            self._error(
                file,
                (*path, "code"),
                f"jurisdiction {code!r} is already defined at {self.jurisdictions[code]}",
            )
        else:
            self.jurisdictions[code] = file.where(path)
        engine = item["engine"]
        if engine not in self.engines:
            known = ", ".join(sorted(self.engines)) or "none"
            self._error(
                file, (*path, "engine"), f"unknown tax engine {engine!r}; registered: {known}"
            )
        else:
            self._settings(file, path, engine, item.get("settings") or {})
        names = self._rates(file, path, item["rates"])
        self._code_meanings(file, path, code, item["tax_codes"], names)

    def _settings(
        self, file: ValidatedFile, path: RulePath, engine: str, settings: Mapping[str, Any]
    ) -> None:
        # An engine may check its own settings at load, as a pricing model checks its params.
        found = self.engines.get(engine) if isinstance(self.engines, Mapping) else None
        check = getattr(found, "check_settings", None)
        if check is not None:
            for problem in check(settings):
                self._error(file, (*path, "settings"), problem)

    def _rates(
        self, file: ValidatedFile, path: RulePath, rates: Sequence[Mapping[str, Any]]
    ) -> set[str]:
        seen: dict[tuple[str, date], int] = {}
        for index, rate in enumerate(rates):
            rate_path = (*path, "rates", index)
            percent: Decimal = rate["percent"]
            if percent >= 100:
                self._error(file, (*rate_path, "percent"), f"must be below 100, got {percent}")
            if _places(percent) > PERCENT_PLACES_MAX:
                self._error(
                    file,
                    (*rate_path, "percent"),
                    f"{percent} has more than {PERCENT_PLACES_MAX} decimal places",
                )
            key = (rate["name"], rate["effective_from"])
            if key in seen:
                self._error(
                    file,
                    (*rate_path, "effective_from"),
                    f"rate {key[0]!r} already has an entry effective from"
                    f" {key[1].isoformat()} (rates[{seen[key]}])",
                )
            else:
                seen[key] = index
        return {name for name, _ in seen}

    def _code_meanings(
        self,
        file: ValidatedFile,
        path: RulePath,
        jurisdiction: str,
        meanings: Mapping[str, str],
        rate_names: set[str],
    ) -> None:
        for tax_code, meaning in meanings.items():
            where = (*path, "tax_codes", tax_code)
            if not self._declared(tax_code):
                self._error(file, where, self._unknown_code(tax_code, "the"), at_key=True)
            if meaning not in rate_names and meaning not in CODE_TREATMENTS:
                names = ", ".join(sorted(rate_names)) or "none"
                self._error(
                    file,
                    where,
                    f"{meaning!r} is neither a rate name of {jurisdiction} ({names}) nor a"
                    f" treatment ({', '.join(CODE_TREATMENTS)})",
                )

    def _products(self) -> None:
        if not self.tax_files:
            return  # without tax rules a tax code means nothing yet, and is not checked
        required_at = None
        if self.policy is not None and self.policy[1].get("require_tax_code") is True:
            required_at = self.policy[0].where(("policy", "require_tax_code"))
        for file, path, product in self._catalog_products():
            code = product.get("tax_code")
            if code is None:
                if required_at is not None:
                    self._error(
                        file,
                        path,
                        f"product {product['code']!r} has no tax_code, and the tax policy"
                        f" requires one ({required_at})",
                    )
            elif not self._declared(code):
                self._error(file, (*path, "tax_code"), self._unknown_code(code, "the"))

    def _catalog_products(self) -> Iterator[tuple[ValidatedFile, RulePath, Mapping[str, Any]]]:
        for file in self.catalogs:
            for path, product in file.items("products"):
                yield file, path, product
