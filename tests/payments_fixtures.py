"""Shortcuts for payment scenarios over a real gRPC channel (ADR 0034)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import sqlalchemy as sa

from billing_client.v1 import customers_pb2, invoices_pb2, money_pb2, payments_pb2_grpc
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing, rules
from conftest import Server

# send_invoice: nothing is collected at finalization, so a test charges when it says so.
SEND_INVOICE = "kind: invoicing\ntime_zone: utc\ncollection_method: send_invoice\n"


def rid() -> str:
    return uuid.uuid4().hex


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="USD", amount_minor=minor)


def payment_rules(invoicing: str = SEND_INVOICE) -> dict[str, bytes]:
    files = rules()
    files["invoicing.yaml"] = invoicing.encode()
    return files


class Payments:
    def __init__(self, channel: grpc.Channel, billing: Billing) -> None:
        self.billing = billing
        self.metadata = billing.metadata
        self.stub = payments_pb2_grpc.PaymentServiceStub(channel)

    def attach(
        self, customer: customers_pb2.Customer, token: str = "tok_visa", **fields: Any
    ) -> pp.PaymentMethod:
        return self.stub.AttachPaymentMethod(
            pp.AttachPaymentMethodRequest(
                customer=customer.name,
                gateway=fields.pop("gateway", "sandbox"),
                token=token,
                type=fields.pop("type", pp.CARD),
                brand=fields.pop("brand", "visa"),
                last4=fields.pop("last4", "4242"),
                exp_month=12,
                exp_year=2030,
                country=fields.pop("country", "US"),
                billing_country="US",
                request_id=fields.pop("request_id", rid()),
                **fields,
            ),
            metadata=self.metadata,
        )

    def pay(
        self,
        invoice: invoices_pb2.Invoice,
        method: pp.PaymentMethod | None = None,
        amount: int | None = None,
        request_id: str | None = None,
    ) -> pp.PaymentAttempt:
        request = pp.PayInvoiceRequest(
            invoice=invoice.name,
            payment_method=method.name if method is not None else "",
            request_id=request_id or rid(),
        )
        if amount is not None:
            request.amount.CopyFrom(usd(amount))
        return self.stub.PayInvoice(request, metadata=self.metadata, timeout=30)

    def attempt(self, attempt: pp.PaymentAttempt) -> pp.PaymentAttempt:
        return self.stub.GetPaymentAttempt(
            pp.GetPaymentAttemptRequest(name=attempt.name), metadata=self.metadata
        )

    def attempts_of(self, invoice: invoices_pb2.Invoice) -> list[pp.PaymentAttempt]:
        return list(
            self.stub.ListPaymentAttempts(
                pp.ListPaymentAttemptsRequest(invoice=invoice.name), metadata=self.metadata
            ).payment_attempts
        )

    def payments_of(self, invoice: invoices_pb2.Invoice) -> list[pp.Payment]:
        return list(
            self.stub.ListPayments(
                pp.ListPaymentsRequest(invoice=invoice.name), metadata=self.metadata
            ).payments
        )

    def invoice(self, invoice: invoices_pb2.Invoice) -> invoices_pb2.Invoice:
        return self.billing.invoices.GetInvoice(
            invoices_pb2.GetInvoiceRequest(name=invoice.name), metadata=self.metadata
        )

    def record(
        self,
        customer: customers_pb2.Customer,
        amount: int,
        allocations: list[tuple[invoices_pb2.Invoice, int]] = (),  # type: ignore[assignment]
        request_id: str | None = None,
    ) -> pp.Payment:
        return self.stub.RecordPayment(
            pp.RecordPaymentRequest(
                customer=customer.name,
                amount=usd(amount),
                method="bank_transfer",
                reference="wire-2026-001",
                allocations=[
                    pp.PaymentAllocation(invoice=i.name, amount=usd(a)) for i, a in allocations
                ],
                request_id=request_id or rid(),
            ),
            metadata=self.metadata,
        )


def table(server: Server, name: str, tenant_id: str) -> list[Any]:
    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.connect() as conn:
            result = conn.execute(
                sa.text(f"SELECT * FROM {name} WHERE tenant_id = :t ORDER BY 2"),
                {"t": tenant_id},
            )
            return list(result.mappings())
    finally:
        engine.dispose()


def events(server: Server, tenant_id: str, resource: str) -> list[str]:
    return [
        row["event_type"]
        for row in table(server, "outbox_events", tenant_id)
        if row["resource_name"] == resource
    ]


def credit_balance(server: Server, tenant_id: str, customer: customers_pb2.Customer) -> int:
    customer_id = customer.name.removeprefix("customers/")
    found = [
        row["balance_minor"]
        for row in table(server, "customer_credit", tenant_id)
        if row["customer_id"] == customer_id
    ]
    return int(found[0]) if found else 0
