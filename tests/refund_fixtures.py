"""A server with the sandbox gateway keeping its ledger in a file (so a test can read what it
really charged and refunded), and shortcuts for paying, refunding and sending the sandbox's
signed webhooks through the real gRPC API. Rows nothing in the API shows (the credit balance,
outbox events) are read from the database directly."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from billing_builtin.sandbox import ledger as sandbox_ledger
from billing_builtin.sandbox import webhooks as sandbox_webhooks
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import money_pb2, payments_pb2_grpc
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing, rules
from conftest import Database, Tenant, ThreadedServer, server_settings


@dataclass
class PaymentsServer:
    database: Database
    target: str
    ledger: str  # the sandbox's ledger file


@pytest.fixture(scope="module")
def payments_server(
    backend: str, make_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PaymentsServer]:
    database = make_database(backend)
    ledger = str(tmp_path_factory.mktemp("sandbox") / "ledger.db")
    running = ThreadedServer(
        server_settings(database.async_url, gateway_endpoints=f"sandbox={ledger}")
    )
    yield PaymentsServer(database, f"127.0.0.1:{running.port}", ledger)
    running.stop()


@pytest.fixture(scope="module")
def payments_channel(payments_server: PaymentsServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(payments_server.target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch


def rid() -> str:
    return uuid.uuid4().hex


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="USD", amount_minor=minor)


def payment_rules() -> dict[str, bytes]:
    """The subscription scenarios' rules, invoices sent (not charged at finalization): each
    test charges with PayInvoice itself."""
    files = rules()
    files["invoicing.yaml"] += b"collection_method: send_invoice\n"
    return files


class Payments(Billing):
    def __init__(self, channel: grpc.Channel, tenant: Tenant, server: PaymentsServer) -> None:
        super().__init__(channel, tenant.metadata)
        self.tenant_id = tenant.id
        self.server = server
        self.payments = payments_pb2_grpc.PaymentServiceStub(channel)
        self.push(payment_rules())
        self.the_clock = self.clock("2026-04-01T00:00:00Z")

    # --- money in -----------------------------------------------------------------------

    def paid_invoice(self, token: str = "tok_visa") -> tuple[ip.Invoice, pp.PaymentAttempt]:
        """A 50.00 invoice charged through a method with `token`: (invoice, attempt)."""
        customer = self.customer(self.the_clock)
        [invoice] = self.invoices_of(self.subscribe(customer, "pro_monthly"))
        method = self.payments.AttachPaymentMethod(
            pp.AttachPaymentMethodRequest(
                customer=customer.name,
                gateway="sandbox",
                token=token,
                type=pp.CARD,
                set_default=True,
                request_id=rid(),
            ),
            metadata=self.metadata,
        )
        attempt = self.payments.PayInvoice(
            pp.PayInvoiceRequest(
                invoice=invoice.name, payment_method=method.name, request_id=rid()
            ),
            metadata=self.metadata,
        )
        return self.invoice(invoice.name), attempt

    def payment_of(self, invoice: ip.Invoice) -> pp.Payment:
        [payment] = self.payments_of(invoice)
        return payment

    def payments_of(self, invoice: ip.Invoice) -> list[pp.Payment]:
        return list(
            self.payments.ListPayments(
                pp.ListPaymentsRequest(invoice=invoice.name, page_size=100), metadata=self.metadata
            ).payments
        )

    def payment(self, name: str) -> pp.Payment:
        return self.payments.GetPayment(pp.GetPaymentRequest(name=name), metadata=self.metadata)

    def invoice(self, name: str) -> ip.Invoice:
        return self.invoices.GetInvoice(ip.GetInvoiceRequest(name=name), metadata=self.metadata)

    def attempt(self, name: str) -> pp.PaymentAttempt:
        return self.payments.GetPaymentAttempt(
            pp.GetPaymentAttemptRequest(name=name), metadata=self.metadata
        )

    def credit_note(self, invoice: ip.Invoice, minor: int) -> ip.CreditNote:
        return self.invoices.CreateCreditNote(
            ip.CreateCreditNoteRequest(
                invoice=invoice.name, amount=usd(minor), reason="returned", request_id=rid()
            ),
            metadata=self.metadata,
        )

    # --- money out ----------------------------------------------------------------------

    def refund(
        self,
        payment: pp.Payment,
        minor: int | None = None,
        *,
        credit_note: str = "",
        reason: str = "customer asked",
        request_id: str = "",
    ) -> pp.Refund:
        request = pp.CreateRefundRequest(
            payment=payment.name,
            reason=reason,
            credit_note=credit_note,
            request_id=request_id or rid(),
        )
        if minor is not None:
            request.amount.CopyFrom(usd(minor))
        return self.payments.CreateRefund(request, metadata=self.metadata)

    def get_refund(self, name: str) -> pp.Refund:
        return self.payments.GetRefund(pp.GetRefundRequest(name=name), metadata=self.metadata)

    # --- webhooks -----------------------------------------------------------------------

    def webhook(
        self, kind: str, *, secret: str = sandbox_webhooks.DEFAULT_SECRET, **data: Any
    ) -> pp.HandleGatewayEventResponse:
        body = sandbox_webhooks.build(kind, **data)
        return self.deliver(body, sandbox_webhooks.signed_headers(body, secret))

    def deliver(self, body: bytes, headers: dict[str, str]) -> pp.HandleGatewayEventResponse:
        return self.payments.HandleGatewayEvent(
            pp.HandleGatewayEventRequest(gateway="sandbox", headers=headers, payload=body),
            metadata=self.metadata,
        )

    def attempt_key(self, attempt: pp.PaymentAttempt) -> str:
        return f"billing-{self.tenant_id}-{attempt.name.split('/')[1]}"

    # --- rows the API does not show -----------------------------------------------------

    def _rows(self, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.server.database.sync_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(query), {"t": self.tenant_id, **params}))
        finally:
            engine.dispose()

    def credit_balance(self, customer: str) -> int:
        rows = self._rows(
            "SELECT balance_minor FROM customer_credit WHERE tenant_id = :t"
            " AND customer_id = :c AND currency = 'USD'",
            c=customer.split("/")[1],
        )
        return int(rows[0][0]) if rows else 0

    def events(self, resource: str) -> list[tuple[str, dict[str, Any]]]:
        """(type, payload) of the outbox events about `resource`, in order."""
        rows = self._rows(
            "SELECT event_type, payload FROM outbox_events WHERE tenant_id = :t"
            " AND resource_name = :r"
            " ORDER BY id",
            r=resource,
        )
        return [(row[0], _json(row[1])) for row in rows]

    def ledger_refunds(self) -> list[sandbox_ledger.Entry]:
        return sandbox_ledger.refunds(self.server.ledger)

    def ledger_charges(self, attempt: pp.PaymentAttempt) -> list[sandbox_ledger.Entry]:
        key = self.attempt_key(attempt)
        return [e for e in sandbox_ledger.charges(self.server.ledger) if e.idempotency_key == key]


def _json(value: Any) -> dict[str, Any]:
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)


def refunds_of_charge(entries: list[sandbox_ledger.Entry], charge: str) -> list[int]:
    return [e.moved_minor for e in entries if e.target == charge]
