"""What a batch of renewals reads once and writes once for all its items (app/due_batch.py):
whether its customers have a payment method (one SELECT for the batch, each invoice still
collected or reported as missing a method exactly as alone) and its tax ledger rows (one
INSERT for the batch, each invoice's tax booked exactly)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import grpc
import pytest
import sqlalchemy as sa
from google.type import postal_address_pb2
from sqlalchemy import event

from billing.store.schema import clocks
from billing_client.v1 import customers_pb2
from billing_fixtures import Billing, rules
from conftest import Tenant, auth, make_token
from payments_fixtures import Payments
from test_due_batch import RENEWAL, _sync, run_round, running

# Tax on in Washington (flat 10%) for basic_monthly's product; collection automatic.
TAX = """\
kind: tax
policy: {enabled: true, rounding: line, default_tax_code: saas}
seller:
  name: Bench Inc.
  country: US
  subdivision: WA
  registrations:
    - {jurisdiction: US-WA, number: "600000000", valid_from: 2020-01-01}
tax_codes:
  - {code: saas, description: Software as a service}
jurisdictions:
  - code: US-WA
    name: Washington
    engine: flat_rate
    tax_name: sales tax
    rates: [{name: standard, percent: 10, effective_from: 2020-01-01, source: "RCW 82.08"}]
    tax_codes: {saas: standard}
"""
MID_JANUARY = datetime(2026, 1, 15, tzinfo=UTC)
WITH_METHOD = 2
WITHOUT_METHOD = 3


def _customer(billing: Billing, clock_name: str) -> customers_pb2.Customer:
    return billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Acme",
                currency_code="USD",
                time_zone="UTC",
                clock=clock_name,
                billing_address=postal_address_pb2.PostalAddress(
                    region_code="US", administrative_area="WA", postal_code="98101"
                ),
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )


@pytest.fixture
def fresh_tenant() -> Tenant:
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    return Tenant(tenant_id, auth(make_token(tenant_id)))


@contextmanager
def statements(server, table: str) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The statements naming `table` the due-work engine sends meanwhile (batched writes
    included: on PostgreSQL they travel as driver SQL too)."""
    seen: list[str] = []

    def before(conn, cursor, text, params, context, executemany):  # type: ignore[no-untyped-def]
        if table in text:
            seen.append(text)

    engine = server.runtime.due_engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_a_batch_reads_payment_methods_once_and_books_tax_in_one_insert(  # type: ignore[no-untyped-def]
    backend, make_database, fresh_tenant: Tenant
):
    database = make_database(backend)
    with running(database) as server, grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        billing = Billing(channel, fresh_tenant.metadata)
        files = rules()
        files["invoicing.yaml"] = b"kind: invoicing\ntime_zone: utc\n"
        files["tax.yaml"] = TAX.encode()
        billing.push(files)
        clock = billing.clock("2026-01-01T00:00:00Z")
        payments = Payments(channel, billing)
        customers = [_customer(billing, clock.name) for _ in range(5)]
        for customer in customers[:WITH_METHOD]:
            payments.attach(customer)
        subs = [billing.subscribe(c, "basic_monthly").name for c in customers]
        while run_round(server, fresh_tenant):
            pass  # the first invoices' collections
        engine = sa.create_engine(_sync(server))
        # The first charges' reconciliations first, so the round at the renewal is the
        # renewals' batch alone.
        for now in (MID_JANUARY, RENEWAL):
            with engine.begin() as conn:
                conn.execute(
                    sa.update(clocks).where(clocks.c.tenant_id == fresh_tenant.id).values(now=now)
                )
            while now != RENEWAL and run_round(server, fresh_tenant):
                pass
        with (
            statements(server, "payment_methods") as methods,
            statements(server, "INSERT INTO tax_ledger") as ledger,
        ):
            # the renewals, and the first invoices' January earned at its end, one batch
            assert run_round(server, fresh_tenant) == 2 * len(subs)
        assert len(methods) == 1  # the batch asked once for its five customers
        assert len(ledger) == 1  # five invoices' ledger rows in one statement
        with engine.connect() as conn:
            renewals = conn.execute(
                sa.text(
                    "SELECT i.id, i.customer_id, i.total_minor FROM invoices i"
                    " WHERE i.tenant_id = :t AND i.billing_reason = 'subscription_cycle'"
                ),
                {"t": fresh_tenant.id},
            ).all()
            booked = conn.execute(
                sa.text(
                    "SELECT source_id, jurisdiction, percent, taxable_minor, tax_minor"
                    " FROM tax_ledger WHERE tenant_id = :t AND source_kind = 'invoice'"
                ),
                {"t": fresh_tenant.id},
            ).all()
            collect = conn.execute(
                sa.text(
                    "SELECT subscription_id FROM due_work"
                    " WHERE tenant_id = :t AND kind = 'collect_invoice'"
                ),
                {"t": fresh_tenant.id},
            ).all()
            missing = conn.execute(
                sa.text(
                    "SELECT resource_name FROM outbox_events"
                    " WHERE tenant_id = :t AND event_type = 'invoice.payment_method_missing'"
                ),
                {"t": fresh_tenant.id},
            ).all()
        engine.dispose()
    assert len(renewals) == len(subs)
    by_id = {row.id: row for row in renewals}
    # basic_monthly is 30.00 USD; 10% of it on top, booked once per renewal invoice.
    renewal_rows = sorted(
        (row.jurisdiction, row.percent, row.taxable_minor, row.tax_minor)
        for row in booked
        if row.source_id in by_id
    )
    assert renewal_rows == [("US-WA", "10", 3000, 300)] * len(subs)
    assert all(row.total_minor == 3300 for row in renewals)
    # Collected where a method is attached, said missing elsewhere: first invoices and renewals.
    with_method = {c.name.split("/")[1] for c in customers[:WITH_METHOD]}
    renewal_collect = {row.subscription_id for row in collect} & set(by_id)
    assert {by_id[i].customer_id for i in renewal_collect} == with_method
    renewal_missing = {row.resource_name.split("/")[1] for row in missing} & set(by_id)
    assert {by_id[i].customer_id for i in renewal_missing} == {
        c.name.split("/")[1] for c in customers[WITH_METHOD:]
    }
