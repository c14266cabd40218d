"""The compiled rule set: immutable values, built once at load, read by the domain.

Everything here has already passed both validation passes, so lookups cannot meet a dangling
reference at request time. Versioned entries (prices, plan prices) carry `effective_from`;
an entry without one is in force from the beginning of time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar

from billing.domain.dunning import NO_DUNNING, DunningRules
from billing.domain.ledger_rules import NO_LEDGER_RULES, LedgerRules
from billing.domain.money import DEFAULT_ROUNDING
from billing.domain.payment_rules import DEFAULT_PAYMENT_RULES, PaymentRules
from billing.domain.plan_changes import Direction
from billing.domain.recognition import NO_RECOGNITION_RULES, RecognitionRules
from billing.domain.tax import NO_TAX_RULES, TaxRules
from billing.rules.errors import RuleWarning

Interval = Literal["day", "week", "month", "year"]
PlanChangeTiming = Literal["immediate", "end_of_period", "refused"]
ProrationGranularity = Literal["second", "day"]
ProrationBehavior = Literal["create_prorations", "always_invoice", "none"]
CreditBasis = Literal["billed", "current_price"]
DiscountCredit = Literal["spread", "keep_on_remaining"]

T = TypeVar("T")
R = TypeVar("R")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_EMPTY_PARAMS: Mapping[str, Any] = MappingProxyType({})
_BEGINNING = datetime.min.replace(tzinfo=UTC)  # where an undated version sorts


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("lookups take a timezone-aware instant")


def latest_in_force(
    versions: Iterable[T], at: datetime, effective_from: Callable[[T], datetime | None]
) -> T | None:
    """The version with the latest effective_from <= at; undated versions are always in force
    but lose to any dated one that has started."""
    _require_aware(at)
    best: T | None = None
    best_from: datetime | None = None
    for version in versions:
        start = effective_from(version)
        if start is not None and start > at:
            continue
        if best is None or (start is not None and (best_from is None or start > best_from)):
            best, best_from = version, start
    return best


@dataclass(frozen=True, slots=True)
class MoneyRules:
    """How amounts are rounded: one mode, with optional per-currency overrides."""

    rounding: str = DEFAULT_ROUNDING
    currency_rounding: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    # Cash rounding of invoice totals, by currency (CHF: 0.05); absent: none.
    cash_increments: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def rounding_for(self, currency_code: str) -> str:
        return self.currency_rounding.get(currency_code, self.rounding)

    def cash_increment_for(self, currency_code: str) -> Decimal | None:
        return self.cash_increments.get(currency_code)


BillingTimeZone = Literal["utc", "customer"]


@dataclass(frozen=True, slots=True)
class Metric:
    """How a period's events of one code become a quantity."""

    code: str
    aggregation: str
    field: str | None = None
    filters: Mapping[str, str] | None = None
    name: str | None = None
    group_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MeteringRules:
    metrics: Mapping[str, Metric] = field(default_factory=lambda: MappingProxyType({}))
    max_lateness: timedelta = timedelta(hours=168)
    draft_grace: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class InvoicingRules:
    time_zone: BillingTimeZone = "utc"
    number_format: str = "INV-{year}-{seq:06d}"
    credit_note_number_format: str = "CN-{year}-{seq:06d}"
    numbering_time_zone: str = "UTC"
    collection_method: str = "charge_automatically"  # or send_invoice
    net_terms_days: int = 30  # send_invoice: days from finalization to the due date
    trial_end_without_payment_method: str = "activate"  # or cancel, pause
    consolidate_same_day: bool = False  # a customer's renewals of one day share an invoice
    email_invoices: bool = True  # finalized invoices are emailed (when a mailer is configured)
    seller_name: str = ""  # printed on invoice documents
    seller_address: tuple[str, ...] = ()
    seller_legal_text: str = ""
    show_explanations: bool = False  # documents add "How each line was calculated"


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    name: str
    features: tuple[str, ...] = ()
    tax_code: str | None = None  # what tax rules call it (saas, physical_good...); ADR 0026


