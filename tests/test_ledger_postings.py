"""The journal entries every money event writes (ADR 0052), on both databases, through the
public API: exact lines per entry, the books balanced, receivables equal to what invoices
still owe and the journal's customer credit equal to the stored balances."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.ledger_rules import FxRate, LedgerRules, rate_on, to_reporting
from billing.domain.payments import Dispute, DisputeStatus
from billing.domain.postings import dispute_moved, invoice_finalized
from billing.domain.subscriptions import LineKind, Settlement, exact_line
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import money_pb2
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing
from conftest import Server, Tenant
from payments_fixtures import Payments, credit_balance, payment_rules, rid, table
from test_tax_invoices_api import customer as eu_customer
from test_tax_invoices_api import tax_rules

AT = datetime(2026, 3, 1, tzinfo=UTC)

Lines = list[tuple[str, int, int]]  # (account, debit, credit)


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


def journal(server: Server, tenant: Tenant, source: str | None = None) -> list[tuple[str, Lines]]:
    """(kind, lines) per entry in posting order, of one source or of all."""
    entries = {row["id"]: row for row in table(server, "journal_entries", tenant.id)}
    by_entry: dict[str, Lines] = defaultdict(list)
    for row in sorted(table(server, "journal_lines", tenant.id), key=_line_order):
        by_entry[row["entry_id"]].append(
            (row["account"], int(row["debit_minor"]), int(row["credit_minor"]))
        )
    return [
        (entries[entry_id]["kind"], lines)
        for entry_id, lines in sorted(by_entry.items())
        if source is None or entries[entry_id]["source"] == source
    ]


def _line_order(row: Any) -> tuple[str, int]:
    return (row["entry_id"], int(row["line_no"]))


def balances(server: Server, tenant: Tenant) -> dict[str, int]:
    """Signed balance per account (debit positive), zero balances dropped."""
    out: dict[str, int] = defaultdict(int)
    for _, lines in journal(server, tenant):
        for account, debit, credit in lines:
            out[account] += debit - credit
    return {account: amount for account, amount in out.items() if amount}


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="USD", amount_minor=minor)


def eur(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="EUR", amount_minor=minor)


def test_a_taxed_invoice_its_credit_note_write_off_and_recovery(
    billing: Billing, channel, server: Server, tenant: Tenant
) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    buyer = eu_customer(billing, "DE", clock)
    sub = billing.subscribe(buyer, "app_monthly")
    (invoice,) = billing.invoices_of(sub)
    assert invoice.total.amount_minor == 11900

    assert journal(server, tenant, invoice.name) == [
        (
            "invoice_finalized",
            [("accounts_receivable", 11900, 0), ("deferred_revenue", 0, 10000),
             ("tax_payable:DE", 0, 1900)],
        )
    ]  # fmt: skip

    note = billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=invoice.name, amount=eur(2380), reason="goodwill", request_id=rid()
        ),
        metadata=billing.metadata,
    )
    assert journal(server, tenant, note.name) == [
        (
            "credit_note",
            [("contra_revenue", 2000, 0), ("tax_payable:DE", 380, 0),
             ("accounts_receivable", 0, 2380)],
        )
    ]  # fmt: skip

    billing.invoices.MarkUncollectible(
        ip.MarkUncollectibleRequest(name=invoice.name, request_id=rid()),
        metadata=billing.metadata,
    )
    assert journal(server, tenant, invoice.name)[1] == (
        "write_off",
        [("bad_debt", 9520, 0), ("accounts_receivable", 0, 9520)],
    )

    payments = Payments(channel, billing)
    payment = payments.stub.RecordPayment(
        pp.RecordPaymentRequest(
            customer=buyer.name,
            amount=eur(3000),
            method="bank_transfer",
            reference="late wire",
            allocations=[pp.PaymentAllocation(invoice=invoice.name, amount=eur(3000))],
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    assert journal(server, tenant, invoice.name)[2] == (
        "write_off_recovered",
        [("accounts_receivable", 3000, 0), ("bad_debt", 0, 3000)],
    )
    assert journal(server, tenant, payment.name) == [
        ("payment", [("cash_clearing:manual", 3000, 0), ("accounts_receivable", 0, 3000)])
    ]
    assert balances(server, tenant) == {
        "deferred_revenue": -10000,
        "tax_payable:DE": -1520,
        "contra_revenue": 2000,
        "bad_debt": 6520,
        "cash_clearing:manual": 3000,
    }


def test_payments_overpayment_refunds_and_void_keep_the_books_with_the_balances(
    billing: Billing, channel, server: Server, tenant: Tenant
) -> None:
    billing.push(payment_rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    buyer = billing.customer(clock)
    payments = Payments(channel, billing)
    first = billing.invoices_of(billing.subscribe(buyer, "pro_monthly"))[0]
    assert first.total.amount_minor == 5000

    # 70.00 received: 50.00 pays the invoice, 20.00 becomes customer credit.
    payment = payments.record(buyer, 7000, [(first, 5000)])
    assert journal(server, tenant, payment.name) == [
        (
            "payment",
            [("cash_clearing:manual", 7000, 0), ("accounts_receivable", 0, 5000),
             ("customer_credit", 0, 2000)],
        )
    ]  # fmt: skip

    # The next invoice uses the 20.00 credit; voided, it gives the credit back.
    second = billing.invoices_of(billing.subscribe(buyer, "pro_monthly"))[0]
    assert (second.credit_applied.amount_minor, second.amount_due.amount_minor) == (2000, 3000)
    assert journal(server, tenant, second.name)[0][1] == [
        ("accounts_receivable", 3000, 0),
        ("customer_credit", 2000, 0),
        ("deferred_revenue", 0, 5000),
    ]
    assert credit_balance(server, tenant.id, buyer) == 0
    billing.invoices.VoidInvoice(
        ip.VoidInvoiceRequest(name=second.name, request_id=rid()), metadata=billing.metadata
    )
    assert journal(server, tenant, second.name)[1] == (
        "invoice_voided",
        [("deferred_revenue", 5000, 0), ("accounts_receivable", 0, 3000),
         ("customer_credit", 0, 2000)],
    )  # fmt: skip
    assert credit_balance(server, tenant.id, buyer) == 2000

    # A standalone refund of a manual payment is contra revenue paid out by hand.
    refund = payments.stub.CreateRefund(
        pp.CreateRefundRequest(
            payment=payment.name, amount=usd(1000), reason="goodwill", request_id=rid()
        ),
        metadata=billing.metadata,
    )
    assert journal(server, tenant, refund.name) == [
        ("refund", [("contra_revenue", 1000, 0), ("cash_clearing:manual", 0, 1000)])
    ]

    books = balances(server, tenant)
    assert sum(books.values()) == 0
    assert books.get("accounts_receivable", 0) == 0  # the only open invoice is paid
    assert -books["customer_credit"] == credit_balance(server, tenant.id, buyer) == 2000
    assert books == {
        "deferred_revenue": -5000,
        "cash_clearing:manual": 6000,
        "customer_credit": -2000,
        "contra_revenue": 1000,
    }


# --- pure postings --------------------------------------------------------------------------


def _invoice(status: InvoiceStatus = InvoiceStatus.OPEN) -> Invoice:
    period = (AT, AT)
    fee = exact_line("Pro", 5000, "USD", period, LineKind.RECURRING, {})
    rounding = exact_line("Rounding", -3, "USD", period, LineKind.ROUNDING, {})
    return Invoice(
        id="inv_1",
        customer_id="cus_1",
        subscription_id=None,
        currency="USD",
        status=status,
        billing_reason="manual",
        period_start=AT,
        period_end=AT,
        lines=(fee, rounding),
        settlement=Settlement(4997, 997, 4000, 0),
        rule_set="r",
        created_at=AT,
        finalized_at=AT,
    )


def test_cash_rounding_and_credit_applied_balance_the_invoice_entry() -> None:
    (posting,) = invoice_finalized(_invoice())
    assert posting.amounts == (
        ("accounts_receivable", 4000),
        ("customer_credit", 997),
        ("deferred_revenue", -5000),
        ("rounding", 3),
    )


@pytest.mark.parametrize(
    ("before", "status", "expected"),
    [
        (None, DisputeStatus.OPEN, ("dispute_opened", (("disputed_funds", 900), ("cash_clearing:stripe", -900)))),
        (DisputeStatus.OPEN, DisputeStatus.WON, ("dispute_won", (("cash_clearing:stripe", 900), ("disputed_funds", -900)))),
        (DisputeStatus.OPEN, DisputeStatus.LOST, ("dispute_lost", (("dispute_losses", 2400), ("disputed_funds", -900), ("cash_clearing:stripe", -1500)))),
        (None, DisputeStatus.LOST, ("dispute_lost", (("dispute_losses", 2400), ("cash_clearing:stripe", -2400)))),
        (None, DisputeStatus.WON, None),
    ],
)  # fmt: skip
def test_disputes_hold_return_or_lose_the_money(
    before: DisputeStatus | None, status: DisputeStatus, expected: tuple[str, object] | None
) -> None:
    dispute = Dispute(
        id="dp_1", payment_id="pmt_1", attempt_id="pa_1", customer_id="cus_1",
        gateway="stripe", gateway_dispute_id="du_1", amount_minor=900,
        fee_minor=1500 if status is DisputeStatus.LOST else 0, currency="USD", status=status,
        reason="fraudulent", opened_at=AT, updated_at=AT,
    )  # fmt: skip
    postings = dispute_moved(dispute, before)
    assert [(p.kind.value, p.amounts) for p in postings] == ([expected] if expected else [])


def test_reporting_amounts_balance_by_largest_remainder() -> None:
    rules = LedgerRules(
        reporting_currency="EUR",
        fx_rates=(
            FxRate("USD", Decimal("0.9"), AT.date()),
            FxRate("USD", Decimal("0.8333"), datetime(2026, 6, 1).date()),
        ),
    )
    assert rate_on(rules, "USD", datetime(2026, 5, 31).date()) == Decimal("0.9")
    rate = rate_on(rules, "USD", datetime(2026, 6, 1).date())
    assert rate == Decimal("0.8333")
    # 100.01 = 33.34 + 33.34 + 33.33: each credit alone rounds to 27.78 (sum 83.34), the
    # debit to 83.34; the credits are given the debit's total exactly.
    converted = to_reporting([10001, -3334, -3334, -3333], rate, 0)
    assert converted[0] == 8334 and sum(converted) == 0
    assert to_reporting([100, -100], Decimal(150), -2) == [150, -150]  # USD -> JPY


def test_entries_carry_reporting_amounts_at_the_days_rate(
    billing: Billing, server: Server, tenant: Tenant
) -> None:
    ledger = (
        b"kind: ledger\nreporting_currency: EUR\nfx_rates:\n"
        b"  - {currency: USD, rate: 0.92, effective_from: 2026-01-01}\n"
        b"  - {currency: USD, rate: 0.9184, effective_from: 2026-06-01}\n"
    )
    billing.push({**payment_rules(), "ledger.yaml": ledger})
    clock = billing.clock("2026-06-01T00:00:00Z")
    (invoice,) = billing.invoices_of(billing.subscribe(billing.customer(clock), "pro_monthly"))
    rows = [
        (row["account"], row["reporting_debit_minor"], row["reporting_credit_minor"])
        for row in table(server, "journal_lines", tenant.id)
    ]
    assert rows == [("accounts_receivable", 4592, 0), ("deferred_revenue", 0, 4592)]
    (entry,) = table(server, "journal_entries", tenant.id)
    assert (entry["source"], entry["reporting_currency"], entry["period"]) == (
        invoice.name,
        "EUR",
        "2026-06",
    )
