"""Which of a subscription's prices meter which metrics: the plan's metered prices in force
at an instant, grouped metrics split into one price per group, and whether a rollup can
answer a price's quantity. Shared by ingestion, current usage, invoicing and previews."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from billing.app.ports import Transaction
from billing.domain.metering import CARRIED, Event, MetricSpec, groups
from billing.domain.rollups import ROLLED_UP, Group
from billing.domain.subscriptions import MeteredSubscription, Subscription
from billing.rules.model import Metric, Price, RuleSet

# Models priced on each transaction's amount rather than on a quantity.
AMOUNT_MODELS = frozenset({"percentage", "graduated_percentage"})
# What pricing a subscription's metrics reads of it: the whole subscription, or what usage
# ingestion reads of it.
PlanTerms = Subscription | MeteredSubscription


@dataclass(frozen=True)
class MeteredPrice:
    price: Price
    spec: MetricSpec
    group: str = ""  # "region=eu" for one group of a grouped metric

    @property
    def key(self) -> str:
        """What its billed usage is recorded under: the price code, and the group if any."""
        return f"{self.price.code}#{self.group}" if self.group else self.price.code


def expand_groups(
    metered: Sequence[MeteredPrice], events: Sequence[Event], start: datetime, end: datetime
) -> list[MeteredPrice]:
    """A grouped metric becomes one metered price per group seen in the period, each a
    filter on the group's values, so each group is priced (and billed) on its own."""
    expanded: list[MeteredPrice] = []
    for m in metered:
        if not m.spec.group_by:
            expanded.append(m)
            continue
        expanded += [narrow(m, values) for values in sorted(groups(m.spec, events, start, end))]
    return expanded


def narrow(m: MeteredPrice, values: Group) -> MeteredPrice:
    """A grouped metered price narrowed to one group: a filter on the group's values."""
    chosen = dict(zip(m.spec.group_by, values, strict=True))
    spec = replace(m.spec, filters={**(m.spec.filters or {}), **chosen}, group_by=())
    label = ",".join(f"{k}={v}" for k, v in chosen.items())
    return MeteredPrice(m.price, spec, label)


def metered_for_key(metered: Sequence[MeteredPrice], key: str) -> MeteredPrice | None:
    """The metered price (narrowed to its group) that billed usage was recorded under."""
    code, _, label = key.partition("#")
    for m in metered:
        if m.price.code != code:
            continue
        if not label:
            return m
        chosen = dict(pair.split("=", 1) for pair in label.split(","))
        spec = replace(m.spec, filters={**(m.spec.filters or {}), **chosen}, group_by=())
        return MeteredPrice(m.price, spec, label)
    return None


def billed_price(rules: RuleSet, key: str, at: datetime) -> MeteredPrice | None:
    """The metered price (narrowed to its group) that usage billed under `key` for a period
    starting `at` was priced by, whatever plan the subscription is on now: re-rating a period
    billed before a plan change still finds the old plan's price."""
    price = rules.price_in_force(key.partition("#")[0], at)
    if price is None or price.metric is None or price.metric not in rules.metering.metrics:
        return None
    return metered_for_key(
        [MeteredPrice(price, metric_spec(rules.metering.metrics[price.metric]))], key
    )


async def period_events(
    tx: Transaction,
    tenant_id: str,
    subscription_id: str,
    metered: Sequence[MeteredPrice],
    start: datetime,
    end: datetime,
) -> list[Event]:
    """What `metering.aggregate` needs to price `metered` over [start, end): the period's
    events with their corrections and, for metrics whose level carries, the latest event of
    each group before the period (one more query in all, only when such a metric is priced)."""
    events = await tx.usage.in_period(
        tenant_id, subscription_id, sorted({m.spec.code for m in metered}), start, end
    )
    carrying = {m.spec.code: m.spec for m in metered if m.spec.aggregation in CARRIED}
    if carrying:
        specs = [carrying[code] for code in sorted(carrying)]
        events += await tx.usage.latest_before(tenant_id, subscription_id, specs, start)
    return events


def metric_spec(metric: Metric) -> MetricSpec:
    return MetricSpec(
        metric.code, metric.aggregation, metric.field, metric.filters, metric.group_by
    )


def answered_by_rollups(m: MeteredPrice) -> bool:
    """Whether the quantity alone prices it, and a rollup can give that quantity."""
    return m.spec.aggregation in ROLLED_UP and m.price.model not in AMOUNT_MODELS


def metered_prices(rules: RuleSet, sub: PlanTerms, at: datetime) -> list[MeteredPrice]:
    """The plan's prices that bill a metric, in force at `at`, in the subscription's currency."""
    plan = rules.catalog.plans.get(sub.plan_code)
    if plan is None:
        return []
    found: list[MeteredPrice] = []
    for entry in plan.prices:
        if entry.currency != sub.currency or entry.price_code is None:
            continue
        price = rules.price_in_force(entry.price_code, at)
        if price is None or price.metric is None:
            continue
        found.append(MeteredPrice(price, metric_spec(rules.metering.metrics[price.metric])))
    return found


def priced_metrics(rules: RuleSet, sub: PlanTerms) -> tuple[frozenset[str], frozenset[str]]:
    """The metrics the subscription's plan prices (in its currency, at its period start),
    and those of them priced by transaction amounts (percentages)."""
    prices = metered_prices(rules, sub, sub.period_start)
    return (
        frozenset(m.spec.code for m in prices),
        frozenset(m.spec.code for m in prices if m.price.model in AMOUNT_MODELS),
    )


def prices_amounts(rules: RuleSet, sub: PlanTerms, metric: str) -> bool:
    """Whether the subscription prices `metric` by transaction amounts (percentages)."""
    return metric in priced_metrics(rules, sub)[1]