@dataclass(frozen=True, slots=True)
class Entitlement:
    """A feature of the plan's product that the plan grants; limit None means unlimited."""

    feature: str
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class PlanPrice:
    """One charge of a plan: a named price (`price_code`) or a flat amount per period."""

    currency: str
    price_code: str | None = None
    amount: Decimal | None = None
    effective_from: datetime | None = None
    tax_behavior: str | None = None  # inclusive or exclusive; None: the tax policy's default


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    product: str
    interval: Interval
    interval_count: int = 1
    trial_days: int = 0
    name: str | None = None
    entitlements: tuple[Entitlement, ...] = ()
    prices: tuple[PlanPrice, ...] = ()

    def prices_in_force(self, at: datetime) -> tuple[PlanPrice, ...]:
        """Per (currency, named price or flat amount), the entry in force at `at`."""
        groups: dict[tuple[str, str | None], list[PlanPrice]] = {}
        for entry in self.prices:
            groups.setdefault((entry.currency, entry.price_code), []).append(entry)
        chosen = (latest_in_force(group, at, _effective_from) for group in groups.values())
        return tuple(entry for entry in chosen if entry is not None)


@dataclass(frozen=True, slots=True)
class Tier:
    """Units up to `up_to` (inclusive; None = no upper bound) at `unit_amount` each, or, with
    a `block_size`, at `unit_amount` per started block of that many units."""

    up_to: int | None
    unit_amount: Decimal
    flat_amount: Decimal | None = None
    block_size: int | None = None


@dataclass(frozen=True, slots=True)
class PercentageTier:
    """Transaction volume up to `up_to` (inclusive, major units; None = no upper bound) at
    `rate` percent (1.2 means 1.2%), plus `flat_amount` once any volume falls in it."""

    up_to: Decimal | None
    rate: Decimal
    flat_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Price:
    """One version of a named price. `model` names the pricing engine that reads it; each
    built-in model reads only its own fields (the meaning pass refuses the others):
    per_unit: unit_amount, prorated; graduated, volume: tiers, flat_fee_at_zero, prorated;
    package: package_size, package_amount, free_units; percentage: rate, fixed_fee,
    min_per_transaction, max_per_transaction, free_units_per_events,
    free_units_per_total_aggregation; graduated_percentage: percentage_tiers."""

    code: str
    model: str
    currency: str
    effective_from: datetime | None = None
    name: str | None = None
    unit: str | None = None
    unit_amount: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY_PARAMS)  # plugin models
    tax_behavior: str | None = None  # inclusive or exclusive; None: the tax policy's default
    # graduated, volume: charge the first tier's flat amount at zero usage (Stripe does,
    # Lago does not).
    flat_fee_at_zero: bool = False
    package_size: int | None = None  # package: units per package
    package_amount: Decimal | None = None  # package: price of one package
    free_units: int = 0  # package: units given before the first package
    rate: Decimal | None = None  # percentage: percent of each transaction (1.2 = 1.2%)
    fixed_fee: Decimal | None = None  # percentage: added to each transaction's fee
    min_per_transaction: Decimal | None = None  # percentage: bounds of each whole fee
    max_per_transaction: Decimal | None = None
    metric: str | None = None  # billed in arrears from this metric's usage
    percentage_tiers: tuple[PercentageTier, ...] = ()  # graduated_percentage
    # percentage: the first transactions free (Lago's free units), whichever limit runs out
    # first; None: no such limit.
    free_units_per_events: int | None = None
    free_units_per_total_aggregation: Decimal | None = None  # free volume, major units
    # per_unit, graduated, volume on a metric whose level persists (seats): the tier chosen
    # from the peak, the price applied to units weighed by the time they existed.
    prorated: bool = False


@dataclass(frozen=True, slots=True)
class PlanChangeFacts:
    """What a policy case is matched against. `direction` compares the recurring price per
    unit of time (`domain.plan_changes`); it is None outside a change of plan or quantities
    (a first stub, a cancellation), where only cases without a direction match."""

    from_product: str
    to_product: str
    from_interval: Interval
    to_interval: Interval
    from_plan: str | None = None
    to_plan: str | None = None
    direction: Direction | None = None


@dataclass(frozen=True, slots=True)
class CaseMatch:
    """Optional match fields; an absent (None) field matches anything."""

    from_product: str | None = None
    to_product: str | None = None
    from_interval: Interval | None = None
    to_interval: Interval | None = None
    from_plan: str | None = None
    to_plan: str | None = None
    direction: Direction | None = None

    def _pairs(self, facts: CaseMatch | PlanChangeFacts) -> Iterable[tuple[str | None, str | None]]:
        yield self.from_product, facts.from_product
        yield self.to_product, facts.to_product
        yield self.from_interval, facts.from_interval
        yield self.to_interval, facts.to_interval
        yield self.from_plan, facts.from_plan
        yield self.to_plan, facts.to_plan
        yield self.direction, facts.direction

    def matches(self, facts: PlanChangeFacts) -> bool:
        return all(mine is None or mine == theirs for mine, theirs in self._pairs(facts))

    def covers(self, other: CaseMatch) -> bool:
        """True when every change `other` matches, this matches too."""
        return all(mine is None or mine == theirs for mine, theirs in self._pairs(other))

    @property
    def is_catch_all(self) -> bool:
        return all(mine is None for mine, _ in self._pairs(self))


