"""Revenue recognition (ADR 0054): schedules made when an invoice is finalized, earned by due
work at each month's end (and each schedule's last day), posted from deferred revenue to
revenue per product line; taken back when the invoice is voided.

The finalization writes its schedules (one deferred multi-row insert), posts at once what is
already earned (point in time, usage in arrears, days a catch-up covers) and schedules one
`recognize_revenue` item for the invoice at its next boundary. The item posts everything
earned by its instant in one entry dated the last microsecond before it (so a month's
recognition lands in that month) and schedules the next boundary, until nothing is left.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from billing.app.books import post_facts, rules_of
from billing.app.ids import new_id
from billing.app.ports import DueItem, Transaction
from billing.app.rules import ActiveRules, RuleUseCases
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.postings import recognized
from billing.domain.recognition import (
    BUILT_IN_METHODS,
    Collectibility,
    LineFacts,
    RevenueSchedule,
    Schedule,
    ScheduleStatus,
    earned,
    next_boundary,
    plan_schedules,
    service_days,
    with_entries,
)
from billing.domain.subscriptions import LineKind
from billing.plugins.engines import RecognitionRequest
from billing.rules.model import RuleSet

RECOGNIZE = "recognize_revenue"  # the due-work kind; subject: the invoice
JUST_BEFORE = timedelta(microseconds=1)  # a boundary's recognition belongs to the day before
_NOT_REVENUE = frozenset({LineKind.TAX, LineKind.ROUNDING, LineKind.ACCOUNT_CREDIT})


def line_facts(invoice: Invoice, rules: RuleSet, plan_code: str | None) -> list[LineFacts]:
    """The invoice's revenue lines as recognition sees them: the plan (the line's own, else
    the subscription's) gives the product line."""
    out = []
    for number, line in enumerate(invoice.lines):
        if line.kind in _NOT_REVENUE:
            continue
        plan = str((line.derivation or {}).get("plan") or plan_code or "") or None
        found = rules.catalog.plans.get(plan) if plan else None
        out.append(
            LineFacts(
                line_no=number,
                kind=line.kind,
                amount_minor=line.amount_minor,
                price_code=line.price_code,
                plan=plan,
                product=found.product if found is not None else None,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                period_start=line.period_start,
                period_end=line.period_end,
            )
        )
    return out


def _zone(rules: ActiveRules) -> ZoneInfo:
    return ZoneInfo(rules.rules.invoicing.numbering_time_zone)


def _collectible(rules: ActiveRules, invoice: Invoice) -> bool:
    """Whether revenue may be earned now: always, unless the rules defer until paid."""
    if rules.rules.recognition.collectibility == Collectibility.RECOGNIZE:
        return True
    return invoice.status == InvoiceStatus.PAID or invoice.remaining_minor == 0


async def schedule_invoice(
    tx: Transaction,
    tenant_id: str,
    invoice: Invoice,
    rules: ActiveRules,
    at: datetime,
    plan_code: str | None,
    clock_id: str | None,
) -> None:
    """In the finalizing transaction: the invoice's schedules, what is earned already, and
    the item that earns the rest."""
    facts = line_facts(invoice, rules.rules, plan_code)
    planned = plan_schedules(facts, invoice.currency, rules.rules.recognition, at)
    if not planned:
        return
    zone = _zone(rules)
    now = _collectible(rules, invoice)
    stored = []
    for planned_schedule in planned:
        schedule = _with_plugin_entries(planned_schedule, rules, zone)
        earned_now = earned(schedule, at, zone) if now else 0
        status = (
            ScheduleStatus.DONE if earned_now == schedule.amount_minor else ScheduleStatus.ACTIVE
        )
        stored.append(
            RevenueSchedule(
                new_id("rsc"),
                invoice.id,
                invoice.customer_id,
                invoice.currency,
                schedule,
                earned_now,
                status,
                at,
            )
        )
    await tx.revenue_schedules.add(tenant_id, stored)
    await _post(tx, tenant_id, invoice.name, invoice.customer_id, invoice.currency,
                [(s, s.recognized_minor) for s in stored], at, rules)  # fmt: skip
    await _schedule_next(tx, tenant_id, invoice.id, stored, at, clock_id, zone)


def _with_plugin_entries(schedule: Schedule, rules: ActiveRules, zone: ZoneInfo) -> Schedule:
    """A plugin method's schedule with its entries asked once and written down on it, so
    earning, reports and replays never need the plugin again (and read what was decided)."""
    if schedule.method in BUILT_IN_METHODS:
        return schedule
    method = rules.recognition_methods.get(schedule.method)
    if method is None:  # the rules were checked against the plugins when pushed
        raise RuntimeError(f"recognition method {schedule.method!r} is not registered")
    first, days = service_days(schedule.start, schedule.end, zone)
    request = RecognitionRequest(schedule.amount_minor, first, first + timedelta(days=days))
    entries = [(e.on, e.amount_minor) for e in method.schedule(request)]
    return with_entries(schedule, entries, zone)


