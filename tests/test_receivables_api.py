"""AR aging and the journal export over the real API (ADR 0052), on both databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import grpc
import pytest

from billing.domain.aging import Owed, age, bucket_of
from billing_client.v1 import receivables_pb2 as rp
from billing_client.v1 import receivables_pb2_grpc
from billing_fixtures import Billing, ts
from conftest import Tenant
from grpc_helpers import field_violations
from payments_fixtures import Payments, payment_rules

LEDGER = b"""\
kind: ledger
chart:
  - {ledger_account: accounts_receivable, code: "1200", name: Trade debtors}
  - {ledger_account: deferred_revenue, code: "2400", name: Deferred revenue}
"""


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


@pytest.fixture
def receivables(channel) -> receivables_pb2_grpc.ReceivablesServiceStub:  # type: ignore[no-untyped-def]
    return receivables_pb2_grpc.ReceivablesServiceStub(channel)


def test_days_past_due_fall_in_their_buckets() -> None:
    due = datetime(2026, 1, 1, tzinfo=UTC)
    seen = [bucket_of(due, datetime(2026, m, d, h, tzinfo=UTC)) for m, d, h in [
        (1, 1, 0), (1, 1, 1), (1, 31, 0), (1, 31, 1), (3, 2, 0), (4, 1, 0), (4, 2, 0)]]  # fmt: skip
    assert seen == [0, 1, 1, 2, 2, 3, 4]
    rows = age(
        [
            Owed("cus_a", "inv_1", "USD", due, 500),
            Owed("cus_a", "inv_2", "USD", datetime(2026, 3, 1, tzinfo=UTC), 700),
            Owed("cus_a", "inv_3", "EUR", due, 100),
        ],
        datetime(2026, 2, 15, tzinfo=UTC),
    )
    assert [(r.customer_id, r.currency, r.buckets, r.invoices) for r in rows] == [
        ("cus_a", "USD", (700, 0, 500, 0, 0), 2),
        ("cus_a", "EUR", (0, 0, 100, 0, 0), 1),
    ]


def test_aging_and_export_through_the_api(
    billing: Billing, channel, receivables, tenant: Tenant
) -> None:
    billing.push({**payment_rules(), "ledger.yaml": LEDGER})  # send_invoice, net 30 days
    clock = billing.clock("2026-04-01T00:00:00Z")
    late, paid = billing.customer(clock), billing.customer(clock)
    [owed] = billing.invoices_of(billing.subscribe(late, "pro_monthly"))
    [settled] = billing.invoices_of(billing.subscribe(paid, "pro_monthly"))
    Payments(channel, billing).record(paid, 5000, [(settled, 5000)])

    aging = receivables.GetArAging(
        rp.GetArAgingRequest(as_of_time=ts("2026-06-15T00:00:00Z")), metadata=tenant.metadata
    )
    # Due 2026-05-01 (net 30): 45 days late on 2026-06-15; the paid customer owes nothing.
    [row] = aging.rows
    assert (row.customer, row.days_31_60.amount_minor, row.total.amount_minor) == (
        late.name,
        5000,
        5000,
    )
    assert (row.current.amount_minor, row.invoice_count, aging.next_page_token) == (0, 1, "")

    chunks = receivables.ExportJournal(
        rp.ExportJournalRequest(period="2026-04"), metadata=tenant.metadata
    )
    table = list(csv.DictReader(io.StringIO(b"".join(c.csv for c in chunks).decode())))
    mine = [(r["source"], r["ledger_account"], r["gl_code"], r["debit"], r["credit"])
            for r in table if r["source"] == owed.name]  # fmt: skip
    assert mine == [
        (owed.name, "accounts_receivable", "1200", "50.00", "0.00"),
        (owed.name, "deferred_revenue", "2400", "0.00", "50.00"),
    ]
    assert {r["kind"] for r in table} == {"invoice_finalized", "payment"}
    empty = receivables.ExportJournal(
        rp.ExportJournalRequest(period="2026-05"), metadata=tenant.metadata
    )
    assert b"".join(c.csv for c in empty).decode().count("\r\n") == 1  # the header only


def test_bad_requests_name_the_field(receivables, tenant: Tenant) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        list(
            receivables.ExportJournal(
                rp.ExportJournalRequest(period="2026-13"), metadata=tenant.metadata
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "period" in field_violations(raised.value)
    with pytest.raises(grpc.RpcError) as raised:
        receivables.GetArAging(rp.GetArAgingRequest(currency_code="XYZ"), metadata=tenant.metadata)
    assert field_violations(raised.value).keys() == {"currency_code"}
