"""An invoice's email exactly once as far as SMTP allows (issue 19, ADR 0058), against a real
SMTP server and a real gRPC channel, on both databases: the send is recorded (`sending`, its
Message-ID and Date) and committed before it is made; a failure injected after the send and
before the item's commit (ADR 0006, through RetryDueWork) leaves `sending`, and the retry
sends the very same message again (same Message-ID, Date, recipient and document) so that
receivers drop it, never a second, different email; a delivery that commits sends one."""

from __future__ import annotations

import email
import email.policy
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from billing_client.v1 import customers_pb2, due_work_pb2_grpc, invoices_pb2
from billing_client.v1 import due_work_pb2 as pb
from billing_fixtures import Billing, rules
from conftest import Database, Tenant, ThreadedServer, server_settings
from test_delivery import SENDER, Inbox, Server, start
from test_due_work_admin import FAULT, INJECTED, listed, retry, without_worker


@contextmanager
def mail_server() -> Iterator[Server]:
    mail = start(Inbox())
    try:
        yield next(mail)
    finally:
        mail.close()


def smtp_url(smtp: Server) -> str:
    return f"smtp://127.0.0.1:{smtp.port}?from={SENDER}&starttls=false"


def invoiced(billing: Billing) -> invoices_pb2.Invoice:
    """A customer with an email address and a Pro subscription: its first invoice is
    finalized, and its delivery item due now."""
    billing.push(rules())
    customer = billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Acme", currency_code="USD", email="ap@acme.example"
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )
    [invoice] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))
    return invoice


def messages(smtp: Server) -> list[EmailMessage]:
    parsed = []
    for envelope in smtp.inbox.received:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        parsed.append(message)
    return parsed


def delivery_rows(database: Database, tenant: Tenant) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT invoice_id, message_id, state, sends FROM invoice_deliveries"
                    " WHERE tenant_id = :t"
                ),
                {"t": tenant.id},
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def delivered_events(database: Database, tenant: Tenant) -> list[dict[str, Any]]:
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(sa.column("payload"))
                .select_from(sa.table("outbox_events"))
                .where(
                    sa.column("tenant_id") == tenant.id,
                    sa.column("event_type") == "invoice.delivered",
                )
            )
            return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]
    finally:
        engine.dispose()


def test_a_failure_after_the_send_and_before_the_commit_sends_the_same_message_again(
    backend: str, make_database, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    database = make_database(backend)
    with (
        mail_server() as smtp,
        without_worker(
            database, smtp_url=smtp_url(smtp), templates_dir="rules/templates"
        ) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        billing = Billing(channel, tenant.metadata)
        stub = due_work_pb2_grpc.DueWorkServiceStub(channel)
        invoice = invoiced(billing)
        invoice_id = invoice.name.split("/")[1]
        (item,) = listed(stub, tenant.metadata, kind="deliver_invoice")
        assert smtp.inbox.received == []  # nothing runs it but these calls

        # Sent, then the item's commit fails: the send stays recorded as `sending`.
        failed = retry(stub, tenant.metadata + FAULT, item.name)
        assert (failed.state, failed.attempts, failed.last_error) == (
            pb.DUE_WORK_STATE_FAILING,
            1,
            INJECTED,
        )
        [first] = messages(smtp)
        message_id = f"<invoice.{invoice_id}@example.com>"
        assert first["Message-ID"] == message_id
        assert delivery_rows(database, tenant) == [(invoice_id, message_id, "sending", 1)]
        assert delivered_events(database, tenant) == []

        # The retry finds `sending`: the same message again, and this time it is recorded.
        done = retry(stub, tenant.metadata, item.name)
        assert (done.state, done.attempts) == (pb.DUE_WORK_STATE_DONE, 2)
        first_again, second = messages(smtp)
        assert first_again.as_bytes() == first.as_bytes()
        for header in ("Message-ID", "Date", "From", "To", "Subject"):
            assert second[header] == first[header], header
        [pdf_1] = [a.get_content() for a in first.iter_attachments()]
        [pdf_2] = [a.get_content() for a in second.iter_attachments()]
        assert pdf_2 == pdf_1 and pdf_1.startswith(b"%PDF-")
        assert delivery_rows(database, tenant) == [(invoice_id, message_id, "sent", 2)]
        assert delivered_events(database, tenant) == [
            {"to": "ap@acme.example", "message_id": message_id, "sends": 2}
        ]

        # Done is final: no operator's retry sends a third.
        with pytest.raises(grpc.RpcError) as again:
            retry(stub, tenant.metadata, item.name)
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert len(smtp.inbox.received) == 2


def test_a_delivery_that_commits_sends_exactly_one_email(
    backend: str, make_database, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    database = make_database(backend)
    with mail_server() as smtp:
        running = ThreadedServer(  # with its own worker: delivery as in production
            server_settings(
                database.async_url,
                smtp_url=smtp_url(smtp),
                templates_dir="rules/templates",
                due_work_retry_base_ms=10,
            )
        )
        try:
            with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                billing = Billing(channel, tenant.metadata)
                stub = due_work_pb2_grpc.DueWorkServiceStub(channel)
                invoice_id = invoiced(billing).name.split("/")[1]
                message_id = f"<invoice.{invoice_id}@example.com>"
                sent = [(invoice_id, message_id, "sent", 1)]
                deadline = time.monotonic() + 20
                while delivery_rows(database, tenant) != sent:
                    assert time.monotonic() < deadline, delivery_rows(database, tenant)
                    time.sleep(0.1)
                time.sleep(1.5)  # a second send, were there one, would be in by now
                [message] = messages(smtp)
                assert (message["Message-ID"], message["To"]) == (message_id, "ap@acme.example")
                assert delivery_rows(database, tenant) == sent
                assert listed(stub, tenant.metadata, kind="deliver_invoice") == []
        finally:
            running.stop()