async def _post(
    tx: Transaction,
    tenant_id: str,
    invoice_name: str,
    customer_id: str,
    currency: str,
    deltas: list[tuple[RevenueSchedule, int]],
    at: datetime,
    rules: ActiveRules,
    memo: str = "",
) -> None:
    by_line: dict[str, int] = defaultdict(int)
    for stored, delta in deltas:
        by_line[stored.schedule.product_line] += delta
    postings = recognized(invoice_name, customer_id, currency, dict(by_line), memo=memo)
    await post_facts(tx, tenant_id, postings, at, rules)


async def _schedule_next(
    tx: Transaction,
    tenant_id: str,
    invoice_id: str,
    schedules: list[RevenueSchedule],
    after: datetime,
    clock_id: str | None,
    zone: ZoneInfo,
    *,
    monthly_if_none: bool = False,
) -> None:
    due = [
        b
        for s in schedules
        if s.status == ScheduleStatus.ACTIVE
        and (b := next_boundary(s.schedule.start, s.schedule.end, after, zone)) is not None
    ]
    if not due and monthly_if_none and any(s.status == ScheduleStatus.ACTIVE for s in schedules):
        # Deferred until paid past its last day: look again at each month's end.
        local = after.astimezone(zone)
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        due = [(first + timedelta(days=32)).replace(day=1).astimezone(after.tzinfo)]
    if due:
        payload = json.dumps({"invoice_id": invoice_id})
        item = DueItem(tenant_id, new_id("due"), RECOGNIZE, invoice_id, clock_id, min(due), payload)
        await tx.due_work.schedule(item)


class RecognitionWork:
    """The `recognize_revenue` due work."""

    def __init__(self, rules: RuleUseCases) -> None:
        self._rules = rules

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        schedules = await tx.revenue_schedules.of_invoice(item.tenant_id, item.subscription_id)
        active = [s for s in schedules if s.status == ScheduleStatus.ACTIVE]
        if not active:
            return f"recognize invoices/{item.subscription_id}: nothing left"
        rules = await self._rules.active_rules_in(tx, item.tenant_id)
        zone = _zone(rules)
        at = item.due_at
        invoice = await tx.invoices.get(item.tenant_id, item.subscription_id)
        if invoice is None or invoice.status == InvoiceStatus.VOID:
            return f"recognize invoices/{item.subscription_id}: void"
        if not _collectible(rules, invoice):
            await _schedule_next(tx, item.tenant_id, invoice.id, active, at, item.clock_id, zone,
                                 monthly_if_none=True)  # fmt: skip
            return f"recognize {invoice.name}: deferred until paid"
        deltas, changes, after = [], [], []
        for stored in active:
            s = stored.schedule
            earned_now = earned(s, at, zone)
            status = ScheduleStatus.DONE if earned_now == s.amount_minor else ScheduleStatus.ACTIVE
            deltas.append((stored, earned_now - stored.recognized_minor))
            changes.append((stored.id, earned_now, status))
            after.append(replace(stored, recognized_minor=earned_now, status=status))
        await _post(tx, item.tenant_id, invoice.name, invoice.customer_id, invoice.currency,
                    deltas, at - JUST_BEFORE, rules)  # fmt: skip
        await tx.revenue_schedules.set_recognized(item.tenant_id, changes)
        await _schedule_next(tx, item.tenant_id, invoice.id, after, at, item.clock_id, zone,
                             monthly_if_none=True)  # fmt: skip
        total = sum(d for _, d in deltas)
        return f"recognize {invoice.name}: {total} minor units"


async def invoice_voided(
    tx: Transaction, tenant_id: str, invoice: Invoice, at: datetime, rules: ActiveRules | None
) -> None:
    """In the voiding transaction: what was recognized goes back to deferred revenue (the
    void's own entry then takes deferred revenue back whole), and the schedules stop."""
    schedules = await tx.revenue_schedules.of_invoice(tenant_id, invoice.id)
    live = [s for s in schedules if s.status != ScheduleStatus.VOID]
    if not live:
        return
    if rules is None:
        rules = await rules_of(tx, tenant_id)
    deltas = [(s, -s.recognized_minor) for s in live]
    await _post(tx, tenant_id, invoice.name, invoice.customer_id, invoice.currency, deltas, at,
                rules, memo="taken back: invoice voided")  # fmt: skip
    changes = [(s.id, 0, ScheduleStatus.VOID) for s in live]
    await tx.revenue_schedules.set_recognized(tenant_id, changes)
