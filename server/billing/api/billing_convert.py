"""Protobuf forms of subscriptions, invoices and clocks."""

from __future__ import annotations

from billing.api.convert import timestamp
from billing.api.tax_convert import tax_amount_to_proto
from billing.app.ports import SimulationClock
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.subscriptions import Item, Line, LineKind, Status, StubProration, Subscription
from billing.domain.tax_lines import summary as tax_summary
from billing_client.v1 import clocks_pb2, invoices_pb2, money_pb2, subscriptions_pb2

SUBSCRIPTION_STATUS = {
    Status.TRIALING: subscriptions_pb2.TRIALING,
    Status.ACTIVE: subscriptions_pb2.ACTIVE,
    Status.PAST_DUE: subscriptions_pb2.PAST_DUE,
    Status.PAUSED: subscriptions_pb2.PAUSED,
    Status.CANCELED: subscriptions_pb2.CANCELED,
    Status.INCOMPLETE: subscriptions_pb2.INCOMPLETE,
    Status.UNPAID: subscriptions_pb2.UNPAID,
}
FIRST_STUB = {
    StubProration.PRORATE: subscriptions_pb2.FIRST_STUB_PRORATE,
    StubProration.NONE: subscriptions_pb2.FIRST_STUB_NONE,
    StubProration.FULL: subscriptions_pb2.FIRST_STUB_FULL,
}
FIRST_STUB_FROM_PROTO = {
    **{value: stub for stub, value in FIRST_STUB.items()},
    subscriptions_pb2.FIRST_STUB_PRORATION_UNSPECIFIED: StubProration.PRORATE,
}
INVOICE_STATUS = {
    InvoiceStatus.DRAFT: invoices_pb2.DRAFT,
    InvoiceStatus.OPEN: invoices_pb2.OPEN,
    InvoiceStatus.PAID: invoices_pb2.PAID,
    InvoiceStatus.VOID: invoices_pb2.VOID,
    InvoiceStatus.UNCOLLECTIBLE: invoices_pb2.UNCOLLECTIBLE,
}

LINE_KIND = {
    LineKind.RECURRING: invoices_pb2.RECURRING,
    LineKind.PRORATION_CREDIT: invoices_pb2.PRORATION_CREDIT,
    LineKind.PRORATION_CHARGE: invoices_pb2.PRORATION_CHARGE,
    LineKind.REPAIR: invoices_pb2.REPAIR,
    LineKind.ACCOUNT_CREDIT: invoices_pb2.ACCOUNT_CREDIT,
    LineKind.CANCELLATION_CREDIT: invoices_pb2.CANCELLATION_CREDIT,
    LineKind.USAGE: invoices_pb2.USAGE,
    LineKind.DISCOUNT: invoices_pb2.DISCOUNT,
    LineKind.ONE_OFF: invoices_pb2.ONE_OFF,
    LineKind.TAX: invoices_pb2.TAX,
    LineKind.ROUNDING: invoices_pb2.ROUNDING,
}


def line_kind(line: Line) -> invoices_pb2.LineKind:
    return LINE_KIND[line.kind]


def money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, amount_minor=minor)


def _price(code: str | None) -> str:
    return f"prices/{code}" if code else ""


def item_to_proto(item: Item) -> subscriptions_pb2.SubscriptionItem:
    return subscriptions_pb2.SubscriptionItem(
        price=_price(item.price_code),
        quantity=item.quantity,
        unit_amount=str(item.unit_amount),
        description=item.description,
    )


