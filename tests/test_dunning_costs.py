"""What dunning adds to the payment paths (ADR 0043), counted on a server of the test's own
on both backends: a PayInvoice that fails adds nothing (its caller is told; no item, no
read), one that pays its invoice adds one indexed read of `dunning_cases` (the recovery
check), and so does an automatic collection that succeeds; one that fails schedules the
`dunning_attempt_failed` item."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from sqlalchemy import event
from sqlalchemy.engine import Engine

from billing.store.schema import due_work
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing
from conftest import Database, ThreadedServer
from dunning_walk import (
    SHIPPED_DUNNING,
    START,
    Tables,
    account,
    dunning_rules,
    fresh_tenant,
    own_server,
    served,
)
from payments_fixtures import SEND_INVOICE, Payments, payment_rules

DUNNING_KINDS = ("dunning_attempt_failed", "dunning_step", "send_dunning_notice")


@contextmanager
def naming(server: ThreadedServer, table: str) -> Iterator[list[str]]:
    """The statements naming `table` that the server's engines (calls and due work) send
    meanwhile (reads are never batched: each is a statement of its own)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        if table in text:
            seen.append(" ".join(text.split()))

    engines: list[Engine] = [server.runtime.engine.sync_engine]
    if server.runtime.due_engine is not server.runtime.engine:
        engines.append(server.runtime.due_engine.sync_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)


def dunning_items(tables: Tables) -> list[str]:
    """Kinds of the tenant's dunning due items, in the order of DUNNING_KINDS."""
    d = due_work
    return [
        row["kind"]
        for kind in DUNNING_KINDS
        for row in tables._rows(
            d.select().where(d.c.tenant_id == tables.tenant_id, d.c.kind == kind)
        )
    ]


def test_pay_invoice_adds_nothing_when_it_fails_and_one_indexed_read_when_it_pays(
    backend: str, make_database
) -> None:  # type: ignore[no-untyped-def]
    database: Database = make_database(backend)
    tenant = fresh_tenant()
    with (
        own_server(database) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        billing = Billing(channel, tenant.metadata)
        files = payment_rules(SEND_INVOICE)  # nothing collected at finalization
        files["dunning.yaml"] = SHIPPED_DUNNING
        billing.push(files)
        payments = Payments(channel, billing)
        tables = Tables(served(server, backend, database), tenant.id)
        acct = account(billing, payments, billing.clock(START.isoformat()), "tok_visa")
        declining = payments.attach(acct.customer, "tok_insufficient_funds")

        with naming(server, "dunning_") as failing:
            attempt = payments.pay(acct.invoice, declining)
        assert (attempt.status, attempt.decline_code) == (pp.FAILED, "insufficient_funds")
        assert failing == []
        assert dunning_items(tables) == []

        with naming(server, "dunning_") as paying:
            attempt = payments.pay(acct.invoice)
        assert attempt.status == pp.SUCCEEDED
        [read] = paying
        assert read.startswith("SELECT") and "FROM dunning_cases" in read
        assert "dunning_cases.invoice_id" in read  # by the unique (tenant, invoice) key
        assert dunning_items(tables) == []
        assert tables.case(acct.invoice_id) is None


def test_automatic_collection_adds_one_indexed_read_when_it_succeeds(
    backend: str, make_database
) -> None:  # type: ignore[no-untyped-def]
    database: Database = make_database(backend)
    tenant = fresh_tenant()
    with (
        own_server(database) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        billing = Billing(channel, tenant.metadata)
        billing.push(dunning_rules())
        payments = Payments(channel, billing)
        tables = Tables(served(server, backend, database), tenant.id)
        clock = billing.clock(START.isoformat())
        with naming(server, "dunning_") as collecting:
            paid = account(billing, payments, clock, "tok_visa")
            billing.advance(clock, START.isoformat())
        assert payments.invoice(paid.invoice).status == ip.PAID
        [read] = collecting
        assert read.startswith("SELECT") and "dunning_cases.invoice_id" in read
        assert dunning_items(tables) == []

        with naming(server, "dunning_"):
            declined = account(billing, payments, clock, "tok_insufficient_funds")
            billing.advance(clock, START.isoformat())
        assert dunning_items(tables).count("dunning_attempt_failed") == 1
        assert tables.case(declined.invoice_id) is not None
