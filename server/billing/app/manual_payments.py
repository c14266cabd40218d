"""RecordPayment (ADR 0034): money received outside a gateway (bank transfer, check, cash),
applied to the named invoices (each at most what it still owes) or, without names, to the
customer's oldest open invoices first; the rest goes to the credit balance. One transaction
with its events and audit record. Raises InvalidArgument, NotFound."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from billing.app.audit_records import audit_of
from billing.app.billing_time import BillingTime
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.payment_application import apply_payment, still_owed
from billing.app.ports import Store, Transaction
from billing.app.writes import WriteRunner
from billing.domain.errors import InvalidArgument, NotFound, Violations
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.limits import PAGE_SIZE_MAX
from billing.domain.money import Money
from billing.domain.names import parse_name
from billing.domain.payment_allocation import oldest_first, to_credit
from billing.domain.payments import Allocation, Payment, PaymentSource
from billing.domain.postings import MANUAL_CLEARING
from billing.domain.text import check_text

METHODS = frozenset({"bank_transfer", "check", "cash", "other"})
REFERENCE_MAX = 256


@dataclass(frozen=True)
class ManualPayment:
    customer: str
    amount: Money
    method: str
    reference: str
    allocations: tuple[tuple[str, Money], ...]  # (invoice name, amount)
    received_at: datetime | None


class ManualPayments:
    def __init__(self, store: Store, writes: WriteRunner, time: BillingTime) -> None:
        self._store = store
        self._writes = writes
        self._time = time

    async def record(self, ctx: CallContext, write: Write[ManualPayment]) -> Payment:
        request = write.input
        customer_id = parse_name(request.customer, "customers", "customer")
        named = _check(request)

        async def work(tx: Transaction, now: datetime) -> Payment:
            customer = await tx.customers.get(ctx.tenant_id, customer_id)
            if customer is None:
                raise NotFound(request.customer)
            currency = customer.fields.currency_code
            if request.amount.currency_code != currency:
                raise InvalidArgument.single("amount.currency_code", f"must be {currency}")
            at = request.received_at or await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            invoices: dict[str, Invoice] = {}
            if named:
                allocations = await self._named(tx, ctx.tenant_id, customer_id, named, invoices)
            else:
                allocations = await self._oldest(tx, ctx.tenant_id, customer_id, request, invoices)
            payment = Payment(
                id=new_id("pmt"),
                customer_id=customer_id,
                amount_minor=request.amount.amount_minor,
                currency=currency,
                source=PaymentSource.MANUAL,
                received_at=at,
                allocations=allocations,
                to_credit_minor=to_credit(request.amount.amount_minor, allocations),
                reference=request.reference,
                method=request.method,
            )
            await apply_payment(tx, ctx.tenant_id, payment, invoices, at, clearing=MANUAL_CLEARING)
            await tx.audit.add(
                audit_of(
                    ctx,
                    write,
                    payment.name,
                    "record",
                    {
                        "amount_minor": payment.amount_minor,
                        "currency": currency,
                        "method": payment.method,
                        "reference": payment.reference,
                        "allocations": {a.invoice_id: a.amount_minor for a in allocations},
                        "to_credit_minor": payment.to_credit_minor,
                    },
                    now,
                )
            )
            return payment

        return await self._writes.run(ctx, write, PAYMENT_CODEC, work)

    async def _named(
        self,
        tx: Transaction,
        tenant_id: str,
        customer_id: str,
        named: list[tuple[int, str, str, Money]],
        invoices: dict[str, Invoice],
    ) -> tuple[Allocation, ...]:
        allocations = []
        for index, name, invoice_id, amount in sorted(named, key=lambda n: n[2]):
            field = f"allocations[{index}]"
            invoice = await tx.invoices.get(tenant_id, invoice_id, lock=True)
            if invoice is None or invoice.customer_id != customer_id:
                raise NotFound(name)
            if amount.currency_code != invoice.currency:
                raise InvalidArgument.single(
                    f"{field}.amount.currency_code", f"must be {invoice.currency}"
                )
            owed = still_owed(invoice)
            if amount.amount_minor > owed:
                raise InvalidArgument.single(
                    f"{field}.amount",
                    f"{name} still owes {Money(invoice.currency, owed)}; at most that",
                )
            invoices[invoice.id] = invoice
            allocations.append(Allocation(invoice.id, amount.amount_minor))
        return tuple(allocations)

    async def _oldest(
        self,
        tx: Transaction,
        tenant_id: str,
        customer_id: str,
        request: ManualPayment,
        invoices: dict[str, Invoice],
    ) -> tuple[Allocation, ...]:
        """The customer's open invoices in the payment's currency, oldest (id order) first,
        locked as far as the money goes."""
        owed: list[tuple[str, int]] = []
        left = request.amount.amount_minor
        after: str | None = None
        while left > 0:
            page = await tx.invoices.list_after(tenant_id, customer_id, None, after, PAGE_SIZE_MAX)
            for candidate in page:
                if left <= 0:
                    break
                if (
                    candidate.status is not InvoiceStatus.OPEN
                    or candidate.currency != request.amount.currency_code
                ):
                    continue
                invoice = await tx.invoices.get(tenant_id, candidate.id, lock=True)
                if invoice is None or still_owed(invoice) <= 0:
                    continue
                invoices[invoice.id] = invoice
                owed.append((invoice.id, still_owed(invoice)))
                left -= still_owed(invoice)
            if len(page) < PAGE_SIZE_MAX:
                break
            after = page[-1].id
        return oldest_first(request.amount.amount_minor, owed)


def _check(request: ManualPayment) -> list[tuple[int, str, str, Money]]:
    v = Violations()
    if request.amount.amount_minor <= 0:
        v.add("amount.amount_minor", "must be positive")
    if request.method not in METHODS:
        v.add("method", "must be bank_transfer, check, cash or other")
    if not request.reference.strip():
        v.add("reference", "is required")
    check_text("reference", request.reference, REFERENCE_MAX)
    named: list[tuple[int, str, str, Money]] = []
    seen: set[str] = set()
    total = 0
    for index, (name, amount) in enumerate(request.allocations):
        field = f"allocations[{index}]"
        try:
            invoice_id = parse_name(name, "invoices", f"{field}.invoice")
        except InvalidArgument as exc:
            for violation in exc.violations:
                v.add(violation.field, violation.description)
            continue
        if invoice_id in seen:
            v.add(f"{field}.invoice", f"{name} is named twice")
        seen.add(invoice_id)
        if amount.amount_minor <= 0:
            v.add(f"{field}.amount.amount_minor", "must be positive")
        if amount.currency_code != request.amount.currency_code:
            v.add(f"{field}.amount.currency_code", "must be the payment's currency")
        total += amount.amount_minor
        named.append((index, name, invoice_id, amount))
    if total > request.amount.amount_minor > 0:
        v.add("allocations", "add up to more than the amount received")
    v.raise_if_any()
    return named


class _PaymentCodec:
    def encode(self, result: Payment) -> bytes:
        return json.dumps(payment_to_dict(result)).encode()

    def decode(self, data: bytes) -> Payment:
        return payment_from_dict(json.loads(data))


def payment_to_dict(p: Payment) -> dict[str, object]:
    return {
        "id": p.id,
        "customer_id": p.customer_id,
        "amount_minor": p.amount_minor,
        "currency": p.currency,
        "source": p.source.value,
        "received_at": p.received_at.isoformat(),
        "allocations": [[a.invoice_id, a.amount_minor] for a in p.allocations],
        "to_credit_minor": p.to_credit_minor,
        "attempt_id": p.attempt_id,
        "reference": p.reference,
        "method": p.method,
        "refunded_minor": p.refunded_minor,
        "disputed_minor": p.disputed_minor,
    }


def payment_from_dict(d: dict[str, object]) -> Payment:
    allocations = d["allocations"]
    assert isinstance(allocations, list)
    return Payment(
        id=str(d["id"]),
        customer_id=str(d["customer_id"]),
        amount_minor=int(d["amount_minor"]),  # type: ignore[call-overload]
        currency=str(d["currency"]),
        source=PaymentSource(str(d["source"])),
        received_at=datetime.fromisoformat(str(d["received_at"])),
        allocations=tuple(Allocation(str(i), int(a)) for i, a in allocations),
        to_credit_minor=int(d["to_credit_minor"]),  # type: ignore[call-overload]
        attempt_id=d["attempt_id"] if isinstance(d["attempt_id"], str) else None,
        reference=str(d["reference"]),
        method=str(d["method"]),
        refunded_minor=int(d["refunded_minor"]),  # type: ignore[call-overload]
        disputed_minor=int(d["disputed_minor"]),  # type: ignore[call-overload]
    )


PAYMENT_CODEC = _PaymentCodec()
