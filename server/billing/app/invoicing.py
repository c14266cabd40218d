"""Issuing invoices: settle against the customer's credit, store, announce. One place, so
every invoice (creation, renewal, change, cancellation, finalized draft) follows the same
rules: the total is the sum of the lines; credit reduces what is due, never the total; a
negative total becomes customer credit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from billing.app.books import post_facts
from billing.app.ids import new_id
from billing.app.invoice_tax import tax_enabled, with_tax
from billing.app.payment_kinds import COLLECT_INVOICE
from billing.app.ports import DueItem, LastNumber, NumberStamps, RetryableConflict, Transaction
from billing.app.recognition import schedule_invoice
from billing.app.records import OutboxEvent
from billing.app.rules import ActiveRules
from billing.app.tax_ledger import record_invoice_tax
from billing.domain.cash_rounding import cash_rounding_line
from billing.domain.coupons import discount_line
from billing.domain.credits import account_credit_line, record_paid
from billing.domain.customers import Customer
from billing.domain.invoices import Invoice, InvoiceStatus, format_number
from billing.domain.postings import invoice_finalized
from billing.domain.subscriptions import Line, LineKind, Subscription, settle
from billing.domain.tax_lines import as_priced
from billing.rules.model import InvoicingRules


async def issue_invoice(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    *,
    reason: str,
    period: tuple[datetime, datetime],
    lines: Sequence[Line],
    rules: ActiveRules,
    at: datetime,
    invoice_id: str | None = None,
    number_later: bool = False,
    customer: Customer | None = None,
) -> Invoice:
    """An open (finalized) invoice, numbered as its transaction commits (number_at_commit:
    no answer of a subscription call holds the number); with `number_later` the caller
    numbers it. `customer`, when the caller has it, spares tax a read of it."""
    draft = _invoice(
        sub, reason, period, lines, rules.content_hash, at, invoice_id, InvoiceStatus.DRAFT
    )
    return await _finalize(
        tx,
        tenant_id,
        sub,
        draft,
        at,
        rules,
        insert=True,
        number="caller" if number_later else "at_commit",
        customer=customer,
    )


async def create_draft(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    *,
    reason: str,
    period: tuple[datetime, datetime],
    lines: Sequence[Line],
    rule_set: str,
    at: datetime,
    invoice_id: str,
) -> Invoice:
    """A draft: lines may still be added (late usage) until it is finalized."""
    draft = _invoice(sub, reason, period, lines, rule_set, at, invoice_id, InvoiceStatus.DRAFT)
    await tx.invoices.insert(tenant_id, draft)
    return draft


async def finalize_draft(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    draft: Invoice,
    extra_lines: Sequence[Line],
    at: datetime,
    rules: ActiveRules,
    *,
    number_later: bool = False,
) -> Invoice:
    lines = (*draft.lines, *extra_lines)
    grown = replace(draft, lines=lines, settlement=settle(lines, 0))
    return await _finalize(
        tx,
        tenant_id,
        sub,
        grown,
        at,
        rules,
        insert=False,
        number="caller" if number_later else "at_commit",
    )


def _invoice(
    sub: Subscription,
    reason: str,
    period: tuple[datetime, datetime],
    lines: Sequence[Line],
    rule_set: str,
    at: datetime,
    invoice_id: str | None,
    status: InvoiceStatus,
) -> Invoice:
    return Invoice(
        id=invoice_id or new_id("inv"),
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        currency=sub.currency,
        status=status,
        billing_reason=reason,
        period_start=period[0],
        period_end=period[1],
        lines=tuple(lines),
        settlement=settle(lines, 0),
        rule_set=rule_set,
        created_at=at,
        finalized_at=None,
    )


async def finalize_invoice(
    tx: Transaction,
    tenant_id: str,
    draft: Invoice,
    at: datetime,
    rules: ActiveRules,
    customer: Customer | None = None,
) -> Invoice:
    """Finalize a stored draft that belongs to no subscription, numbered now (due work's
    consolidated drafts; FinalizeInvoice uses `finalize_answered`)."""
    return await _finalize(
        tx, tenant_id, None, draft, at, rules, insert=False, number="now", customer=customer
    )


async def finalize_answered(
    tx: Transaction,
    tenant_id: str,
    draft: Invoice,
    at: datetime,
    rules: ActiveRules,
    customer: Customer | None,
    stamps: NumberStamps,
) -> tuple[Invoice, LastNumber | None]:
    """FinalizeInvoice's finalize of a draft of no subscription, read FOR UPDATE in this
    transaction (its rewrite is deferred into the batch), whose answer, audit record
    (`stamps.audit`, its changes given the number) and stored result hold the number. Where
    the store can, the transaction's last statement numbers it and writes those: the invoice
    returned has no number yet, the LastNumber holds it once the transaction commits.
    Otherwise it is numbered inline, now, and there is no LastNumber. Inline, the counter row
    stayed locked across a client round trip (ADR 0064)."""
    final = await _finalize(
        tx,
        tenant_id,
        None,
        draft,
        at,
        rules,
        insert=False,
        number="caller",
        customer=customer,
        locked=True,  # FinalizeInvoice read the draft FOR UPDATE
    )
    invoicing = rules.rules.invoicing
    year = numbering_year(invoicing, at)
    pattern = invoicing.number_format.replace("{year}", str(year))
    numbered = await tx.numbering.number_last(tenant_id, final.id, year, pattern, stamps)
    if numbered is not None:
        return final, numbered
    final = await _assign_number(tx, tenant_id, final, rules, at)
    changes = {**stamps.audit.changes, "number": final.number}
    await tx.audit.add(replace(stamps.audit, changes=changes))
    return final, None


async def _finalize(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription | None,
    draft: Invoice,
    at: datetime,
    rules: ActiveRules,
    *,
    insert: bool,
    number: Literal["now", "at_commit", "caller"],
    customer: Customer | None = None,
    locked: bool = False,
) -> Invoice:
    """`locked`: the draft was read FOR UPDATE in this transaction (its rewrite is then
    deferred into the batch, not compare-and-set on a round trip of its own)."""
    discount = await _discount(tx, tenant_id, sub, draft, rules) if sub is not None else None
    if discount is None and draft.coupon_code:
        discount = await _draft_coupon(tx, tenant_id, draft, rules)
    if discount is not None:
        lines = (*draft.lines, discount)
        draft = replace(draft, lines=lines, settlement=settle(lines, 0))
    if tax_enabled(rules):  # after the discounts, before cash rounding and credit
        lines = await with_tax(
            tx,
            tenant_id,
            customer_id=draft.customer_id,
            currency=draft.currency,
            lines=draft.lines,
            period=(draft.period_start, draft.period_end),
            plan_code=sub.plan_code if sub is not None else None,
            rules=rules,
            at=at,
            customer=customer,
        )
        draft = replace(draft, lines=lines, settlement=settle(lines, 0))
    money = rules.rules.money
    increment = money.cash_increment_for(draft.currency)
    if increment is not None:
        period = (draft.period_start, draft.period_end)
        rounding = money.rounding_for(draft.currency)
        cash = cash_rounding_line(draft.lines, draft.currency, increment, rounding, period)
        if cash is not None:
            lines = (*draft.lines, cash)
            draft = replace(draft, lines=lines, settlement=settle(lines, 0))
    # Never a silent negative total: the excess shows as a line moving it to account credit.
    excess = account_credit_line(
        draft.lines, draft.currency, (draft.period_start, draft.period_end)
    )
    if excess is not None:
        lines = (*draft.lines, excess)
        draft = replace(draft, lines=lines, settlement=settle(lines, 0))
    customer_id, currency = draft.customer_id, draft.currency
    balance = await tx.credit.balance(tenant_id, customer_id, currency)
    settlement = settle(draft.lines, balance)
    invoicing = rules.rules.invoicing
    due_at = (
        at + timedelta(days=invoicing.net_terms_days)
        if invoicing.collection_method == "send_invoice"
        else None
    )
    invoice = replace(
        draft, status=InvoiceStatus.OPEN, settlement=settlement, finalized_at=at, due_at=due_at
    )
    if insert:
        await tx.invoices.insert(tenant_id, invoice)
    else:
        # Compare-and-set draft -> open: of concurrent finalizers of one draft exactly one
        # writes; a loser's transaction (events, number) is rolled back and run again, and
        # then finds the invoice finalized.
        invoice = replace(invoice, version=draft.version + 1)
        if locked:  # read FOR UPDATE by this transaction: the set cannot miss
            await tx.invoices.replace_locked(tenant_id, invoice, draft.version)
        elif not await tx.invoices.replace(tenant_id, invoice, draft.version):
            raise RetryableConflict(f"{draft.name} changed since version {draft.version}")
    await record_invoice_tax(tx, tenant_id, invoice, at, rules)
    await post_facts(tx, tenant_id, invoice_finalized(invoice), at, rules)
    clock_id = (
        customer.clock_id if customer is not None else await _clock_of(tx, tenant_id, sub, invoice)
    )
    plan_code = sub.plan_code if sub is not None else None
    await schedule_invoice(tx, tenant_id, invoice, rules, at, plan_code, clock_id)
    if settlement.credit_balance_after_minor != balance:
        await tx.credit.set_balance(
            tenant_id, customer_id, currency, settlement.credit_balance_after_minor
        )
    await tx.outbox.add(
        OutboxEvent(
            new_id("evt"),
            tenant_id,
            "invoice.finalized",
            invoice.name,
            {
                "subscription": sub.name if sub is not None else None,
                "total_minor": settlement.total_minor,
                "amount_due_minor": settlement.amount_due_minor,
                "currency": currency,
                "billing_reason": invoice.billing_reason,
            },
            at,
        )
    )
    if invoicing.collection_method == "charge_automatically" and settlement.amount_due_minor > 0:
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"),
                tenant_id,
                "invoice.payment_due",
                invoice.name,
                {"amount_due_minor": settlement.amount_due_minor, "currency": currency},
                at,
            )
        )
    # The customer's clock, read once (or given): delivery and collection are keyed to it too.
    due_clock = sub.clock_id if sub is not None else clock_id
    await _schedule_after(tx, tenant_id, invoice, at, rules, due_clock)
    return await _number(tx, tenant_id, invoice, rules, at, number)


async def _number(
    tx: Transaction,
    tenant_id: str,
    invoice: Invoice,
    rules: ActiveRules,
    at: datetime,
    when: Literal["now", "at_commit", "caller"],
) -> Invoice:
    """Inline numbering holds the tenant's counter row from here to the commit, across a
    client round trip: a call whose answer holds the number uses `finalize_answered`."""
    if when == "now":
        return await _assign_number(tx, tenant_id, invoice, rules, at)
    if when == "at_commit":
        return await number_at_commit(tx, tenant_id, invoice, rules, at)
    return invoice


async def _schedule_delivery(
    tx: Transaction, tenant_id: str, invoice: Invoice, at: datetime, clock_id: str | None
) -> None:
    """Delivery is due work of its own: sent after this commit, never inside it. It is keyed
    by the invoice, not the subscription, so a failing delivery never holds up billing."""
    await tx.due_work.schedule(
        DueItem(
            tenant_id,
            new_id("due"),
            DELIVER,
            invoice.id,
            clock_id,
            at,
            json.dumps({"invoice_id": invoice.id}),
        )
    )


async def _schedule_after(
    tx: Transaction,
    tenant_id: str,
    invoice: Invoice,
    at: datetime,
    rules: ActiveRules,
    clock_id: str | None,
) -> None:
    """The work a finalized invoice leaves for after its commit: delivery, collection."""
    invoicing = rules.rules.invoicing
    if invoicing.email_invoices:
        await _schedule_delivery(tx, tenant_id, invoice, at, clock_id)
    if (
        invoicing.collection_method == "charge_automatically"
        and invoice.settlement.amount_due_minor > 0
        and rules.rules.payments.collection.automatic
    ):
        if await tx.payment_methods.has_attached(tenant_id, invoice.customer_id):
            await _schedule_collection(tx, tenant_id, invoice, at, clock_id)
        else:
            # Nothing to charge: said now, in this transaction, instead of by due work that
            # would only find the same.
            await tx.outbox.add(
                OutboxEvent(
                    new_id("evt"),
                    tenant_id,
                    "invoice.payment_method_missing",
                    invoice.name,
                    {
                        "customer": f"customers/{invoice.customer_id}",
                        "amount_due_minor": invoice.settlement.amount_due_minor,
                        "currency": invoice.currency,
                        "source": "automatic_collection",
                    },
                    at,
                )
            )


async def _schedule_collection(
    tx: Transaction, tenant_id: str, invoice: Invoice, at: datetime, clock_id: str | None
) -> None:
    """Automatic collection (ADR 0034) is due work of its own: the gateway is called after
    this commit, never inside it; keyed by the invoice, like delivery."""
    await tx.due_work.schedule(
        DueItem(
            tenant_id,
            new_id("due"),
            COLLECT_INVOICE,
            invoice.id,
            clock_id,
            at,
            json.dumps({"invoice_id": invoice.id}),
        )
    )


async def _clock_of(
    tx: Transaction, tenant_id: str, sub: Subscription | None, invoice: Invoice
) -> str | None:
    if sub is not None:
        return sub.clock_id
    customer = await tx.customers.get(tenant_id, invoice.customer_id)
    return customer.clock_id if customer is not None else None


async def _assign_number(
    tx: Transaction, tenant_id: str, invoice: Invoice, rules: ActiveRules, at: datetime
) -> Invoice:
    """Number a finalized invoice. Call it last in the transaction: the counter row stays
    locked until commit, so every statement after it makes every other finalizer wait."""
    number = await next_number(tx, tenant_id, rules.rules.invoicing, "invoice", at)
    await tx.invoices.set_number(tenant_id, invoice.id, number)
    return replace(invoice, number=number)


DELIVER = "deliver_invoice"  # the due-work kind that emails a finalized invoice

# Invoices a subscription's coupon applies to; one-off changes and final invoices are not.
DISCOUNTED_REASONS = frozenset({"subscription_create", "subscription_cycle", "subscription_resume"})


async def _discount(
    tx: Transaction, tenant_id: str, sub: Subscription, draft: Invoice, rules: ActiveRules
) -> Line | None:
    if draft.billing_reason not in DISCOUNTED_REASONS:
        return None
    return await subscription_discount(
        tx, tenant_id, sub, draft.lines, (draft.period_start, draft.period_end), rules
    )


async def subscription_discount(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    lines: Sequence[Line],
    period: tuple[datetime, datetime],
    rules: ActiveRules,
) -> Line | None:
    """The discount line of the subscription's coupon on these lines, if it still applies."""
    if not sub.coupon_code:
        return None
    if sub.coupon_periods_left is not None and sub.coupon_periods_left <= 0:
        return None
    coupon = await tx.coupons.get(tenant_id, sub.coupon_code)
    if coupon is None or not coupon.applies_to(sub.plan_code):
        return None
    rounding = rules.rules.money.rounding_for(sub.currency)
    return discount_line(coupon, lines, sub.currency, rounding, period)


