"""The meaning pass for `kind: payments` and `kind: routing` files (ADR 0034, ADR 0040).

Gateways name registered engines whose `check_settings` accepts their settings, each name
once; routing cases name declared gateways (without a payments file: the default `sandbox`),
each once per case, with ISO 4217 currencies and ISO 3166-1 countries, amount bounds payable
in their currency and in order; windows and delays are above zero, lookups increase; fraud
scorers are registered (`fraud_check`). A case may list gateways of several token pools: a
method is only sent to those of its own pool, chosen at run time (ADR 0040).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from billing.domain.money import CURRENCY_EXPONENTS, currency_problem
from billing.domain.payment_rules import DEFAULT_PAYMENT_RULES, duration_text
from billing.domain.regions import country_problem
from billing.rules.errors import RuleError, RulePath
from billing.rules.structure import ValidatedFile

ENGINE_GATEWAY = "payment_gateway"
ENGINE_FRAUD_CHECK = "fraud_check"


def check_payments(
    files: Sequence[ValidatedFile],
    engines: Mapping[str, Collection[str]],
    unreadable: Mapping[str, str | None] | None = None,
) -> list[RuleError]:
    checker = _PaymentChecker(files, engines, unreadable or {})
    checker.run()
    return checker.errors


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _registered(engines: Mapping[str, Collection[str]], kind: str) -> Collection[str]:
    return engines.get(kind, frozenset())


class _PaymentChecker:
    def __init__(
        self,
        files: Sequence[ValidatedFile],
        engines: Mapping[str, Collection[str]],
        unreadable: Mapping[str, str | None],
    ) -> None:
        self.payments = [file for file in files if file.kind == "payments"]
        self.routing = [file for file in files if file.kind == "routing"]
        self.gateway_engines = _registered(engines, ENGINE_GATEWAY)
        self.fraud_checks = _registered(engines, ENGINE_FRAUD_CHECK)
        self.unreadable = unreadable
        self.errors: list[RuleError] = []
        self.gateways: dict[str, str] = {}  # name -> where it is declared
        # Names of gateway items the structure pass refused (their references are not
        # reported again), and whether the gateways are known at all.
        self.broken_gateways: set[str] = set()
        self.gateways_known = True

    def run(self) -> None:
        for file in self.payments[:1]:  # a second file is refused by the single-file check
            self._gateways(file)
            self._reconcile(file)
            self._fraud(file)
        if not self.payments:
            self.gateways = {
                g.name: "the default payment rules" for g in DEFAULT_PAYMENT_RULES.gateways
            }
            suspects = [
                name for name, kind in self.unreadable.items() if kind in (None, "payments")
            ]
            self.gateways_known = not suspects
        for file in self.routing[:1]:
            self._routing(file)

    def _error(
        self, file: ValidatedFile, path: RulePath, message: str, *, at_key: bool = False
    ) -> None:
        self.errors.append(file.error(path, message, at_key=at_key))

    @staticmethod
    def _sound(file: ValidatedFile, *path: str) -> bool:
        """The section (and its key) passed the structure pass."""
        return all(path[: depth + 1] not in file.broken for depth in range(len(path)))

    def _positive(self, file: ValidatedFile, path: RulePath, value: timedelta | None) -> None:
        if value is not None and value <= timedelta(0):
            self._error(file, path, "must be longer than 0s")

    # -- payments ------------------------------------------------------------------------

    def _gateways(self, file: ValidatedFile) -> None:
        if not self._sound(file, "gateways"):
            self.gateways_known = False
            return
        raw = file.document.data.get("gateways") if isinstance(file.document.data, dict) else None
        for index, item in enumerate(raw if isinstance(raw, list) else ()):
            broken = ("gateways", index) in file.broken and isinstance(item, dict)
            if broken and isinstance(item.get("name"), str):
                self.broken_gateways.add(item["name"])
        for path, gateway in file.items("gateways"):
            name, engine = gateway["name"], gateway["engine"]
            if name in self.gateways:
                self._error(
                    file,
                    (*path, "name"),
                    f"gateway {name!r} is already defined at {self.gateways[name]}",
                )
            else:
                self.gateways[name] = file.where(path)
            if engine not in self.gateway_engines:
                known = ", ".join(sorted(self.gateway_engines)) or "none"
                self._error(
                    file,
                    (*path, "engine"),
                    f"unknown gateway engine {engine!r}; registered: {known}",
                )
                continue
            found = (
                self.gateway_engines.get(engine)
                if isinstance(self.gateway_engines, Mapping)
                else None
            )
            check = getattr(found, "check_settings", None)
            if check is not None:
                for problem in check(gateway.get("settings") or {}):
                    self._error(file, (*path, "settings"), f"{engine}: {problem}")

    def _reconcile(self, file: ValidatedFile) -> None:
        reconcile = file.data.get("reconcile")
        if reconcile is None:
            return
        if self._sound(file, "reconcile", "lookups_after"):
            previous: timedelta | None = None
            for index, delay in enumerate(reconcile.get("lookups_after") or ()):
                path = ("reconcile", "lookups_after", index)
                if delay <= timedelta(0):
                    self._error(file, path, "must be longer than 0s")
                elif previous is not None and delay <= previous:
                    self._error(
                        file,
                        path,
                        f"lookups must come later each time: {duration_text(delay)} is not after"
                        f" {duration_text(previous)}",
                    )
                previous = delay
        if self._sound(file, "reconcile", "not_found_after"):
            self._positive(file, ("reconcile", "not_found_after"), reconcile.get("not_found_after"))

    def _fraud(self, file: ValidatedFile) -> None:
        fraud = file.data.get("fraud")
        if fraud is None:
            return
        if self._sound(file, "fraud", "velocity"):
            for index, limit in enumerate(fraud.get("velocity") or ()):
                self._positive(file, ("fraud", "velocity", index, "window"), limit["window"])
        new_customer = fraud.get("new_customer")
        if new_customer is not None and self._sound(file, "fraud", "new_customer"):
            path: RulePath = ("fraud", "new_customer")
            self._positive(file, (*path, "max_age"), new_customer["max_age"])
            for currency, amount in new_customer["max_amount"].items():
                self._amount(file, (*path, "max_amount", currency), currency, amount)
        if self._sound(file, "fraud", "scorers"):
            seen: set[str] = set()
            for index, scorer in enumerate(fraud.get("scorers") or ()):
                self._scorer(file, ("fraud", "scorers", index), scorer, seen)

    def _scorer(
        self, file: ValidatedFile, path: RulePath, scorer: Mapping[str, Any], seen: set[str]
    ) -> None:
        name = scorer["name"]
        if name in seen:
            self._error(file, (*path, "name"), f"scorer {name!r} is listed twice")
        seen.add(name)
        if name not in self.fraud_checks:
            known = ", ".join(sorted(self.fraud_checks)) or "none"
            self._error(
                file, (*path, "name"), f"unknown fraud scorer {name!r}; registered: {known}"
            )
            return
        found = self.fraud_checks.get(name) if isinstance(self.fraud_checks, Mapping) else None
        check = getattr(found, "check_settings", None)
        if check is not None:
            for problem in check(scorer.get("settings") or {}):
                self._error(file, (*path, "settings"), f"{name}: {problem}")

    def _amount(self, file: ValidatedFile, path: RulePath, currency: str, amount: Decimal) -> bool:
        """An amount per currency: an ISO 4217 key, above 0, payable in the minor unit."""
        problem = currency_problem(currency)
        if problem is not None:
            self._error(file, path, problem, at_key=True)
            return False
        exponent = CURRENCY_EXPONENTS[currency]
        if amount <= 0:
            self._error(file, path, f"must be above 0, got {amount}")
            return False
        if _places(amount) > exponent:
            self._error(
                file, path, f"{amount} has more decimal places than {currency} allows ({exponent})"
            )
            return False
        return True

    # -- routing -------------------------------------------------------------------------

    def _routing(self, file: ValidatedFile) -> None:
        breaker = file.data.get("circuit_breaker")
        if breaker is not None and self._sound(file, "circuit_breaker", "open_for"):
            self._positive(file, ("circuit_breaker", "open_for"), breaker.get("open_for"))
        names: dict[str, RulePath] = {}
        for path, case in file.items("cases"):
            name = case.get("name")
            if name is not None:
                if name in names:
                    self._error(
                        file,
                        (*path, "name"),
                        f"case {name!r} is already the name of {file.where(names[name])}",
                    )
                names.setdefault(name, path)
            self._case_gateways(file, path, case["gateways"])
            self._when(file, (*path, "when"), case.get("when") or {})

    def _case_gateways(self, file: ValidatedFile, path: RulePath, gateways: Sequence[str]) -> None:
        seen: set[str] = set()
        for index, name in enumerate(gateways):
            where = (*path, "gateways", index)
            if name in seen:
                self._error(file, where, f"gateway {name!r} is listed twice")
            seen.add(name)
            if name in self.gateways or name in self.broken_gateways or not self.gateways_known:
                continue
            declared = ", ".join(sorted(self.gateways)) or "none"
            source = "the payments file declares" if self.payments else "the default rules have"
            self._error(file, where, f"unknown gateway {name!r}; {source}: {declared}")

    def _when(self, file: ValidatedFile, path: RulePath, when: Mapping[str, Any]) -> None:
        currencies = when.get("currencies") or ()
        for index, currency in enumerate(currencies):
            problem = currency_problem(currency)
            if problem is not None:
                self._error(file, (*path, "currencies", index), problem)
        for index, country in enumerate(when.get("countries") or ()):
            problem = country_problem(country)
            if problem is not None:
                self._error(file, (*path, "countries", index), problem)
        for key in ("currencies", "countries", "method_types", "segments"):
            for index, value in _twice(when.get(key) or ()):
                self._error(file, (*path, key, index), f"{value!r} is listed twice")
        bounds: dict[str, dict[str, Decimal]] = {}
        for key in ("min_amount", "max_amount"):
            for currency, amount in (when.get(key) or {}).items():
                where = (*path, key, currency)
                if not self._amount(file, where, currency, amount):
                    continue
                if currencies and currency not in currencies:
                    self._error(
                        file,
                        where,
                        f"the case matches only {', '.join(currencies)}: a bound in {currency}"
                        " never applies",
                        at_key=True,
                    )
                bounds.setdefault(currency, {})[key] = amount
        for currency, pair in bounds.items():
            low, high = pair.get("min_amount"), pair.get("max_amount")
            if low is not None and high is not None and high < low:
                self._error(
                    file,
                    (*path, "max_amount", currency),
                    f"max_amount {high} {currency} is below min_amount {low} {currency}",
                )


def _twice(values: Sequence[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield index, value
        seen.add(value)
