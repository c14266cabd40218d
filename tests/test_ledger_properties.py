"""The books after a random sequence of business events (issue 17), on both databases, through
the real API with the sandbox gateway: invoices, gateway and manual payments (short, exact and
over), refunds (standalone and of a credit note's credit), credit notes, disputes opened, won
and lost, write-offs, recoveries, invoices marked paid, voids.

Afterwards the trial balance is zero, accounts receivable equals what open invoices still
owe, bad debt equals what written-off invoices still owe, the journal's customer credit equals
the stored balances, and every entry read back from the store balances, and the hash chain sealed over them verifies. A seeded generator: the CI run is small; set BILLING_PROPERTY_EVENTS
(say 10000) for the full run, and BILLING_PROPERTY_SEED to replay one.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
import pytest
import sqlalchemy as sa

from billing.app.clock import SystemClock
from billing.app.ledger import JournalChain, Verification
from billing.domain.ledger import JournalEntry, check_balanced
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from billing_client.v1 import subscriptions_pb2
from conftest import Tenant, auth, make_token
from refund_fixtures import Payments, PaymentsServer, payments_channel, payments_server, rid, usd

__all__ = ["payments_channel", "payments_server"]  # the fixtures, re-exported for pytest

EVENTS = int(os.environ.get("BILLING_PROPERTY_EVENTS", "120"))
SEED = int(os.environ.get("BILLING_PROPERTY_SEED", "20261206"))
REFUSALS = {
    grpc.StatusCode.FAILED_PRECONDITION,  # e.g. a void whose credit was spent
    grpc.StatusCode.INVALID_ARGUMENT,  # e.g. nothing left to refund
    grpc.StatusCode.ABORTED,
}


@dataclass
class World:
    payments: Payments
    rng: random.Random
    customers: list[str] = field(default_factory=list)
    methods: dict[str, str] = field(default_factory=dict)
    invoices: list[str] = field(default_factory=list)
    gateway_payments: list[tuple[str, str]] = field(default_factory=list)  # (payment, reference)
    all_payments: list[str] = field(default_factory=list)
    open_disputes: list[tuple[str, str]] = field(default_factory=list)  # (id, charge)
    done: Counter[str] = field(default_factory=Counter)

    # --- events ---------------------------------------------------------------------------

    def invoice(self) -> None:
        p = self.payments
        if len(self.customers) < 4:
            customer = p.customer(p.the_clock)
            self.customers.append(customer.name)
        name = self.rng.choice(self.customers)
        sub = p.subs.CreateSubscription(_subscribe(name), metadata=p.metadata)
        self.invoices += [i.name for i in p.invoices_of(sub)]

    def pay_by_card(self) -> None:
        p = self.payments
        invoice = self._invoice({"OPEN", "UNCOLLECTIBLE"}, owing=True)
        if invoice is None:
            return
        method = self.methods.get(invoice.customer)
        if method is None:
            method = p.payments.AttachPaymentMethod(
                pp.AttachPaymentMethodRequest(
                    customer=invoice.customer, gateway="sandbox", token="tok_visa",
                    type=pp.CARD, set_default=True, request_id=rid(),
                ),
                metadata=p.metadata,
            ).name  # fmt: skip
            self.methods[invoice.customer] = method
        attempt = p.payments.PayInvoice(
            pp.PayInvoiceRequest(invoice=invoice.name, payment_method=method, request_id=rid()),
            metadata=p.metadata,
        )
        if attempt.payment:
            self.gateway_payments.append((attempt.payment, attempt.gateway_reference))
            self.all_payments.append(attempt.payment)

    def pay_by_hand(self) -> None:
        p = self.payments
        invoice = self._invoice({"OPEN", "UNCOLLECTIBLE"}, owing=True)
        if invoice is None:
            return
        owed = invoice.amount_due.amount_minor - invoice.amount_paid.amount_minor
        share = self.rng.randint(1, owed)
        extra = self.rng.choice([0, 0, self.rng.randint(1, 3000)])  # sometimes an overpayment
        payment = p.payments.RecordPayment(
            pp.RecordPaymentRequest(
                customer=invoice.customer, amount=usd(share + extra), method="bank_transfer",
                reference="wire", request_id=rid(),
                allocations=[pp.PaymentAllocation(invoice=invoice.name, amount=usd(share))],
            ),
            metadata=p.metadata,
        )  # fmt: skip
        self.all_payments.append(payment.name)

    def credit_note(self) -> None:
        invoice = self._invoice({"OPEN", "PAID", "UNCOLLECTIBLE"})
        if invoice is None:
            return
        room = invoice.total.amount_minor - invoice.credited.amount_minor
        if room <= 0:
            return
        note = self.payments.credit_note(invoice, self.rng.randint(1, room))
        if note.applied_to == "credit_balance" and self.rng.random() < 0.5:
            self._refund_note(invoice, note)

    def _refund_note(self, invoice: ip.Invoice, note: ip.CreditNote) -> None:
        p = self.payments
        payments = p.payments_of(invoice)
        if payments:
            p.refund(payments[0], credit_note=note.name)  # its credit, paid out

    def refund(self) -> None:
        if not self.all_payments:
            return
        payment = self.payments.payment(self.rng.choice(self.all_payments))
        left = payment.amount.amount_minor - payment.refunded.amount_minor
        if left > 0:
            self.payments.refund(payment, self.rng.randint(1, left))

    def dispute(self) -> None:
        if not self.gateway_payments:
            return
        _, reference = self.rng.choice(self.gateway_payments)
        dispute_id = f"du_{rid()}"
        self.payments.webhook("dispute.opened", reference=reference, dispute_id=dispute_id)
        self.open_disputes.append((dispute_id, reference))

    def close_dispute(self) -> None:
        if not self.open_disputes:
            return
        dispute_id, reference = self.open_disputes.pop(self.rng.randrange(len(self.open_disputes)))
        kind = self.rng.choice(["dispute.won", "dispute.lost"])
        fee = 1500 if kind == "dispute.lost" else 0
        self.payments.webhook(kind, reference=reference, dispute_id=dispute_id, fee_minor=fee)

    def write_off(self) -> None:
        invoice = self._invoice({"OPEN"})
        if invoice is not None:
            self.payments.invoices.MarkUncollectible(
                ip.MarkUncollectibleRequest(name=invoice.name, request_id=rid()),
                metadata=self.payments.metadata,
            )

    def mark_paid(self) -> None:
        invoice = self._invoice({"OPEN", "UNCOLLECTIBLE"})
        if invoice is not None:
            self.payments.invoices.MarkPaid(
                ip.MarkPaidRequest(
                    name=invoice.name, payment_reference="cheque 7", request_id=rid()
                ),
                metadata=self.payments.metadata,
            )

    def void(self) -> None:
        invoice = self._invoice({"OPEN", "UNCOLLECTIBLE"})
        if invoice is not None and invoice.amount_paid.amount_minor == 0:
            self.payments.invoices.VoidInvoice(
                ip.VoidInvoiceRequest(name=invoice.name, request_id=rid()),
                metadata=self.payments.metadata,
            )

    def _invoice(self, statuses: set[str], owing: bool = False) -> ip.Invoice | None:
        for _ in range(6):
            if not self.invoices:
                return None
            invoice = self.payments.invoice(self.rng.choice(self.invoices))
            owed = invoice.amount_due.amount_minor - invoice.amount_paid.amount_minor
            if ip.InvoiceStatus.Name(invoice.status) in statuses and (owed > 0 or not owing):
                return invoice
        return None


def _subscribe(customer: str) -> subscriptions_pb2.CreateSubscriptionRequest:
    return subscriptions_pb2.CreateSubscriptionRequest(
        customer=customer, plan="plans/pro_monthly", request_id=rid()
    )


WEIGHTS = {
    "invoice": 5, "pay_by_card": 3, "pay_by_hand": 3, "credit_note": 2, "refund": 2,
    "dispute": 1, "close_dispute": 1, "write_off": 1, "mark_paid": 1, "void": 1,
}  # fmt: skip


@pytest.fixture
def long_lived_tenant(tenant: Tenant) -> Tenant:
    """The tenant with a token that outlives the run: 10,000 events take longer than the
    default token's 10 minutes on a loaded machine (up to half a second an event)."""
    lifetime = max(600, EVENTS // 2)
    return Tenant(tenant.id, auth(make_token(tenant.id, lifetime_s=lifetime)))


@pytest.fixture
def payments(
    payments_channel: grpc.Channel, long_lived_tenant: Tenant, payments_server: PaymentsServer
):  # type: ignore[no-untyped-def]
    return Payments(payments_channel, long_lived_tenant, payments_server)


def test_the_books_balance_after_random_business_events(
    payments: Payments, payments_server: PaymentsServer, tenant: Tenant
) -> None:
    world = World(payments, random.Random(SEED))
    kinds, weights = zip(*WEIGHTS.items(), strict=True)
    for _ in range(3):
        world.invoice()
    for _ in range(EVENTS):
        kind = world.rng.choices(kinds, weights)[0]
        try:
            getattr(world, kind)()
            world.done[kind] += 1
        except grpc.RpcError as error:
            if error.code() not in REFUSALS:
                raise
            world.done[f"refused {kind}"] += 1

    books = _balances(payments_server, tenant.id)
    owed = _owed(payments_server, tenant.id)
    print(f"seed {SEED}, {EVENTS} events: {dict(world.done)}; balances {dict(books)}")
    assert sum(books.values()) == 0, "the trial balance is not zero"
    assert books.get("accounts_receivable", 0) == owed["open"]
    assert books.get("bad_debt", 0) == owed["uncollectible"]
    assert -books.get("customer_credit", 0) == _stored_credit(payments_server, tenant.id)
    assert world.done["invoice"] > 0 and world.done["pay_by_hand"] > 0
    posted = _stored_entries_balance(payments_server, tenant.id)
    assert posted >= world.done["invoice"]
    verified = _verify_chain(payments_server, tenant.id)
    assert (verified.ok, verified.sealed, verified.waiting) == (True, posted, 0)


def _rows(server: PaymentsServer, query: str, tenant_id: str) -> list[sa.Row]:  # type: ignore[type-arg]
    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(query), {"t": tenant_id}))
    finally:
        engine.dispose()