async def _draft_coupon(
    tx: Transaction, tenant_id: str, draft: Invoice, rules: ActiveRules
) -> Line | None:
    """A coupon applied by hand to a draft: once, on this invoice."""
    coupon = await tx.coupons.get(tenant_id, draft.coupon_code or "")
    if coupon is None:
        return None
    rounding = rules.rules.money.rounding_for(draft.currency)
    return discount_line(
        coupon, draft.lines, draft.currency, rounding, (draft.period_start, draft.period_end)
    )


def after_invoice(sub: Subscription, invoice: Invoice) -> Subscription:
    """The subscription after its period's invoice: each item with what the invoice actually
    charged for it (net of the coupon, the basis of later credits), and the coupon's use
    counted if the invoice was discounted."""
    period = (sub.period_start, sub.period_end)
    priced = as_priced(invoice.lines)  # what the items were priced at, tax aside
    sub = replace(sub, items=record_paid(sub.items, priced, sub.currency, period))
    if not any(line.kind == LineKind.DISCOUNT for line in invoice.lines):
        return sub
    return coupon_used(sub)


def coupon_used(sub: Subscription) -> Subscription:
    """The subscription with one more period of its coupon used up."""
    if sub.coupon_code is None or sub.coupon_periods_left is None:
        return sub
    left = sub.coupon_periods_left - 1
    if left <= 0:
        return replace(sub, coupon_code=None, coupon_periods_left=None)
    return replace(sub, coupon_periods_left=left)


