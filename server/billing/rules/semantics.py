"""The meaning pass: what the schemas cannot say, checked across every file at once.

References resolve, codes are unique, tiers ascend and end unbounded, currencies are ISO 4217,
every engine a rule names is registered, a built-in pricing model gets the fields it needs and
no other model's (a percentage's fee bounds in order), a prorated price meters a level that
persists, versions of one price start at distinct instants. Tax files: `tax_semantics`;
payments and routing files: `payment_semantics`; the dunning file: `dunning_semantics`.
Every problem is collected (never the first only), each at its file, line and path; cases that
can never match are warnings, since the rule set still means something.

Items that failed the structure pass are skipped, and references to their codes are not
reported again: one typo gives one error, not one per plan that uses it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.domain.customers import is_time_zone
from billing.domain.errors import InvariantBroken
from billing.domain.metering import CARRIED
from billing.domain.money import CURRENCY_EXPONENTS, currency_problem, is_currency
from billing.rules.dunning_semantics import check_dunning
from billing.rules.errors import RuleError, RulePath, RuleWarning, format_path
from billing.rules.ledger_rules_file import check_ledger
from billing.rules.model import CaseMatch
from billing.rules.payment_semantics import check_payments
from billing.rules.recognition_rules_file import check_recognition
from billing.rules.structure import ValidatedFile
from billing.rules.tax_semantics import check_tax

ENGINE_PRICING_MODEL = "pricing_model"


# Unit prices may be finer than a cent (0.0004 per API call), but not without end.
UNIT_AMOUNT_PLACES_MAX = 12

# Kinds that hold one policy for the whole rule set: two files would make the order of their
# cases, or which rounding wins, depend on file names.
SINGLE_FILE_KINDS = (
    "money",
    "proration",
    "invoicing",
    "metering",
    "payments",
    "routing",
    "dunning",
)


@dataclass(frozen=True, slots=True)
class ModelFields:
    """The price fields a built-in pricing model reads: those it needs, those it may take."""

    needs: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def reads(self) -> tuple[str, ...]:
        return (*self.needs, *self.optional)


# What each built-in pricing model reads; any other model field on its price is an error. A
# model a plugin registers checks its own `params` through its hook.
BUILTIN_MODEL_PARAMS: Mapping[str, ModelFields] = {
    "per_unit": ModelFields(("unit_amount",), ("prorated",)),
    "graduated": ModelFields(("tiers",), ("flat_fee_at_zero", "prorated")),
    "volume": ModelFields(("tiers",), ("flat_fee_at_zero", "prorated")),
    "package": ModelFields(("package_size", "package_amount"), ("free_units",)),
    "percentage": ModelFields(
        ("rate",),
        (
            "fixed_fee",
            "min_per_transaction",
            "max_per_transaction",
            "free_units_per_events",
            "free_units_per_total_aggregation",
        ),
    ),
    "graduated_percentage": ModelFields(("percentage_tiers",)),
}
# Every field some built-in model reads, in a stable order for the messages.
_MODEL_PARAMS = tuple(
    dict.fromkeys(name for fields in BUILTIN_MODEL_PARAMS.values() for name in fields.reads)
)
# Amounts that are multiplied or compared, never charged as is: finer than a cent is allowed,
# within UNIT_AMOUNT_PLACES_MAX.
_FINE_AMOUNTS = (
    "unit_amount",
    "package_amount",
    "rate",
    "fixed_fee",
    "min_per_transaction",
    "max_per_transaction",
)


@dataclass
class Findings:
    errors: list[RuleError] = field(default_factory=list)
    warnings: list[RuleWarning] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Defined:
    file: ValidatedFile
    path: RulePath
    item: Mapping[str, Any]

    @property
    def where(self) -> str:
        return self.file.where(self.path)


def check_meaning(
    files: Sequence[ValidatedFile],
    engines: Mapping[str, Collection[str]],
    unreadable: Mapping[str, str | None] | None = None,
) -> Findings:
    """Check the files together. `unreadable` maps each file that could not be read to its
    kind as far as it can be guessed (None: no idea); an unknown reference that such a file
    may define says so, instead of only calling it unknown."""
    checker = _Checker(files, engines, unreadable)
    checker.run()
    return checker.findings


def decimal_places(value: Decimal) -> int:
    """Places that carry value: 30.00 has 0, 0.0004 has 4."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # the loader reads finite decimals only
        raise InvariantBroken(f"{value} is not a finite decimal")
    places, index = -exponent, len(digits) - 1
    while places > 0 and index >= 0 and digits[index] == 0:
        places, index = places - 1, index - 1
    return max(0, places) if index >= 0 else 0


