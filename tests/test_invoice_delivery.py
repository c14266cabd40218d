"""A finalized invoice is emailed, PDF attached, as due work after the finalizing commit;
the invoicing rules say whether invoices are emailed and whether the PDF explains its lines.
On both backends: each test runs its own server on a fresh database of the `backend`."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import sqlalchemy as sa
from pypdf import PdfReader

from billing_client.v1 import customers_pb2
from billing_fixtures import Billing, rules
from conftest import Database, ThreadedServer, auth, make_token, server_settings
from test_delivery import SENDER, Inbox, Server, free_port, start


@contextmanager
def billing_with_mail(
    database: Database, invoicing_extra: str = ""
) -> Iterator[tuple[Billing, Server, str]]:
    """A server emailing through a local SMTP server; a Pro subscription's creation invoice
    has been finalized. Yields the tenant's stubs, the inbox and the invoice number."""
    mail = start(Inbox())
    smtp = next(mail)
    settings = server_settings(
        database.async_url,
        smtp_url=f"smtp://127.0.0.1:{smtp.port}?from={SENDER}&starttls=false",
        templates_dir="rules/templates",
    )
    running = ThreadedServer(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            billing = Billing(channel, auth(make_token("t_mail")))
            files = rules()
            files["invoicing.yaml"] += invoicing_extra.encode()
            billing.push(files)
            clock = billing.clock("2026-04-01T00:00:00Z")
            customer = billing.customers.CreateCustomer(
                customers_pb2.CreateCustomerRequest(
                    customer=customers_pb2.Customer(
                        display_name="Acme",
                        currency_code="USD",
                        email="ap@acme.example",
                        clock=clock.name,
                    ),
                    request_id="c1",
                ),
                metadata=billing.metadata,
            )
            sub = billing.subscribe(customer, "pro_monthly")
            [invoice] = billing.invoices_of(sub)
            yield billing, smtp, invoice.number
    finally:
        running.stop()
        mail.close()


def _pdf_text(smtp: Server) -> str:
    deadline = time.monotonic() + 20
    while not smtp.inbox.received and time.monotonic() < deadline:
        time.sleep(0.1)
    [attachment] = list(smtp.message().iter_attachments())
    pdf = attachment.get_content()
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_creation_invoice_arrives_by_email_with_its_pdf(make_database, backend):
    with billing_with_mail(make_database(backend)) as (_, smtp, number):
        text = _pdf_text(smtp)
        message = smtp.message()
        assert message["To"] == "ap@acme.example"
        assert number in message["Subject"]
        assert number in text
        assert "Pro" in text
        assert "50.00" in text
        assert "How each line was calculated" not in text  # explanations are off by default


def test_the_emailed_pdf_explains_its_lines_when_the_rule_says_so(make_database, backend):
    extra = "document:\n  show_explanations: true\n"
    with billing_with_mail(make_database(backend), extra) as (_, smtp, number):
        text = _pdf_text(smtp)
        assert number in text
        assert "How each line was calculated" in text
        assert "Rounded half up to 0.01" in text


def test_no_delivery_is_scheduled_when_invoices_are_not_emailed(make_database, backend):
    database = make_database(backend)
    with billing_with_mail(database, "email_invoices: false\n") as (_, smtp, number):
        assert number.startswith("INV-2026-")
        engine = sa.create_engine(database.sync_url)
        with engine.connect() as conn:
            kinds = conn.execute(sa.text("SELECT kind FROM due_work")).scalars().all()
        engine.dispose()
        assert "deliver_invoice" not in kinds
        assert "renew" in kinds  # the subscription's own work is there
        assert not smtp.inbox.received


def test_a_late_delivery_renders_the_rules_the_invoice_was_finalized_under(make_database, backend):
    """SMTP is down when the invoice is finalized; by the retry the seller in the rules has
    changed: the document still shows the seller of the invoice's own rule version."""
    port = free_port()
    settings = server_settings(
        make_database(backend).async_url,
        smtp_url=f"smtp://127.0.0.1:{port}?from={SENDER}&starttls=false",
        templates_dir="rules/templates",
    )
    running = ThreadedServer(settings)
    mail = None
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            billing = Billing(channel, auth(make_token("t_mail")))
            files = rules()
            invoicing = files["invoicing.yaml"]
            files["invoicing.yaml"] = invoicing + b"seller: {name: First Seller Ltd}\n"
            billing.push(files)
            customer = billing.customers.CreateCustomer(
                customers_pb2.CreateCustomerRequest(
                    customer=customers_pb2.Customer(
                        display_name="Acme", currency_code="USD", email="ap@acme.example"
                    ),
                    request_id="c1",
                ),
                metadata=billing.metadata,
            )
            [invoice] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))
            files["invoicing.yaml"] = invoicing + b"seller: {name: Second Seller Ltd}\n"
            billing.push(files)
            mail = start(Inbox(), port=port)  # up now: the retry (after 1 s) gets through
            smtp = next(mail)
            text = _pdf_text(smtp)
            assert invoice.number in text
            assert "First Seller Ltd" in text
            assert "Second Seller Ltd" not in text
    finally:
        running.stop()
        if mail is not None:
            mail.close()