async def number_at_commit(
    tx: Transaction, tenant_id: str, invoice: Invoice, rules: ActiveRules, at: datetime
) -> Invoice:
    """Number a finalized invoice as its transaction commits (due work: bill runs). On
    PostgreSQL the counter row is then locked only through the commit, so workers finishing
    invoices side by side do not queue behind each other's round trips; the number is known
    after commit (the invoice returned has none there). A store that cannot defer it
    (SQLite, one writer) has it numbered inline, now."""
    invoicing = rules.rules.invoicing
    year = numbering_year(invoicing, at)
    pattern = invoicing.number_format.replace("{year}", str(year))
    if await tx.numbering.number_at_commit(tenant_id, invoice.id, year, pattern):
        return invoice
    return await _assign_number(tx, tenant_id, invoice, rules, at)


def numbering_year(invoicing: InvoicingRules, at: datetime) -> int:
    """The year of `at` in the numbering zone: the year of the number's series."""
    return at.astimezone(ZoneInfo(invoicing.numbering_time_zone)).year


async def next_number(
    tx: Transaction, tenant_id: str, invoicing: InvoicingRules, series: str, at: datetime
) -> str:
    """The next gapless number of `series` in the year of `at` in the numbering zone."""
    year = numbering_year(invoicing, at)
    seq = await tx.numbering.next(tenant_id, series, year)
    pattern = (
        invoicing.number_format if series == "invoice" else invoicing.credit_note_number_format
    )
    return format_number(pattern, year, seq)
