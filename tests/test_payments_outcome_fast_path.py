"""The outcome's compare-and-set tried on the intent's own attempt without reading it first
(`record_outcome(..., as_written=True)`, the PayInvoice path): when the row moved meanwhile
(a webhook or the reconciler settled it) the stale copy changes nothing and no second payment
is made. Both backends, through a real server and a second engine on its database."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import grpc

from billing.app.payment_outcomes import record_outcome
from billing.domain.payments import AttemptStatus, PaymentAttempt
from billing.plugins.engines import GatewayOutcome, GatewayStatus
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing
from conftest import Server, Tenant
from payments_fixtures import Payments, events, payment_rules

AT = datetime(2026, 4, 2, tzinfo=UTC)


def _record_stale(
    server: Server, tenant_id: str, attempt_id: str, outcome: GatewayOutcome
) -> tuple[PaymentAttempt, PaymentAttempt]:
    """The stored attempt, and what `record_outcome` answers for a stale pending copy."""

    async def main() -> tuple[PaymentAttempt, PaymentAttempt]:
        engine = create_engine(server.database.async_url)
        try:
            store = SqlStore(engine)
            async with store.read() as read:
                stored = await read.payment_attempts.get(tenant_id, attempt_id)
            assert stored is not None
            stale = replace(
                stored,
                status=AttemptStatus.PENDING,
                version=1,
                gateway_reference="",
                payment_id=None,
            )
            async with store.write(None) as tx:
                answered = await record_outcome(
                    tx, tenant_id, stale, outcome, AT, actor="test", request_id="r", as_written=True
                )
            return stored, answered
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_a_stale_as_written_attempt_changes_nothing_and_pays_nothing_twice(
    channel: grpc.Channel, server: Server, tenant: Tenant
) -> None:
    billing = Billing(channel, tenant.metadata)
    billing.push(payment_rules())
    payments = Payments(channel, billing)
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    [invoice] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))
    attempt = payments.pay(invoice, payments.attach(customer))
    assert attempt.status == pp.SUCCEEDED
    [payment] = payments.payments_of(invoice)
    assert attempt.payment == payment.name  # the answer's payment, from the outcome itself
    attempt_id = attempt.name.removeprefix("paymentAttempts/")

    for outcome in (
        GatewayOutcome(GatewayStatus.SUCCEEDED, "ch_again", amount_minor=5000),
        GatewayOutcome(GatewayStatus.FAILED, "ch_again", decline_code="do_not_honor"),
    ):
        stored, answered = _record_stale(server, tenant.id, attempt_id, outcome)
        assert answered == stored  # the stored attempt, unchanged
        assert stored.status is AttemptStatus.SUCCEEDED
        assert stored.payment_id == payment.name.removeprefix("payments/")

    assert [p.name for p in payments.payments_of(invoice)] == [payment.name]
    paid = payments.invoice(invoice)
    assert (paid.status, paid.amount_paid.amount_minor) == (ip.PAID, 5000)
    assert sorted(events(server, tenant.id, attempt.name)) == [
        "payment_attempt.pending",
        "payment_attempt.succeeded",
    ]
