"""Values the database cannot store (longer than the column, NUL in text) are refused with
INVALID_ARGUMENT naming the field, before anything is written, on both databases alike.
Found by the fuzz suite: PostgreSQL answered INTERNAL, SQLite stored them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import grpc
import pytest

from billing_client.v1 import (
    clocks_pb2,
    customers_pb2,
    invoices_pb2,
    invoices_pb2_grpc,
    money_pb2,
    usage_pb2,
    usage_pb2_grpc,
)
from billing_fixtures import Billing, ts
from grpc_helpers import field_violations
from test_usage_api import usage_rules

NUL = "must not contain NUL characters"  # the edge (api/edge.py) refuses it first


def rid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def world(channel, tenant):  # type: ignore[no-untyped-def]
    b = Billing(channel, tenant.metadata)
    b.push(usage_rules())
    return b, invoices_pb2_grpc.InvoiceServiceStub(channel), b.customer()


def _draft(invoices, md, customer) -> str:  # type: ignore[no-untyped-def]
    return invoices.CreateInvoice(
        invoices_pb2.CreateInvoiceRequest(customer=customer.name, request_id=rid()), metadata=md
    ).name


def _open(invoices, md, customer) -> str:  # type: ignore[no-untyped-def]
    draft = _draft(invoices, md, customer)
    invoices.AddInvoiceLine(
        invoices_pb2.AddInvoiceLineRequest(
            invoice=draft, description="x", quantity="1", unit_amount="10.00", request_id=rid()
        ),
        metadata=md,
    )
    return invoices.FinalizeInvoice(
        invoices_pb2.FinalizeInvoiceRequest(name=draft, request_id=rid()), metadata=md
    ).name


def _line(description: str) -> Callable[..., object]:
    def call(b, invoices, customer):  # type: ignore[no-untyped-def]
        return invoices.AddInvoiceLine(
            invoices_pb2.AddInvoiceLineRequest(
                invoice=_draft(invoices, b.metadata, customer),
                description=description,
                unit_amount="1.00",
                request_id=rid(),
            ),
            metadata=b.metadata,
        )

    return call


def _paid(reference: str) -> Callable[..., object]:
    def call(b, invoices, customer):  # type: ignore[no-untyped-def]
        return invoices.MarkPaid(
            invoices_pb2.MarkPaidRequest(
                name=_open(invoices, b.metadata, customer),
                payment_reference=reference,
                request_id=rid(),
            ),
            metadata=b.metadata,
        )

    return call


def _credit(reason: str) -> Callable[..., object]:
    def call(b, invoices, customer):  # type: ignore[no-untyped-def]
        return invoices.CreateCreditNote(
            invoices_pb2.CreateCreditNoteRequest(
                invoice=_open(invoices, b.metadata, customer),
                amount=money_pb2.Money(currency_code="USD", amount_minor=1),
                reason=reason,
                request_id=rid(),
            ),
            metadata=b.metadata,
        )

    return call


def _memo(memo: str) -> Callable[..., object]:
    def call(b, invoices, customer):  # type: ignore[no-untyped-def]
        return invoices.CreateInvoice(
            invoices_pb2.CreateInvoiceRequest(customer=customer.name, memo=memo, request_id=rid()),
            metadata=b.metadata,
        )

    return call


def _update_memo(memo: str) -> Callable[..., object]:
    def call(b, invoices, customer):  # type: ignore[no-untyped-def]
        return invoices.UpdateInvoice(
            invoices_pb2.UpdateInvoiceRequest(
                invoice=invoices_pb2.Invoice(
                    name=_draft(invoices, b.metadata, customer), memo=memo
                ),
                update_mask={"paths": ["memo"]},
                request_id=rid(),
            ),
            metadata=b.metadata,
        )

    return call


def _customer(request_id: str | None = None, **fields: object) -> Callable[..., object]:
    def call(b, invoices, customer):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {"display_name": "Acme", "currency_code": "USD", **fields}
        return b.customers.CreateCustomer(
            customers_pb2.CreateCustomerRequest(
                customer=customers_pb2.Customer(**values), request_id=request_id or rid()
            ),
            metadata=b.metadata,
        )

    return call


def _clock(display_name: str) -> Callable[..., object]:
    def call(b, invoices, customer):  # type: ignore[no-untyped-def]
        return b.clocks.CreateClock(
            clocks_pb2.CreateClockRequest(
                clock=clocks_pb2.Clock(now=ts("2026-01-01T00:00:00Z"), display_name=display_name),
                request_id=rid(),
            ),
            metadata=b.metadata,
        )

    return call


CASES = {
    "line description too long": (
        _line("x" * 513),
        "description",
        "must be at most 512 characters (got 513)",
    ),
    "line description NUL": (_line("a\x00b"), "description", NUL),
    "payment reference too long": (
        _paid("r" * 257),
        "payment_reference",
        "must be at most 256 characters (got 257)",
    ),
    "payment reference NUL": (_paid("ch\x00"), "payment_reference", NUL),
    "credit note reason too long": (
        _credit("r" * 257),
        "reason",
        "must be at most 256 characters (got 257)",
    ),
    "credit note reason NUL": (_credit("r\x00"), "reason", NUL),
    "invoice memo NUL": (_memo("\x00"), "memo", NUL),
    "draft memo update NUL": (_update_memo("a\x00"), "invoice.memo", NUL),
    "customer name NUL": (_customer(display_name="Ac\x00me"), "customer.display_name", NUL),
    "customer metadata NUL": (
        _customer(metadata={"k\x00": "v"}),
        'customer.metadata["k\\0"]',
        "key must not contain NUL characters",
    ),
    "customer address NUL": (
        _customer(billing_address={"address_lines": ["1\x00"]}),
        "customer.billing_address.address_lines[0]",
        NUL,
    ),
    "request_id NUL": (_customer(request_id="r\x00"), "request_id", NUL),
    "clock name too long": (
        _clock("x" * 257),
        "clock.display_name",
        "must be at most 256 characters (got 257)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_value_the_column_cannot_hold_is_invalid_argument(world, case) -> None:  # type: ignore[no-untyped-def]
    b, invoices, customer = world
    call, field, description = CASES[case]
    with pytest.raises(grpc.RpcError) as refused:
        call(b, invoices, customer)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    assert field_violations(refused.value) == {field: description}


def test_usage_events_with_nul_are_refused_naming_each_event(channel, tenant) -> None:  # type: ignore[no-untyped-def]
    b = Billing(channel, tenant.metadata)
    b.push(usage_rules())
    customer = b.customer()
    sub = b.subscribe(customer, "metered_monthly")
    at = ts(datetime.now(UTC).isoformat())
    events = [
        usage_pb2.UsageEvent(id="ok-1", subscription=sub.name, metric="api_calls", timestamp=at),
        usage_pb2.UsageEvent(id="bad\x00", subscription=sub.name, metric="api_calls", timestamp=at),
        usage_pb2.UsageEvent(
            id="bad-2",
            subscription=sub.name,
            metric="data_gb",
            timestamp=at,
            properties={"gb": "1\x00"},
        ),
    ]
    with pytest.raises(grpc.RpcError) as refused:
        usage_pb2_grpc.UsageServiceStub(channel).IngestUsage(
            usage_pb2.IngestUsageRequest(events=events), metadata=tenant.metadata
        )
    # The edge refuses the request, naming each event; the intake's own per-event check
    # (app/usage_intake.py) stands behind it for anything the edge lets through.
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == {
        "events[1].id": NUL,
        'events[2].properties["gb"]': NUL,
    }


@pytest.mark.parametrize(
    ("sql", "detail"),
    [
        ("INSERT INTO t (v) VALUES ('toolong')", "value too long for type character varying(3)"),
        ("SELECT 9223372036854775807::bigint + 1", "bigint out of range"),
    ],
)
def test_the_store_names_a_value_postgresql_refuses(sql: str, detail: str) -> None:
    """The last line of defence: a value no use case checked, refused by PostgreSQL, is
    ValueDoesNotFit (INVALID_ARGUMENT), not INTERNAL."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from billing.store.sql_store import _does_not_fit
    from conftest import PG_ADMIN_DSN, _pg_available

    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    with psycopg.connect(PG_ADMIN_DSN) as conn:
        conn.execute("CREATE TEMP TABLE t (v varchar(3), n bigint)")
        with pytest.raises(psycopg.DataError) as refused:
            conn.execute(sql)
        conn.rollback()
        with pytest.raises(psycopg.DataError) as nul:
            conn.execute("SELECT %s::text", ("a\x00",))
    assert _does_not_fit(DBAPIError.instance(sql, None, refused.value, psycopg.Error)) == detail
    assert _does_not_fit(DBAPIError.instance("", None, nul.value, psycopg.Error)) == (
        "text must not contain NUL characters"
    )
