"""A finalized invoice is emailed, PDF attached, as due work after the finalizing commit."""

from __future__ import annotations

import io
import time

import grpc
from pypdf import PdfReader

from billing_client.v1 import customers_pb2
from billing_fixtures import Billing, rules
from conftest import ThreadedServer, auth, make_token, server_settings
from test_delivery import SENDER, Inbox, start


def test_the_creation_invoice_arrives_by_email_with_its_pdf(make_database):
    mail = start(Inbox())
    smtp = next(mail)
    database = make_database("sqlite")
    settings = server_settings(
        database.async_url,
        smtp_url=f"smtp://127.0.0.1:{smtp.port}?from={SENDER}&starttls=false",
        templates_dir="rules/templates",
    )
    running = ThreadedServer(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            billing = Billing(channel, auth(make_token("t_mail")))
            billing.push(rules())
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
            deadline = time.monotonic() + 20
            while not smtp.inbox.received and time.monotonic() < deadline:
                time.sleep(0.1)
            message = smtp.message()
            assert message["To"] == "ap@acme.example"
            assert invoice.number in message["Subject"]
            [attachment] = list(message.iter_attachments())
            pdf = attachment.get_content()
            text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
            assert invoice.number in text
            assert "Pro" in text
            assert "50.00" in text
    finally:
        running.stop()
        mail.close()
