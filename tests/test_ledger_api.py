"""LedgerService over the real API on both databases (ADR 0053): trial balance, journal
listing, the hash chain sealed and verified (and a tampered line found), periods closed with
late postings landing as adjustments, and the deferred revenue reports."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from billing.cli import main
from billing.store.ledger import _books_lock_id
from billing_client.v1 import ledger_pb2 as lp
from billing_client.v1 import ledger_pb2_grpc
from billing_fixtures import Billing, ts
from conftest import Database, Tenant, ThreadedServer, server_settings
from grpc_helpers import field_violations
from payments_fixtures import Payments, payment_rules
from test_recognition import ANNUAL, SUPPORT


@pytest.fixture(scope="module")
def ledger_server(backend: str, make_database: Any) -> Iterator[tuple[Database, str]]:
    """A server that seals entries as soon as they are posted (horizon 0)."""
    database = make_database(backend)
    running = ThreadedServer(server_settings(database.async_url, ledger_seal_horizon_seconds=0))
    yield database, f"127.0.0.1:{running.port}"
    running.stop()


@pytest.fixture(scope="module")
def ledger_channel(ledger_server: tuple[Database, str]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(ledger_server[1]) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch


@pytest.fixture
def billing(ledger_channel: grpc.Channel, tenant: Tenant) -> Billing:
    return Billing(ledger_channel, tenant.metadata)


@pytest.fixture
def ledger(ledger_channel: grpc.Channel) -> ledger_pb2_grpc.LedgerServiceStub:
    return ledger_pb2_grpc.LedgerServiceStub(ledger_channel)


def rid() -> str:
    return uuid.uuid4().hex


def sql(database: Database, statement: str, **params: Any) -> None:
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def test_trial_balance_listing_and_the_chain(
    billing: Billing, ledger, ledger_channel, ledger_server, tenant: Tenant, monkeypatch, capsys
) -> None:
    billing.push(payment_rules())
    clock = billing.clock("2026-03-10T00:00:00Z")
    buyer = billing.customer(clock)
    [invoice] = billing.invoices_of(billing.subscribe(buyer, "pro_monthly"))
    Payments(ledger_channel, billing).record(buyer, 7000, [(invoice, 5000)])
    md = tenant.metadata

    balance = ledger.GetTrialBalance(lp.GetTrialBalanceRequest(), metadata=md)
    rows = {r.account: r.balance.amount_minor for r in balance.rows}
    assert rows == {
        "accounts_receivable": 0,
        "cash_clearing:manual": 7000,
        "customer_credit": -2000,
        "deferred_revenue": -5000,
    }
    before = ledger.GetTrialBalance(
        lp.GetTrialBalanceRequest(as_of_time=ts("2026-03-09T00:00:00Z")), metadata=md
    )
    assert list(before.rows) == []

    first = ledger.ListJournalEntries(lp.ListJournalEntriesRequest(page_size=1), metadata=md)
    [entry] = first.entries
    assert (entry.kind, entry.source, entry.period) == (
        "invoice_finalized",
        invoice.name,
        "2026-03",
    )
    rest = ledger.ListJournalEntries(
        lp.ListJournalEntriesRequest(page_size=1, page_token=first.next_page_token), metadata=md
    )
    assert [e.kind for e in rest.entries] == ["payment"] and rest.next_page_token == ""

    verified = ledger.VerifyJournal(lp.VerifyJournalRequest(), metadata=md)
    assert (verified.ok, verified.sealed_count, verified.waiting_count) == (True, 2, 0)
    # Someone edits the payment's line in the database: the chain shows where.
    payment_entry = rest.entries[0].name.removeprefix("journalEntries/")
    sql(ledger_server[0], "UPDATE journal_lines SET debit_minor = 7001 WHERE tenant_id = :t"
        " AND entry_id = :e AND line_no = 0", t=tenant.id, e=payment_entry)  # fmt: skip
    broken = ledger.VerifyJournal(lp.VerifyJournalRequest(), metadata=md)
    assert (broken.ok, broken.first_broken_seq, broken.sealed_count) == (False, 2, 1)
    assert "changed after sealing" in broken.problem
    # The same from the command line, straight on the database.
    monkeypatch.setenv("BILLING_DATABASE_URL", ledger_server[0].async_url)
    monkeypatch.setenv("BILLING_LEDGER_SEAL_HORIZON_SECONDS", "0")
    assert main(["ledger", "verify", "--tenant", tenant.id]) == 1
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (printed["ok"], printed["first_broken_seq"]) == (False, 2)


def test_a_closed_period_takes_late_postings_as_adjustments(
    billing: Billing, ledger, ledger_channel, tenant: Tenant
) -> None:
    billing.push(payment_rules())
    clock = billing.clock("2026-03-10T00:00:00Z")
    buyer = billing.customer(clock)
    [invoice] = billing.invoices_of(billing.subscribe(buyer, "pro_monthly"))
    md = tenant.metadata

    march_end = lp.GetTrialBalanceRequest(as_of_time=ts("2026-03-31T23:59:59Z"))
    closed_balance = ledger.GetTrialBalance(march_end, metadata=md)
    books = ledger.ClosePeriod(
        lp.ClosePeriodRequest(period="2026-03", request_id=rid()), metadata=md
    )
    assert (books.closed_through, books.closed_by) == ("2026-03", "test-user")
    assert ledger.GetBooks(lp.GetBooksRequest(), metadata=md).closed_through == "2026-03"

    # The clock still says March: the payment lands in April, adjusting March.
    payment = Payments(ledger_channel, billing).record(buyer, 5000, [(invoice, 5000)])
    [late] = ledger.ListJournalEntries(
        lp.ListJournalEntriesRequest(source=payment.name), metadata=md
    ).entries
    assert (late.period, late.adjusts) == ("2026-04", "2026-03")
    # Dated at April's first instant: March's figures, read after the close, never move.
    assert late.post_time.ToJsonString() == "2026-04-01T00:00:00Z"
    assert ledger.GetTrialBalance(march_end, metadata=md) == closed_balance
    march = ledger.ListJournalEntries(lp.ListJournalEntriesRequest(period="2026-03"), metadata=md)
    assert [e.kind for e in march.entries] == ["invoice_finalized"]

    with pytest.raises(grpc.RpcError) as raised:
        ledger.ClosePeriod(lp.ClosePeriodRequest(period="2099-01", request_id=rid()), metadata=md)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as raised:
        ledger.ClosePeriod(lp.ClosePeriodRequest(period="2026-3", request_id=rid()), metadata=md)
    assert "period" in field_violations(raised.value)


def test_deferred_revenue_reports(billing: Billing, ledger, tenant: Tenant) -> None:
    billing.push({**payment_rules(), "annual.yaml": ANNUAL, "pricing.yaml": SUPPORT})
    clock = billing.clock("2026-01-01T00:00:00Z")
    billing.subscribe(billing.customer(clock), "annual_365")
    billing.advance(clock, "2026-03-15T00:00:00Z")
    md = tenant.metadata

    roll = ledger.GetDeferredRevenueRollforward(
        lp.GetDeferredRevenueRollforwardRequest(start_period="2026-01", end_period="2026-03"),
        metadata=md,
    )
    figures = [(r.period, r.opening.amount_minor, r.billed.amount_minor,
                r.recognized.amount_minor, r.closing.amount_minor) for r in roll.rows]  # fmt: skip
    assert figures == [
        ("2026-01", 0, 36500, 3100, 33400),
        ("2026-02", 33400, 0, 2800, 30600),
        ("2026-03", 30600, 0, 0, 30600),  # March is posted at its end
    ]
    revenue = ledger.GetRevenueByProduct(
        lp.GetRevenueByProductRequest(start_period="2026-01", end_period="2026-12"), metadata=md
    )
    assert [(r.period, r.product_line, r.revenue.amount_minor) for r in revenue.rows] == [
        ("2026-01", "annual", 3100),
        ("2026-02", "annual", 2800),
    ]
    # The clock is the tenant's simulation, the waterfall reads the real now: what is left
    # (306.00) is all to come, by month from now; it adds up to the deferred balance.
    waterfall = ledger.GetDeferredRevenueWaterfall(
        lp.GetDeferredRevenueWaterfallRequest(months=24), metadata=md
    )
    by_period: dict[str, int] = defaultdict(int)
    for row in waterfall.rows:
        by_period[row.period] += row.amount.amount_minor
    assert sum(by_period.values()) == 30600


def test_a_close_waits_for_a_late_posting_that_read_the_books_open(
    backend: str, billing: Billing, ledger, ledger_server, tenant: Tenant
) -> None:
    """A late posting reads how far the books are closed, then lands; a close between the
    read and its commit would leave it in a closed period. They meet on one lock."""
    if backend != "postgresql":
        pytest.skip("SQLite's writers take its one write lock: a close cannot come between")
    billing.push(payment_rules())
    md = tenant.metadata
    engine = sa.create_engine(ledger_server[0].sync_url)
    try:
        with engine.connect() as posting:
            posting.execute(  # what books._landing takes before it reads the books
                sa.text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": _books_lock_id(tenant.id)}
            )
            closing = ledger.ClosePeriod.future(
                lp.ClosePeriodRequest(period="2026-03", request_id=rid()), metadata=md, timeout=30
            )
            with pytest.raises(grpc.FutureTimeoutError):
                closing.result(timeout=1.0)  # held off while the posting's transaction lives
            posting.commit()
        assert closing.result(timeout=30).closed_through == "2026-03"
    finally:
        engine.dispose()
