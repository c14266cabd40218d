"""Usage on invoices: the closed period's metered lines, and adjustments for periods already
billed whose events were corrected or arrived late (within max_lateness)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from billing.app.metered import (
    MeteredPrice,
    billed_price,
    expand_groups,
    metered_prices,
    period_events,
)
from billing.app.ports import BilledUsage, Transaction
from billing.app.usage import MetricUsage, UsageUseCases
from billing.domain.metering import Event, effective
from billing.domain.money import Money
from billing.domain.subscriptions import Line, LineKind, Subscription
from billing.rules.model import RuleSet

ADJUSTED_EVENTS_NAMED_MAX = 10  # an adjustment line names at most this many events


async def usage_lines(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    rules: RuleSet,
    usage: UsageUseCases,
    period: tuple[datetime, datetime],
    invoice_id: str,
    billed_at: datetime,
) -> list[Line]:
    """Metered lines for `period` (in arrears), then adjustments of earlier billed periods."""
    if not rules.metering.metrics:
        return []  # nothing can be metered, so nothing was billed to adjust either
    start, end = period
    lines: list[Line] = []
    metered = metered_prices(rules, sub, start)
    if metered:
        events = await period_events(tx, tenant_id, sub.id, metered, start, end)
        for m in expand_groups(metered, events, start, end):
            result = usage.price_usage(rules, m, events, start, end)
            lines.append(usage_line(m, result, rules, sub.currency, period))
            await tx.usage.record_billed(
                tenant_id,
                sub.id,
                BilledUsage(
                    m.key,
                    start,
                    end,
                    str(result.quantity),
                    result.amount.amount_minor,
                    invoice_id,
                    billed_at,
                ),
            )
    lines += await _adjustments(tx, tenant_id, sub, rules, usage, start, invoice_id, billed_at)
    return lines


def usage_line(
    m: MeteredPrice,
    result: MetricUsage,
    rules: RuleSet,
    currency: str,
    period: tuple[datetime, datetime],
    suffix: str = "",
) -> Line:
    """The invoice line of one metered price (or group) for a period, with its derivation."""
    unit = m.price.unit or "units"
    label = f" ({m.group})" if m.group else ""
    return Line(
        description=f"{m.price.name or m.price.code}{label}: {result.quantity} {unit}{suffix}",
        price_code=m.price.code,
        quantity=result.quantity,
        unit_amount=m.price.unit_amount or Decimal(0),
        unrounded=result.unrounded,
        amount_minor=result.amount.amount_minor,
        period_start=period[0],
        period_end=period[1],
        kind=LineKind.USAGE,
        derivation={
            "rule_entry": f"prices/{m.price.code}",
            "metric": m.spec.code,
            "group": m.group,
            "unrounded": str(result.unrounded),
            "rounding": rules.money.rounding_for(currency),
            "steps": list(result.steps),
        },
    )


async def _adjustments(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    rules: RuleSet,
    usage: UsageUseCases,
    before: datetime,
    invoice_id: str,
    billed_at: datetime,
) -> list[Line]:
    """Re-rate earlier billed periods still open to late events; bill the difference."""
    horizon = before - rules.metering.max_lateness
    lines: list[Line] = []
    for billed in await tx.usage.billed(tenant_id, sub.id):
        if billed.period_end > before or billed.period_end < horizon:
            continue
        m = billed_price(rules, billed.price_code, billed.period_start)
        if m is None:
            continue
        events = await period_events(
            tx, tenant_id, sub.id, [m], billed.period_start, billed.period_end
        )
        now = usage.price_usage(rules, m, events, billed.period_start, billed.period_end)
        difference = now.amount.amount_minor - billed.amount_minor
        if difference == 0:
            continue
        changed = _late_or_corrected(events, billed.billed_at)
        named = ", ".join(changed[:ADJUSTED_EVENTS_NAMED_MAX])
        more = (
            f" and {len(changed) - ADJUSTED_EVENTS_NAMED_MAX} more"
            if len(changed) > ADJUSTED_EVENTS_NAMED_MAX
            else ""
        )
        lines.append(
            Line(
                description=(
                    f"Adjustment {m.price.name or m.price.code} "
                    f"{billed.period_start.date().isoformat()} to "
                    f"{billed.period_end.date().isoformat()}: {billed.quantity} -> "
                    f"{now.quantity} (events {named}{more})"
                ),
                price_code=m.price.code,
                quantity=now.quantity - Decimal(billed.quantity),
                unit_amount=m.price.unit_amount or Decimal(0),
                unrounded=Money(sub.currency, difference).to_decimal(),
                amount_minor=difference,
                period_start=billed.period_start,
                period_end=billed.period_end,
                kind=LineKind.USAGE,  # late usage re-rated: usage still
                derivation={
                    "rule_entry": f"prices/{m.price.code}",
                    "billed_quantity": billed.quantity,
                    "quantity_now": str(now.quantity),
                    "rounding": rules.money.rounding_for(sub.currency),
                },
            )
        )
        await tx.usage.record_billed(
            tenant_id,
            sub.id,
            BilledUsage(
                billed.price_code,
                billed.period_start,
                billed.period_end,
                str(now.quantity),
                now.amount.amount_minor,
                invoice_id,
                billed_at,
            ),
        )
    return lines


def _late_or_corrected(events: list[Event], billed_at: datetime) -> list[str]:
    """Ids of events received, or corrected, after the period was billed."""
    ids: list[str] = []
    live = {e.id for e in effective(events)}
    for e in sorted(events, key=lambda e: (e.timestamp, e.id)):
        if e.received_at is not None and e.received_at > billed_at:
            target = e.corrects or e.id
            if target not in ids and (e.corrects or e.id in live):
                ids.append(target)
    return ids