def _instant_text(value: datetime | None) -> str:
    if value is None:
        return "without effective_from"
    return "effective from " + value.isoformat().replace("+00:00", "Z")


class _Checker:
    def __init__(
        self,
        files: Sequence[ValidatedFile],
        engines: Mapping[str, Collection[str]],
        unreadable: Mapping[str, str | None] | None,
    ) -> None:
        self.files = files
        self.engines = engines
        self.unreadable = unreadable or {}
        self.findings = Findings()
        self.products: dict[str, _Defined] = {}
        self.plans: dict[str, _Defined] = {}
        self.prices: dict[str, list[_Defined]] = {}
        self.broken_products: set[str] = set()
        self.broken_prices: set[str] = set()
        self.metrics: dict[str, _Defined] = {}
        self.broken_metrics: set[str] = set()

    def run(self) -> None:
        self._single_files()
        self._products()
        self._metrics()
        self._prices()
        self._plans()
        self._plan_changes()
        for file in self._of_kind("proration"):
            self._cases(file, "cases")
        for file in self._of_kind("money"):
            self._money(file)
        for file in self._of_kind("invoicing"):
            zone = file.data.get("numbering_time_zone")
            if zone is not None and not is_time_zone(zone):
                self._error(file, ("numbering_time_zone",), f"{zone!r} is not an IANA time zone")
        self.findings.errors.extend(check_tax(self.files, self.engines))
        self.findings.errors.extend(check_ledger(self.files))
        self.findings.errors.extend(check_recognition(self.files, self.engines))
        self.findings.errors.extend(check_payments(self.files, self.engines, self.unreadable))
        errors, warnings = check_dunning(self.files, self.engines, self.unreadable)
        self.findings.errors.extend(errors)
        self.findings.warnings.extend(warnings)

    # -- helpers -------------------------------------------------------------------------

    def _of_kind(self, kind: str) -> list[ValidatedFile]:
        return [file for file in self.files if file.kind == kind]

    def _error(
        self, file: ValidatedFile, path: RulePath, message: str, *, at_key: bool = False
    ) -> None:
        self.findings.errors.append(file.error(path, message, at_key=at_key))

    def _warn(self, file: ValidatedFile, path: RulePath, message: str) -> None:
        self.findings.warnings.append(file.warning(path, message))

    def _unknown(self, what: str, code: str, defining_kind: str) -> str:
        message = f"unknown {what} {code!r}"
        suspects = [name for name, kind in self.unreadable.items() if kind in (None, defining_kind)]
        if suspects:
            verb = "is" if len(suspects) == 1 else "are"
            message += f" ({', '.join(suspects)} {verb} unreadable and may define it)"
        return message

    def _currency(self, file: ValidatedFile, path: RulePath, currency: str) -> int | None:
        """The currency's minor-unit exponent, or None after reporting an unknown code."""
        problem = currency_problem(currency)  # unknown, or withdrawn (with the date it left)
        if problem is None:
            return CURRENCY_EXPONENTS[currency]
        self._error(file, path, problem)
        return None

    def _fits_currency(
        self, file: ValidatedFile, path: RulePath, amount: Decimal, currency: str, exponent: int
    ) -> None:
        # A flat amount is charged as is, so it must be payable in the currency's minor unit.
        if decimal_places(amount) > exponent:
            self._error(
                file, path, f"{amount} has more decimal places than {currency} allows ({exponent})"
            )

    # -- checks --------------------------------------------------------------------------

    def _single_files(self) -> None:
        for kind in SINGLE_FILE_KINDS:
            files = self._of_kind(kind)
            for extra in files[1:]:
                self._error(
                    extra,
                    ("kind",),
                    f"only one {kind} file is allowed; {files[0].name} already holds "
                    f"the {kind} rules",
                )

    def _products(self) -> None:
        for file in self._of_kind("catalog"):
            self.broken_products |= file.broken_codes("products")
            for path, product in file.items("products"):
                code = product["code"]
                if code in self.products:
                    earlier = self.products[code].where
                    self._error(
                        file, (*path, "code"), f"product {code!r} is already defined at {earlier}"
                    )
                else:
                    self.products[code] = _Defined(file, path, product)
                self._unique(file, path, "features", product["features"], "feature")

    def _unique(
        self, file: ValidatedFile, path: RulePath, key: str, values: Iterable[Any], noun: str
    ) -> None:
        seen: set[Any] = set()
        for index, value in enumerate(values):
            if value in seen:
                self._error(file, (*path, key, index), f"{noun} {value!r} is listed twice")
            seen.add(value)

    def _metrics(self) -> None:
        for file in self._of_kind("metering"):
            self.broken_metrics |= file.broken_codes("metrics")
            for path, metric in file.items("metrics"):
                code = metric["code"]
                if code in self.metrics:
                    self._error(file, (*path, "code"), f"metric {code!r} is defined twice")
                self.metrics[code] = _Defined(file, path, metric)
                needs_field = metric["aggregation"] != "count"
                if needs_field and not metric.get("field"):
                    self._error(file, path, f"aggregation {metric['aggregation']} needs a field")
                if not needs_field and metric.get("field"):
                    self._error(file, (*path, "field"), "count reads no field", at_key=True)

    def _prices(self) -> None:
        registered = self.engines.get(ENGINE_PRICING_MODEL, frozenset())
        for file in self._of_kind("pricing"):
            self.broken_prices |= file.broken_codes("prices")
            for path, price in file.items("prices"):
                self.prices.setdefault(price["code"], []).append(_Defined(file, path, price))
                metric = price.get("metric")
                known = metric in self.metrics or metric in self.broken_metrics
                if metric is not None and not known:
                    self._error(
                        file, (*path, "metric"), self._unknown("metric", metric, "metering")
                    )
                exponent = self._currency(file, (*path, "currency"), price["currency"])
                self._model(file, path, price, registered)
                for name in _FINE_AMOUNTS:
                    value = price.get(name)
                    if value is not None and decimal_places(value) > UNIT_AMOUNT_PLACES_MAX:
                        self._error(
                            file,
                            (*path, name),
                            f"more than {UNIT_AMOUNT_PLACES_MAX} decimal places",
                        )
                self._fee_bounds(file, path, price)
                free_volume = price.get("free_units_per_total_aggregation")
                if free_volume is not None and exponent is not None:
                    where = (*path, "free_units_per_total_aggregation")
                    self._fits_currency(file, where, free_volume, price["currency"], exponent)
                fields = BUILTIN_MODEL_PARAMS.get(price["model"])
                reads = fields is None or "prorated" in fields.reads  # else _model reports it
                if price.get("prorated") and reads and price["model"] in registered:
                    self._prorated(file, path, price)
                if price.get("tiers"):
                    self._tiers(file, path, price["tiers"], price["currency"], exponent)
                if price.get("percentage_tiers"):
                    self._tiers(
                        file,
                        path,
                        price["percentage_tiers"],
                        price["currency"],
                        exponent,
                        section="percentage_tiers",
                    )
        for code, versions in self.prices.items():
            self._versions(code, versions)

    def _model(
        self,
        file: ValidatedFile,
        path: RulePath,
        price: Mapping[str, Any],
        registered: Collection[str],
    ) -> None:
        model = price["model"]
        if model not in registered:
            known = ", ".join(sorted(registered)) or "none"
            self._error(
                file, (*path, "model"), f"unknown pricing model {model!r}; registered: {known}"
            )
            return
        needed = BUILTIN_MODEL_PARAMS.get(model)
        if needed is None:
            # A plugin's model: its engine checks its own `params`, here, at load.
            engine = registered.get(model) if isinstance(registered, Mapping) else None
            check = getattr(engine, "check_params", None)
            if check is not None:
                for problem in check(price.get("params") or {}):
                    self._error(file, (*path, "params"), problem)
            return
        if price.get("params"):
            self._error(file, (*path, "params"), f"model {model} takes no params", at_key=True)
        for name in needed.needs:
            if price.get(name) is None:
                self._error(file, path, f"model {model} needs {name}")
        for other in _MODEL_PARAMS:
            if other not in needed.reads and other in price:
                self._error(
                    file, (*path, other), f"model {model} does not read {other}", at_key=True
                )

    def _prorated(self, file: ValidatedFile, path: RulePath, price: Mapping[str, Any]) -> None:
        """A prorated price weighs units by the time they existed: it needs a metric whose
        level persists (seats), a model that reads it, and single units (no blocks)."""
        where = (*path, "prorated")
        if price["model"] not in BUILTIN_MODEL_PARAMS:
            self._error(file, where, f"model {price['model']} cannot be prorated", at_key=True)
        code = price.get("metric")
        metric = self.metrics.get(code) if code is not None else None
        if code is None:
            self._error(file, where, "prorated needs a metric (a price billed from usage)")
        elif metric is not None and metric.item["aggregation"] not in CARRIED:
            persistent = ", ".join(sorted(CARRIED))
            self._error(
                file,
                where,
                f"metric {code!r} aggregates with {metric.item['aggregation']}, whose units do"
                f" not persist from one period to the next; prorated needs one of: {persistent}",
            )
        for index, tier in enumerate(price.get("tiers") or ()):
            if tier.get("block_size") is not None:
                self._error(
                    file,
                    (*path, "tiers", index, "block_size"),
                    "a prorated price prices single units, not blocks",
                    at_key=True,
                )

    def _fee_bounds(self, file: ValidatedFile, path: RulePath, price: Mapping[str, Any]) -> None:
        low, high = price.get("min_per_transaction"), price.get("max_per_transaction")
        if low is not None and high is not None and high < low:
            self._error(
                file,
                (*path, "max_per_transaction"),
                f"max_per_transaction {high} is below min_per_transaction {low}",
            )

    def _tiers(
        self,
        file: ValidatedFile,
        path: RulePath,
        tiers: Sequence[Mapping[str, Any]],
        currency: str,
        exponent: int | None,
        *,
        section: str = "tiers",
    ) -> None:
        """Tiers ascend and end unbounded; `percentage_tiers` bound transaction volume (a
        decimal amount, payable in the currency) and charge a `rate` instead of a unit amount."""
        on_volume = section == "percentage_tiers"
        measured, price_key = ("volumes", "rate") if on_volume else ("quantities", "unit_amount")
        last = len(tiers) - 1
        highest: Decimal | None = None
        for index, tier in enumerate(tiers):
            tier_path = (*path, section, index)
            up_to = tier["up_to"]
            if up_to is None and index != last:
                self._error(
                    file, (*tier_path, "up_to"), "only the last tier may be unbounded (up_to: null)"
                )
            elif up_to is not None:
                if up_to <= 0:
                    self._error(file, (*tier_path, "up_to"), "up_to must be above 0")
                elif highest is not None and up_to <= highest:
                    self._error(
                        file,
                        (*tier_path, "up_to"),
                        f"tiers must ascend: up_to {up_to} is not above {highest}",
                    )
                if on_volume and exponent is not None:
                    self._fits_currency(file, (*tier_path, "up_to"), up_to, currency, exponent)
                if index == last:
                    self._error(
                        file,
                        (*tier_path, "up_to"),
                        f"the last tier must have up_to: null, so {measured} above {up_to} "
                        "have a price",
                    )
                highest = up_to if highest is None else max(highest, up_to)
            if decimal_places(tier[price_key]) > UNIT_AMOUNT_PLACES_MAX:
                self._error(
                    file,
                    (*tier_path, price_key),
                    f"more than {UNIT_AMOUNT_PLACES_MAX} decimal places",
                )
            flat = tier.get("flat_amount")
            if flat is not None and exponent is not None:
                self._fits_currency(file, (*tier_path, "flat_amount"), flat, currency, exponent)

    def _versions(self, code: str, versions: Sequence[_Defined]) -> None:
        starts: dict[datetime | None, _Defined] = {}
        first = versions[0]
        for version in versions:
            start = version.item.get("effective_from")
            start_path = (*version.path, "effective_from") if start is not None else version.path
            if start in starts:
                self._error(
                    version.file,
                    start_path,
                    f"price {code!r} already has a version {_instant_text(start)} "
                    f"at {starts[start].where}",
                )
            else:
                starts[start] = version
            if version is not first and version.item["currency"] != first.item["currency"]:
                self._error(
                    version.file,
                    (*version.path, "currency"),
                    f"price {code!r} is in {first.item['currency']} at {first.where}; "
                    "all versions of a price share one currency",
                )

    def _plans(self) -> None:
        for file in self._of_kind("catalog"):
            for path, plan in file.items("plans"):
                code = plan["code"]
                if code in self.plans:
                    earlier = self.plans[code].where
                    self._error(
                        file, (*path, "code"), f"plan {code!r} is already defined at {earlier}"
                    )
                else:
                    self.plans[code] = _Defined(file, path, plan)
                product = self._product_ref(file, (*path, "product"), plan["product"])
                self._entitlements(file, path, plan["entitlements"], product)
                self._plan_prices(file, path, plan["prices"])

    def _product_ref(self, file: ValidatedFile, path: RulePath, code: str) -> _Defined | None:
        found = self.products.get(code)
        if found is None and code not in self.broken_products:
            self._error(file, path, self._unknown("product", code, "catalog"))
        return found

    def _entitlements(
        self,
        file: ValidatedFile,
        path: RulePath,
        entitlements: Sequence[Mapping[str, Any]],
        product: _Defined | None,
    ) -> None:
        self._unique(file, path, "entitlements", (e["feature"] for e in entitlements), "feature")
        if product is None:
            return
        features = set(product.item["features"])
        for index, entitlement in enumerate(entitlements):
            feature = entitlement["feature"]
            if feature not in features:
                self._error(
                    file,
                    (*path, "entitlements", index, "feature"),
                    f"product {product.item['code']!r} has no feature {feature!r} "
                    f"(its features are listed at {product.where})",
                )

    def _plan_prices(
        self, file: ValidatedFile, path: RulePath, entries: Sequence[Mapping[str, Any]]
    ) -> None:
        seen: dict[tuple[str, str | None, datetime | None], RulePath] = {}
        for index, entry in enumerate(entries):
            entry_path = (*path, "prices", index)
            currency = entry["currency"]
            exponent = self._currency(file, (*entry_path, "currency"), currency)
            code, amount = entry.get("price"), entry.get("amount")
            if code is None and amount is None:
                self._error(
                    file, entry_path, "give a price (a code from a pricing file) or an amount"
                )
            if amount is not None and exponent is not None:
                self._fits_currency(file, (*entry_path, "amount"), amount, currency, exponent)
            if code is not None:
                self._price_ref(file, (*entry_path, "price"), code, currency)
            key = (currency, code, entry.get("effective_from"))
            if key in seen:
                self._error(
                    file,
                    entry_path,
                    f"same currency, price and effective_from as {format_path(seen[key])}",
                )
            else:
                seen[key] = entry_path

    def _price_ref(self, file: ValidatedFile, path: RulePath, code: str, currency: str) -> None:
        versions = self.prices.get(code)
        if versions is None:
            if code not in self.broken_prices:
                self._error(file, path, self._unknown("price", code, "pricing"))
            return
        theirs = versions[0].item["currency"]
        if theirs != currency:
            self._error(
                file, path, f"price {code!r} is in {theirs} ({versions[0].where}), not {currency}"
            )

    def _plan_changes(self) -> None:
        defining = [
            file
            for file in self._of_kind("catalog")
            if "plan_changes" in file.data and ("plan_changes",) not in file.broken
        ]
        for extra in defining[1:]:
            self._error(
                extra,
                ("plan_changes",),
                f"plan_changes is already defined in {defining[0].name}; keep the cases in one "
                "file so their order is clear",
                at_key=True,
            )
        for file in defining:
            self._cases(file, "plan_changes")
            for path, case in file.items("plan_changes"):
                if "message" in case and case["timing"] != "refused":
                    self._error(
                        file,
                        (*path, "message"),
                        "a message is shown only for a change the rules refuse (timing: refused)",
                        at_key=True,
                    )

    def _cases(self, file: ValidatedFile, section: str) -> None:
        """Match fields refer to real products and plans; a case hidden by an earlier one is a
        warning."""
        earlier: list[tuple[RulePath, CaseMatch]] = []
        for path, case in file.items(section):
            when = case.get("when") or {}
            for key in ("from_product", "to_product"):
                if when.get(key) is not None:
                    self._product_ref(file, (*path, "when", key), when[key])
            for key in ("from_plan", "to_plan"):
                code = when.get(key)
                if code is not None and code not in self.plans and not self._broken_plan(code):
                    self._error(file, (*path, "when", key), self._unknown("plan", code, "catalog"))
            match = CaseMatch(**when)
            for earlier_path, earlier_match in earlier:
                if earlier_match.covers(match):
                    line = file.document.position(earlier_path).line
                    self._warn(
                        file,
                        path,
                        f"this case can never match: {format_path(earlier_path)} (line {line}) "
                        "comes first and matches every change this one matches",
                    )
                    break
            earlier.append((path, match))
        if earlier and not any(match.is_catch_all for _, match in earlier):
            self._warn(
                file,
                (section,),
                "no case matches every change (a case without when); a change that no case "
                "matches has no policy",
            )

    def _broken_plan(self, code: str) -> bool:
        return any(code in file.broken_codes("plans") for file in self._of_kind("catalog"))

    def _money(self, file: ValidatedFile) -> None:
        if ("currencies",) in file.broken:
            return
        for currency, entry in file.data["currencies"].items():
            path = ("currencies", currency)
            if path in file.broken:
                continue
            if not is_currency(currency):
                problem = currency_problem(currency) or ""
                self._error(file, path, problem, at_key=True)
                continue
            increment = entry.get("cash_increment")
            if increment is not None and (*path, "cash_increment") not in file.broken:
                where = (*path, "cash_increment")
                if increment <= 0:
                    self._error(file, where, "must be above 0 (leave it out for no cash rounding)")
                else:
                    exponent = CURRENCY_EXPONENTS[currency]
                    self._fits_currency(file, where, increment, currency, exponent)
