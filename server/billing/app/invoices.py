"""Invoice reads. (Drafts, finalization, numbering and credit notes come with invoicing.)"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.app import recognition
from billing.app.audit_records import audit_of
from billing.app.billing_time import BillingTime
from billing.app.books import post_facts
from billing.app.context import CallContext, Write
from billing.app.dunning_recovery import invoice_paid, invoice_voided
from billing.app.ids import new_id
from billing.app.invoice_tax import tax_enabled, with_tax
from billing.app.invoicing import finalize_answered, next_number
from billing.app.metered import MeteredPrice, expand_groups, metered_prices, period_events
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import (
    LastNumber,
    NumberStamps,
    ReadAhead,
    RetryableConflict,
    Store,
    Transaction,
)
from billing.app.records import OutboxEvent
from billing.app.rules import ActiveRules, RuleUseCases
from billing.app.tax_ledger import record_credit_note_tax, record_void_tax
from billing.app.usage import UsageUseCases
from billing.app.usage_billing import usage_line
from billing.app.writes import WriteRunner
from billing.domain import periods, postings
from billing.domain.coupons import discount_line
from billing.domain.errors import InvalidArgument, InvalidState, NotFound
from billing.domain.invoices import (
    CREDITABLE,
    INVOICE_TRANSITIONS,
    CreditNote,
    Invoice,
    InvoiceStatus,
    creditable_minor,
    split_credit,
)
from billing.domain.limits import ONE_OFF_LINES_PER_INVOICE_MAX
from billing.domain.metering import Event
from billing.domain.money import (
    MONEY_CONTEXT,
    AmountOutOfRange,
    Money,
    check_minor,
    check_quantity,
    parse_decimal,
    round_to_minor,
)
from billing.domain.names import parse_name
from billing.domain.subscriptions import (
    Line,
    LineKind,
    Settlement,
    line_from_dict,
    line_to_dict,
    period_fee_lines,
    settle,
)
from billing.domain.tax_ledger import (
    credit_note_tax,
    invoice_taxes,
    remaining_taxes,
    tax_amount_from_dict,
    tax_amount_to_dict,
)
from billing.domain.text import check_text

# The columns' sizes (store/schema.py): checked here so both databases refuse alike.
MEMO_MAX = 1024
DESCRIPTION_MAX = 512
PAYMENT_REFERENCE_MAX = 256
CREDIT_REASON_MAX = 256


@dataclass(frozen=True)
class Page:
    invoices: list[Invoice]
    next_page_token: str


class InvoiceUseCases:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, ctx: CallContext, name: str) -> Invoice:
        invoice_id = parse_name(name, "invoices")
        async with self._store.read() as tx:
            invoice = await tx.invoices.get(ctx.tenant_id, invoice_id)
        if invoice is None:
            raise NotFound(name)
        return invoice

    async def list(
        self, ctx: CallContext, customer: str, subscription: str, page_size: int, page_token: str
    ) -> Page:
        customer_id = parse_name(customer, "customers", "customer") if customer else None
        subscription_id = (
            parse_name(subscription, "subscriptions", "subscription") if subscription else None
        )
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.invoices.list_after(
                ctx.tenant_id, customer_id, subscription_id, after, limit + 1
            )
            if not rows:  # an empty page's filter must exist: another tenant's is NOT_FOUND
                if customer_id and await tx.customers.get(ctx.tenant_id, customer_id) is None:
                    raise NotFound(customer)
                if subscription_id and not await tx.subscriptions.get(
                    ctx.tenant_id, subscription_id
                ):
                    raise NotFound(subscription)
        page = rows[:limit]
        return Page(page, encode_page_token(page[-1].id) if len(rows) > limit else "")


# --- lifecycle ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OneOffLine:
    invoice: str
    description: str
    quantity: str
    unit_amount: str
    tax_code: str = ""  # empty: the tax policy's default tax code


@dataclass(frozen=True)
class CreditNoteRequest:
    invoice: str
    amount: Money
    reason: str


@dataclass(frozen=True)
class Upcoming:
    invoice: Invoice


class InvoiceLifecycle:
    """Drafts are edited and finalized; finalized invoices only move between statuses and take
    credit notes. Raises InvalidState (FAILED_PRECONDITION) for anything else."""

    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        rules: RuleUseCases,
        time: BillingTime,
        usage: UsageUseCases,
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._time = time
        self._usage = usage

    async def create_draft(self, ctx: CallContext, write: Write[tuple[str, str]]) -> Invoice:
        customer_name, memo = write.input
        customer_id = parse_name(customer_name, "customers", "customer")
        check_text("memo", memo, MEMO_MAX)

        async def work(tx: Transaction, now: datetime) -> Invoice:
            customer = await tx.customers.get(ctx.tenant_id, customer_id)
            if customer is None:
                raise NotFound(customer_name)
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            at = await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            invoice = Invoice(
                id=new_id("inv"),
                customer_id=customer_id,
                subscription_id=None,
                currency=customer.fields.currency_code,
                status=InvoiceStatus.DRAFT,
                billing_reason="manual",
                period_start=at,
                period_end=at,
                lines=(),
                settlement=settle((), 0),
                rule_set=active.content_hash,
                created_at=at,
                finalized_at=None,
                memo=memo,
            )
            await tx.invoices.insert(ctx.tenant_id, invoice)
            await self._audit(tx, ctx, write, invoice, "create", {"memo": memo}, now)
            return invoice

        return await self._writes.run(ctx, write, INVOICE_CODEC, work)

    async def add_line(self, ctx: CallContext, write: Write[OneOffLine]) -> Invoice:
        request = write.input
        invoice_id = parse_name(request.invoice, "invoices", "invoice")
        quantity = _decimal(request.quantity or "1", "quantity")
        unit = _decimal(request.unit_amount, "unit_amount")
        try:
            check_quantity(quantity)
        except AmountOutOfRange as exc:
            raise exc.naming("quantity") from None
        if not request.description.strip():
            raise InvalidArgument.single("description", "is required")
        check_text("description", request.description, DESCRIPTION_MAX)

        async def work(tx: Transaction, now: datetime) -> Invoice:
            invoice = await self._draft(tx, ctx.tenant_id, invoice_id, request.invoice)
            one_offs = sum(1 for line in invoice.lines if line.kind is LineKind.ONE_OFF)
            if one_offs >= ONE_OFF_LINES_PER_INVOICE_MAX:
                raise InvalidState(
                    f"{request.invoice} already has {one_offs} one-off lines, the most a draft"
                    " may hold; add them to another invoice",
                    "TOO_MANY_LINES",
                )
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            if request.tax_code and request.tax_code not in active.rules.tax.tax_codes:
                raise InvalidArgument.single(
                    "tax_code", f"{request.tax_code!r} is not a tax code of the tax rules"
                )
            rounding = active.rules.money.rounding_for(invoice.currency)
            unrounded = MONEY_CONTEXT.multiply(quantity, unit)  # exact: both are bounded
            try:
                amount = round_to_minor(unrounded, invoice.currency, rounding)
                check_minor(
                    sum(line.amount_minor for line in invoice.lines) + amount.amount_minor,
                    "the invoice total",
                )
            except AmountOutOfRange as exc:
                raise exc.naming("unit_amount") from None
            line = Line(
                description=request.description,
                price_code=None,
                quantity=quantity,
                unit_amount=unit,
                unrounded=unrounded,
                amount_minor=amount.amount_minor,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                kind=LineKind.ONE_OFF,
                derivation={
                    "rule_entry": "one-off line",
                    "unrounded": str(unrounded),
                    "rounding": rounding,
                    **({"tax_code": request.tax_code} if request.tax_code else {}),
                },
            )
            lines = (*invoice.lines, line)
            grown = replace(
                invoice, lines=lines, settlement=settle(lines, 0), version=invoice.version + 1
            )
            if not await tx.invoices.replace(ctx.tenant_id, grown, invoice.version):
                raise _changed(invoice)
            await self._audit(
                tx,
                ctx,
                write,
                grown,
                "add_line",
                {"description": request.description},
                now,
            )
            return grown

        return await self._writes.run(ctx, write, INVOICE_CODEC, work)

    async def update_draft(
        self, ctx: CallContext, write: Write[tuple[str, str, tuple[str, ...]]]
    ) -> Invoice:
        """`write.input` is (name, memo, mask paths); only `memo` may be named."""
        name, memo, paths = write.input
        invoice_id = parse_name(name, "invoices", "invoice.name")
        if list(paths) != ["memo"]:
            raise InvalidArgument.single("update_mask", "only memo can be updated")
        check_text("invoice.memo", memo, MEMO_MAX)

        async def work(tx: Transaction, now: datetime) -> Invoice:
            invoice = await self._draft(tx, ctx.tenant_id, invoice_id, name)
            updated = replace(invoice, memo=memo, version=invoice.version + 1)
            if not await tx.invoices.replace(ctx.tenant_id, updated, invoice.version):
                raise _changed(invoice)
            await self._audit(tx, ctx, write, updated, "update", {"memo": memo}, now)
            return updated

        return await self._writes.run(ctx, write, INVOICE_CODEC, work)

    async def apply_coupon(self, ctx: CallContext, write: Write[tuple[str, str]]) -> Invoice:
        name, coupon_name = write.input
        invoice_id = parse_name(name, "invoices", "invoice")
        code = coupon_name.removeprefix("coupons/")

        async def work(tx: Transaction, now: datetime) -> Invoice:
            invoice = await self._draft(tx, ctx.tenant_id, invoice_id, name)
            coupon = await tx.coupons.get(ctx.tenant_id, code)
            if coupon is None:
                raise NotFound(coupon_name)
            if (mismatch := coupon.currency_mismatch(invoice.currency)) is not None:
                raise InvalidArgument.single("coupon", mismatch)
            updated = replace(invoice, coupon_code=code, version=invoice.version + 1)
            if not await tx.invoices.replace(ctx.tenant_id, updated, invoice.version):
                raise _changed(invoice)
            await self._audit(tx, ctx, write, updated, "apply_coupon", {"coupon": code}, now)
            return updated

        return await self._writes.run(ctx, write, INVOICE_CODEC, work)

    async def delete(self, ctx: CallContext, write: Write[str]) -> None:
        invoice_id = parse_name(write.input, "invoices")

        async def work(tx: Transaction, now: datetime) -> Invoice:
            invoice = await self._draft(tx, ctx.tenant_id, invoice_id, write.input)
            await tx.invoices.delete(ctx.tenant_id, invoice.id)
            await self._audit(tx, ctx, write, invoice, "delete", {}, now)
            return invoice

        await self._writes.run(ctx, write, INVOICE_CODEC, work)

    async def finalize(self, ctx: CallContext, write: Write[str]) -> Invoice:
        invoice_id = parse_name(write.input, "invoices")
        numbered: list[LastNumber] = []  # the attempt that committed: its number

        async def work(tx: Transaction, now: datetime) -> Invoice:
            numbered.clear()
            draft = await self._draft(tx, ctx.tenant_id, invoice_id, write.input)
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            customer = await tx.customers.get(ctx.tenant_id, draft.customer_id)
            at = await self._time.now(tx, ctx.tenant_id, customer.clock_id if customer else None)
            # The audit record is written with the number: by the statement that numbers the
            # invoice as the transaction commits, or beside an inline numbering.
            stamps = NumberStamps(
                audit_of(ctx, write, draft.name, "finalize", {}, now), write.request_id
            )
            final, last = await finalize_answered(
                tx, ctx.tenant_id, draft, at, active, customer, stamps
            )
            numbered.extend([last] if last is not None else [])
            return final

        ahead = ReadAhead(invoice_id=invoice_id, books=True)  # it posts to the journal
        final = await self._writes.run(ctx, write, INVOICE_CODEC, work, ahead)
        if final.number is None and numbered:  # numbered as it committed (not a replay)
            final = replace(final, number=numbered[0].value)
        return final

    async def move(self, ctx: CallContext, write: Write[tuple[str, str, str]]) -> Invoice:
        """`write.input` is (name, target status: void | uncollectible | paid, reference)."""
        name, target, reference = write.input
        invoice_id = parse_name(name, "invoices")
        check_text("payment_reference", reference, PAYMENT_REFERENCE_MAX)
        status = InvoiceStatus(target)

        async def work(tx: Transaction, now: datetime) -> Invoice:
            # Locked: a concurrent move waits here, then reads the status this one leaves.
            invoice = await tx.invoices.get(ctx.tenant_id, invoice_id, lock=True)
            if invoice is None:
                raise NotFound(name)
            if status not in INVOICE_TRANSITIONS[invoice.status]:
                raise InvalidState(
                    f"{invoice.name} is {invoice.status.value} and cannot become {target}",
                    "INVOICE_STATE",
                )
            customer = await tx.customers.get(ctx.tenant_id, invoice.customer_id)
            at = await self._time.now(tx, ctx.tenant_id, customer.clock_id if customer else None)
            if status == InvoiceStatus.VOID and invoice.paid_minor:
                raise InvalidState(
                    f"{invoice.name} is partly paid"
                    f" ({Money(invoice.currency, invoice.paid_minor)}); credit it instead",
                    "INVOICE_PARTLY_PAID",
                )
            # Marked paid: what payments recorded stays paid, the rest was received outside
            # them; nothing remains either way (ADR 0034).
            settled = replace(
                invoice.settlement,
                amount_due_minor=invoice.paid_minor if status == InvoiceStatus.PAID else 0,
            )
            moved = replace(
                invoice,
                status=status,
                version=invoice.version + 1,
                settlement=settled,
                paid_at=at if status == InvoiceStatus.PAID else invoice.paid_at,
                voided_at=at if status == InvoiceStatus.VOID else invoice.voided_at,
                uncollectible_at=at
                if status == InvoiceStatus.UNCOLLECTIBLE
                else invoice.uncollectible_at,
                payment_reference=reference or invoice.payment_reference,
            )
            if status == InvoiceStatus.UNCOLLECTIBLE:
                moved = replace(moved, settlement=invoice.settlement)  # still owed, written off
            if not await tx.invoices.update_status(
                ctx.tenant_id, moved, invoice.version, invoice.status
            ):
                raise _changed(invoice)
            if status == InvoiceStatus.VOID:
                await _void_credit(tx, ctx.tenant_id, invoice)
                await recognition.invoice_voided(tx, ctx.tenant_id, invoice, at, None)
            await post_facts(tx, ctx.tenant_id, _move_postings(invoice, status), at)
            if status == InvoiceStatus.VOID and invoice_taxes(invoice):
                active = await self._rules.active_rules_in(tx, ctx.tenant_id)
                await record_void_tax(tx, ctx.tenant_id, invoice, at, active)
            # Its dunning case ends with it (ADR 0043): nothing left to chase.
            if status == InvoiceStatus.VOID:
                await invoice_voided(tx, ctx.tenant_id, moved, at, f"{ctx.method} {moved.name}")
            elif status == InvoiceStatus.PAID:
                await invoice_paid(
                    tx, ctx.tenant_id, moved, at, f"{ctx.method} {moved.name}", outside=True
                )
            await tx.outbox.add(
                OutboxEvent(
                    new_id("evt"),
                    ctx.tenant_id,
                    f"invoice.{target}",
                    moved.name,
                    {"number": moved.number},
                    now,
                )
            )
            await self._audit(tx, ctx, write, moved, target, {"payment_reference": reference}, now)
            return moved

        return await self._writes.run(ctx, write, INVOICE_CODEC, work)

    async def credit(self, ctx: CallContext, write: Write[CreditNoteRequest]) -> CreditNote:
        request = write.input
        invoice_id = parse_name(request.invoice, "invoices", "invoice")
        if request.amount.amount_minor <= 0:
            raise InvalidArgument.single("amount", "must be positive")
        check_text("reason", request.reason, CREDIT_REASON_MAX)

        async def work(tx: Transaction, now: datetime) -> CreditNote:
            # Locked: concurrent notes on one invoice take turns, each reading what the
            # one before left to credit.
            invoice = await tx.invoices.get(ctx.tenant_id, invoice_id, lock=True)
            if invoice is None:
                raise NotFound(request.invoice)
            if invoice.status not in CREDITABLE:
                raise InvalidState(
                    f"{invoice.name} is {invoice.status.value}; only finalized, not void,"
                    " invoices take credit notes",
                    "INVOICE_STATE",
                )
            if request.amount.currency_code != invoice.currency:
                raise InvalidArgument.single("amount", f"must be in {invoice.currency}")
            room = creditable_minor(invoice)
            if request.amount.amount_minor > room:
                raise InvalidArgument.single(
                    "amount", f"at most {Money(invoice.currency, room)} is left to credit"
                )
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            customer = await tx.customers.get(ctx.tenant_id, invoice.customer_id)
            at = await self._time.now(tx, ctx.tenant_id, customer.clock_id if customer else None)
            amount = request.amount.amount_minor
            split = split_credit(invoice, amount)
            tax = credit_note_tax(invoice, amount)
            to_due, to_balance = split.to_amount_due_minor, split.to_credit_balance_minor
            credited = replace(
                invoice,
                credited_minor=invoice.credited_minor + amount,
                settlement=replace(
                    invoice.settlement,
                    amount_due_minor=invoice.settlement.amount_due_minor - to_due,
                ),
                version=invoice.version + 1,
            )
            # A partly paid open invoice the note leaves nothing on is paid (ADR 0034).
            now_paid = (
                invoice.status == InvoiceStatus.OPEN
                and invoice.paid_minor > 0
                and credited.remaining_minor == 0
            )
            if now_paid:
                credited = replace(credited, status=InvoiceStatus.PAID, paid_at=at)
            # Exactly one note per version: a loser runs again against the new state.
            if not await tx.invoices.update_status(
                ctx.tenant_id, credited, invoice.version, invoice.status
            ):
                raise _changed(invoice)
            if to_balance:
                balance = await tx.credit.balance(
                    ctx.tenant_id, invoice.customer_id, invoice.currency
                )
                await tx.credit.set_balance(
                    ctx.tenant_id, invoice.customer_id, invoice.currency, balance + to_balance
                )
            if now_paid:
                await tx.outbox.add(
                    OutboxEvent(
                        new_id("evt"),
                        ctx.tenant_id,
                        "invoice.paid",
                        invoice.name,
                        {"number": invoice.number, "paid_minor": invoice.paid_minor},
                        at,
                    )
                )
                await invoice_paid(tx, ctx.tenant_id, credited, at, f"{ctx.method} {invoice.name}")
            note = CreditNote(
                id=new_id("cn"),
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                number="",
                amount=Money(invoice.currency, amount),
                reason=request.reason,
                applied_to="amount_due" if to_balance == 0 else "credit_balance",
                created_at=at,
                tax_minor=tax.tax_minor,
                taxes=tax.taxes,
                to_credit_minor=to_balance,
            )
            await record_credit_note_tax(tx, ctx.tenant_id, invoice, note.id, tax.taxes, at, active)
            posting = postings.credit_note(
                invoice, note.name, amount, tax.taxes, to_due, to_balance
            )
            await post_facts(tx, ctx.tenant_id, posting, at, active)
            await tx.outbox.add(
                OutboxEvent(
                    new_id("evt"),
                    ctx.tenant_id,
                    "credit_note.created",
                    note.name,
                    {"invoice": invoice.name, "amount_minor": amount},
                    now,
                )
            )
            await self._audit(
                tx,
                ctx,
                write,
                note,
                "credit",
                {
                    "invoice": invoice.name,
                    "amount_minor": amount,
                    "tax_minor": tax.tax_minor,
                    "to_amount_due_minor": to_due,
                    "to_credit_balance_minor": to_balance,
                },
                now,
            )
            # The number last, as for invoices: the counter stays locked only until commit.
            number = await next_number(tx, ctx.tenant_id, active.rules.invoicing, "credit_note", at)
            note = replace(note, number=number)
            await tx.credit_notes.insert(ctx.tenant_id, note)
            return note

        return await self._writes.run(ctx, write, CREDIT_NOTE_CODEC, work)

    async def upcoming(self, ctx: CallContext, subscription: str) -> Invoice:
        """The next renewal invoice as it would be now: next period's fees, pending items,
        usage so far, the coupon. Writes nothing."""
        subscription_id = parse_name(subscription, "subscriptions", "subscription")
        async with self._store.read() as tx:
            sub = await tx.subscriptions.get(ctx.tenant_id, subscription_id)
            if sub is None:
                raise NotFound(subscription)
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            pending = await tx.pending_items.peek(ctx.tenant_id, sub.id)
            at = sub.period_end
            period = periods.period_at(
                sub.anchor,
                periods.Cadence(sub.interval, sub.interval_count),  # type: ignore[arg-type]
                at,
                sub.time_zone,
            )
            rounding = active.rules.money.rounding_for(sub.currency)
            fees = period_fee_lines(
                [i.billed() for i in sub.items], sub.currency, rounding, (at, period.end)
            )
            metered = metered_prices(active.rules, sub, sub.period_start)
            events = await period_events(
                tx, ctx.tenant_id, sub.id, metered, sub.period_start, sub.period_end
            )
        usage = [
            _usage_line(self._usage, active, m, events, sub.period_start, sub.period_end)
            for m in expand_groups(metered, events, sub.period_start, sub.period_end)
        ]
        lines: list[Line] = [*pending, *fees, *usage]
        if sub.coupon_code:
            async with self._store.read() as tx:
                coupon = await tx.coupons.get(ctx.tenant_id, sub.coupon_code)
            if coupon is not None and coupon.applies_to(sub.plan_code):
                discount = discount_line(coupon, lines, sub.currency, rounding, (at, period.end))
                if discount is not None:
                    lines.append(discount)
        if tax_enabled(active):  # as the renewal will tax it: at `at`, the period's end
            async with self._store.read() as tx:
                taxed = await with_tax(
                    tx,
                    ctx.tenant_id,
                    customer_id=sub.customer_id,
                    currency=sub.currency,
                    lines=lines,
                    period=(at, period.end),
                    plan_code=sub.plan_code,
                    rules=active,
                    at=at,
                )
            lines = list(taxed)
        return Invoice(
            id="upcoming",
            customer_id=sub.customer_id,
            subscription_id=sub.id,
            currency=sub.currency,
            status=InvoiceStatus.DRAFT,
            billing_reason="upcoming",
            period_start=at,
            period_end=period.end,
            lines=tuple(lines),
            settlement=settle(lines, 0),
            rule_set=active.content_hash,
            created_at=at,
            finalized_at=None,
        )

    async def _draft(self, tx: Transaction, tenant_id: str, invoice_id: str, name: str) -> Invoice:
        """The draft, locked: concurrent edits and finalizations of one draft take turns,
        and the one after a finalization finds it finalized."""
        invoice = await tx.invoices.get(tenant_id, invoice_id, lock=True)
        if invoice is None:
            raise NotFound(name)
        if invoice.status != InvoiceStatus.DRAFT:
            raise InvalidState(
                f"{invoice.name} is finalized ({invoice.status.value}); only void, mark"
                " uncollectible, mark paid and credit notes are allowed",
                "INVOICE_FINALIZED",
            )
        return invoice

    async def _audit(
        self,
        tx: Transaction,
        ctx: CallContext,
        write: Write[Any],
        resource: Invoice | CreditNote,
        action: str,
        changes: dict[str, object],
        now: datetime,
    ) -> None:
        await tx.audit.add(audit_of(ctx, write, resource.name, action, changes, now))


def _move_postings(invoice: Invoice, to: InvoiceStatus) -> list[postings.Posting]:
    """The journal entries of a status move, from the invoice as it was before it."""
    if to == InvoiceStatus.VOID:
        return postings.invoice_voided(invoice, remaining_taxes(invoice))
    if to == InvoiceStatus.UNCOLLECTIBLE:
        return postings.written_off(invoice)
    return postings.marked_paid(invoice)


async def _void_credit(tx: Transaction, tenant_id: str, invoice: Invoice) -> None:
    """A void gives back the customer credit the invoice used (and no credit note gave back)
    and takes back the credit it gave (a negative invoice's excess), as its journal entry does
    (ADR 0052). Credit it gave that was spent since cannot be taken back: refused."""
    delta = postings.void_credit_back_minor(invoice) - postings.credit_given_minor(invoice)
    if delta == 0:
        return
    balance = await tx.credit.balance(tenant_id, invoice.customer_id, invoice.currency)
    if balance + delta < 0:
        raise InvalidState(
            f"{invoice.name} gave {Money(invoice.currency, -delta)} of customer credit and"
            f" only {Money(invoice.currency, balance)} is left; issue an invoice instead",
            "CREDIT_SPENT",
        )
    await tx.credit.set_balance(tenant_id, invoice.customer_id, invoice.currency, balance + delta)


def _changed(invoice: Invoice) -> RetryableConflict:
    """A compare-and-set lost: the WriteRunner runs the use case again on what is stored
    now, which then succeeds or refuses as that state says."""
    return RetryableConflict(f"{invoice.name} changed since version {invoice.version}")


def _usage_line(
    usage: UsageUseCases,
    active: ActiveRules,
    m: MeteredPrice,
    events: list[Event],
    start: datetime,
    end: datetime,
) -> Line:
    result = usage.price_usage(active.rules, m, events, start, end)
    return usage_line(m, result, active.rules, m.price.currency, (start, end), " so far")


def _decimal(text: str, field: str) -> Decimal:
    try:
        return parse_decimal(text)
    except ValueError as exc:
        raise InvalidArgument.single(field, str(exc)) from None


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


class _InvoiceCodec:
    """The invoice as the first call answered, for replays of the same request."""

    def encode(self, result: Invoice) -> bytes:
        st = result.settlement
        return json.dumps(
            {
                "id": result.id,
                "customer_id": result.customer_id,
                "subscription_id": result.subscription_id,
                "currency": result.currency,
                "status": result.status.value,
                "billing_reason": result.billing_reason,
                "period_start": result.period_start.isoformat(),
                "period_end": result.period_end.isoformat(),
                "lines": [line_to_dict(line) for line in result.lines],
                "settlement": [
                    st.total_minor,
                    st.credit_applied_minor,
                    st.amount_due_minor,
                    st.credit_balance_after_minor,
                ],
                "rule_set": result.rule_set,
                "created_at": result.created_at.isoformat(),
                "finalized_at": _when(result.finalized_at),
                "version": result.version,
                "number": result.number,
                "memo": result.memo,
                "paid_at": _when(result.paid_at),
                "voided_at": _when(result.voided_at),
                "uncollectible_at": _when(result.uncollectible_at),
                "payment_reference": result.payment_reference,
                "credited_minor": result.credited_minor,
                "due_at": _when(result.due_at),
                "coupon_code": result.coupon_code,
                "paid_minor": result.paid_minor,
            }
        ).encode()

    def decode(self, data: bytes) -> Invoice:
        d = json.loads(data)
        return Invoice(
            id=d["id"],
            customer_id=d["customer_id"],
            subscription_id=d["subscription_id"],
            currency=d["currency"],
            status=InvoiceStatus(d["status"]),
            billing_reason=d["billing_reason"],
            period_start=datetime.fromisoformat(d["period_start"]),
            period_end=datetime.fromisoformat(d["period_end"]),
            lines=tuple(line_from_dict(line) for line in d["lines"]),
            settlement=Settlement(*d["settlement"]),
            rule_set=d["rule_set"],
            created_at=datetime.fromisoformat(d["created_at"]),
            finalized_at=_at(d["finalized_at"]),
            version=d["version"],
            number=d["number"],
            memo=d["memo"],
            paid_at=_at(d["paid_at"]),
            voided_at=_at(d["voided_at"]),
            uncollectible_at=_at(d["uncollectible_at"]),
            payment_reference=d["payment_reference"],
            credited_minor=d["credited_minor"],
            due_at=_at(d.get("due_at")),
            coupon_code=d.get("coupon_code"),
            paid_minor=d.get("paid_minor", 0),
        )


class _CreditNoteCodec:
    def encode(self, result: CreditNote) -> bytes:
        return json.dumps(
            {
                "id": result.id,
                "invoice_id": result.invoice_id,
                "customer_id": result.customer_id,
                "number": result.number,
                "currency": result.amount.currency_code,
                "amount_minor": result.amount.amount_minor,
                "reason": result.reason,
                "applied_to": result.applied_to,
                "created_at": result.created_at.isoformat(),
                "tax_minor": result.tax_minor,
                "taxes": [tax_amount_to_dict(t) for t in result.taxes],
                "to_credit_minor": result.to_credit_minor,
            }
        ).encode()

    def decode(self, data: bytes) -> CreditNote:
        d = json.loads(data)
        return CreditNote(
            d["id"],
            d["invoice_id"],
            d["customer_id"],
            d["number"],
            Money(d["currency"], d["amount_minor"]),
            d["reason"],
            d["applied_to"],
            datetime.fromisoformat(d["created_at"]),
            tax_minor=d.get("tax_minor", 0),
            taxes=tuple(tax_amount_from_dict(t) for t in d.get("taxes", ())),
            to_credit_minor=d.get("to_credit_minor", 0),
        )


INVOICE_CODEC = _InvoiceCodec()
CREDIT_NOTE_CODEC = _CreditNoteCodec()