def subscription_to_proto(sub: Subscription) -> subscriptions_pb2.Subscription:
    message = subscriptions_pb2.Subscription(
        name=sub.name,
        customer=f"customers/{sub.customer_id}",
        plan=f"plans/{sub.plan_code}",
        currency_code=sub.currency,
        status=SUBSCRIPTION_STATUS[sub.status],
        items=[item_to_proto(i) for i in sub.items],
        current_period_start=timestamp(sub.period_start),
        current_period_end=timestamp(sub.period_end),
        billing_cycle_anchor=timestamp(sub.anchor),
        billing_time_zone=sub.time_zone,
        cancel_at_period_end=sub.cancel_at_period_end,
        create_time=timestamp(sub.created_at),
        etag=sub.etag,
        rule_set=f"ruleSets/{sub.rule_set}",
        auto_renew=sub.auto_renew,
        coupon=f"coupons/{sub.coupon_code}" if sub.coupon_code else "",
        coupon_periods_left=sub.coupon_periods_left or 0,
        billing_cycle_anchor_day=sub.anchor_day,
        first_stub_proration=FIRST_STUB[StubProration(sub.first_stub)],
        base_subscription=f"subscriptions/{sub.base_subscription_id}"
        if sub.base_subscription_id
        else "",
        phases=[
            subscriptions_pb2.SubscriptionPhase(
                start_period=p.start_period,
                plan=f"plans/{p.plan_code}" if p.plan_code else "",
                quantities=dict(p.quantities),
                price_overrides=dict(p.price_overrides),
            )
            for p in sub.phases
        ],
    )
    for field, value in (
        ("trial_end", sub.trial_end),
        ("cancel_at", sub.cancel_at),
        ("term_end", sub.term_end),
    ):
        if value is not None:
            getattr(message, field).CopyFrom(timestamp(value))
    if sub.pending_change is not None:
        change = sub.pending_change
        message.pending_change.CopyFrom(
            subscriptions_pb2.PendingChange(
                plan=f"plans/{change.plan_code}",
                items=[item_to_proto(i) for i in change.items],
                effective_time=timestamp(change.effective_at),
            )
        )
    return message


def proration_line_to_proto(line: Line, currency: str) -> subscriptions_pb2.ProrationLine:
    return subscriptions_pb2.ProrationLine(
        description=line.description,
        amount=money(currency, line.amount_minor),
        proration_factor=line.factor,
        price=_price(line.price_code),
        quantity=int(line.quantity),
        period_start=timestamp(line.period_start),
        period_end=timestamp(line.period_end),
        unrounded_amount=str(line.unrounded),
        kind=line_kind(line),
    )


def invoice_to_proto(invoice: Invoice) -> invoices_pb2.Invoice:
    st = invoice.settlement
    c = invoice.currency
    taxes = tax_summary(invoice.lines)
    message = invoices_pb2.Invoice(
        name=invoice.name,
        customer=f"customers/{invoice.customer_id}",
        subscription=f"subscriptions/{invoice.subscription_id}" if invoice.subscription_id else "",
        status=INVOICE_STATUS[invoice.status],
        billing_reason=invoice.billing_reason,
        lines=[
            invoices_pb2.InvoiceLine(
                description=line.description,
                amount=money(c, line.amount_minor),
                quantity=str(line.quantity),
                unit_amount=str(line.unit_amount),
                period_start=timestamp(line.period_start),
                period_end=timestamp(line.period_end),
                proration=line.proration,
                proration_factor=line.factor,
                unrounded_amount=str(line.unrounded),
                rule_set=f"ruleSets/{invoice.rule_set}",
                price=_price(line.price_code),
                kind=line.kind.value,
                line_kind=line_kind(line),
            )
            for line in invoice.lines
        ],
        total=money(c, st.total_minor),
        credit_applied=money(c, st.credit_applied_minor),
        amount_due=money(c, st.amount_due_minor),
        period_start=timestamp(invoice.period_start),
        period_end=timestamp(invoice.period_end),
        create_time=timestamp(invoice.created_at),
        rule_set=f"ruleSets/{invoice.rule_set}",
        number=invoice.number or "",
        etag=invoice.etag,
        memo=invoice.memo,
        payment_reference=invoice.payment_reference,
        credited=money(c, invoice.credited_minor),
        amount_paid=money(c, invoice.paid_minor),
        amount_remaining=money(c, invoice.remaining_minor),
        coupon=f"coupons/{invoice.coupon_code}" if invoice.coupon_code else "",
        subtotal=money(c, taxes.subtotal_minor),
        tax=money(c, taxes.tax_minor),
        taxes=[tax_amount_to_proto(amount, c) for amount in taxes.amounts],
        tax_notes=list(taxes.notes),
        seller_tax_ids=list(taxes.seller_tax_ids),
        buyer_tax_ids=list(taxes.buyer_tax_ids),
    )
    for field, value in (
        ("finalize_time", invoice.finalized_at),
        ("paid_time", invoice.paid_at),
        ("void_time", invoice.voided_at),
        ("due_time", invoice.due_at),
    ):
        if value is not None:
            getattr(message, field).CopyFrom(timestamp(value))
    return message


def clock_to_proto(clock: SimulationClock) -> clocks_pb2.Clock:
    return clocks_pb2.Clock(
        name=clock.name,
        now=timestamp(clock.now),
        display_name=clock.display_name,
        create_time=timestamp(clock.created_at),
    )