def _balances(server: PaymentsServer, tenant_id: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    query = "SELECT account, debit_minor, credit_minor FROM journal_lines WHERE tenant_id = :t"
    for account, debit, credit in _rows(server, query, tenant_id):
        out[account] += int(debit) - int(credit)
    return {a: v for a, v in out.items() if v}


def _owed(server: PaymentsServer, tenant_id: str) -> dict[str, int]:
    query = (
        "SELECT status, amount_due_minor, COALESCE(paid_minor, 0) FROM invoices"
        " WHERE tenant_id = :t"
    )
    out: dict[str, int] = defaultdict(int)
    for status, due, paid in _rows(server, query, tenant_id):
        out[status] += max(int(due) - int(paid), 0)
    return out


def _stored_credit(server: PaymentsServer, tenant_id: str) -> int:
    query = "SELECT balance_minor FROM customer_credit WHERE tenant_id = :t"
    return sum(int(row[0]) for row in _rows(server, query, tenant_id))


def _stored_entries_balance(server: PaymentsServer, tenant_id: str) -> int:
    """Every entry read back from the store balances on its own; how many there are."""

    async def read() -> list[JournalEntry]:
        engine = create_engine(server.database.async_url)
        try:
            async with SqlStore(engine).read() as tx:
                return list(await tx.journal.entries(tenant_id, limit=1_000_000))
        finally:
            await engine.dispose()

    entries = asyncio.run(read())
    check_balanced(entries)
    return len(entries)


def _verify_chain(server: PaymentsServer, tenant_id: str) -> Verification:
    """Seal everything (horizon 0: the test's writes have all committed) and verify."""

    async def run() -> Verification:
        engine = create_engine(server.database.async_url)
        try:
            chain = JournalChain(SqlStore(engine), SystemClock(), timedelta(0))
            return await chain.verify(tenant_id)
        finally:
            await engine.dispose()

    return asyncio.run(run())