@dataclass(frozen=True, slots=True)
class PlanChangeRule:
    """When a change takes effect, or `refused` (Kill Bill's ILLEGAL) with the case's
    `message`; `source` names the case (`catalog.yaml:63 plan_changes[1]`) for the refusal."""

    timing: PlanChangeTiming
    message: str = ""
    source: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class ProrationRule:
    granularity: ProrationGranularity
    behavior: ProrationBehavior
    credit_unused: bool
    credit_basis: CreditBasis
    # A coupon's share of what a credited item paid: spread over all items pro rata, or kept
    # whole on the items that remain (the credited ones keep only what the rest cannot hold).
    discount_credit: DiscountCredit = "spread"


# No slots on the generic classes: `ProrationPolicy(...)` sets `__orig_class__`, which a
# slotted frozen dataclass refuses.
@dataclass(frozen=True)
class PolicyCase(Generic[R]):
    when: CaseMatch
    result: R


@dataclass(frozen=True)
class Policy(Generic[R]):
    """Ordered cases; the first whose match fields all fit decides."""

    cases: tuple[PolicyCase[R], ...]

    def decide(self, facts: PlanChangeFacts) -> R | None:
        """The result of the first matching case; None when no case matches."""
        for case in self.cases:
            if case.when.matches(facts):
                return case.result
        return None


PlanChangePolicy = Policy[PlanChangeRule]
ProrationPolicy = Policy[ProrationRule]


@dataclass(frozen=True, slots=True)
class Catalog:
    products: Mapping[str, Product]
    plans: Mapping[str, Plan]
    plan_changes: PlanChangePolicy

    def as_of(self, at: datetime) -> Catalog:
        """The catalog at `at`: each plan with only the prices then in force; a plan with no
        price in force yet is left out, since it could not be sold then."""
        plans: dict[str, Plan] = {}
        for code, plan in self.plans.items():
            in_force = plan.prices_in_force(at)
            if in_force:
                plans[code] = Plan(
                    code=plan.code,
                    product=plan.product,
                    interval=plan.interval,
                    interval_count=plan.interval_count,
                    trial_days=plan.trial_days,
                    name=plan.name,
                    entitlements=plan.entitlements,
                    prices=in_force,
                )
        return Catalog(self.products, MappingProxyType(plans), self.plan_changes)


@dataclass(frozen=True, eq=False)
class RuleSet:
    """A validated rule set. Two rule sets are equal when their content hashes are."""

    content_hash: str
    files: Mapping[str, bytes]
    money: MoneyRules
    catalog: Catalog
    prices: Mapping[str, tuple[Price, ...]]  # versions, undated first, then by effective_from
    proration: ProrationPolicy
    warnings: tuple[RuleWarning, ...] = ()
    invoicing: InvoicingRules = InvoicingRules()
    metering: MeteringRules = MeteringRules()
    tax: TaxRules = NO_TAX_RULES
    payments: PaymentRules = DEFAULT_PAYMENT_RULES
    dunning: DunningRules = NO_DUNNING
    ledger: LedgerRules = NO_LEDGER_RULES  # ADR 0051
    recognition: RecognitionRules = NO_RECOGNITION_RULES  # ADR 0054

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleSet) and other.content_hash == self.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def price_in_force(self, price_code: str, at: datetime) -> Price | None:
        """The version of the price in force at `at` (None if every version starts later);
        KeyError for a code the rule set does not define."""
        return latest_in_force(self.prices[price_code], at, _effective_from)

    def catalog_as_of(self, at: datetime) -> Catalog:
        return self.catalog.as_of(at)


def _effective_from(entry: PlanPrice | Price) -> datetime | None:
    return entry.effective_from


def sort_versions(versions: Sequence[Price]) -> tuple[Price, ...]:
    """Undated first, then by effective_from: the order `RuleSet.prices` keeps."""
    return tuple(sorted(versions, key=lambda p: p.effective_from or _BEGINNING))
