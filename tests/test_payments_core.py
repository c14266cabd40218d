"""Payments core (ADR 0034) over real gRPC on both backends: payment methods, PayInvoice's
write pattern (intent, call, outcome), idempotent replays, the refusal of a second charge
while one is unsettled, tokens encrypted at rest."""

from __future__ import annotations

import grpc
import pytest

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing
from conftest import Server, Tenant
from grpc_helpers import error_info, field_violations
from payments_fixtures import Payments, events, payment_rules, rid, table


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@pytest.fixture
def payments(channel, billing) -> Payments:
    billing.push(payment_rules())
    return Payments(channel, billing)


def first_invoice(billing: Billing, plan: str = "pro_monthly", **kw) -> tuple:  # type: ignore[no-untyped-def]
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(customer, plan, **kw)
    [invoice] = billing.invoices_of(sub)
    return clock, customer, sub, invoice


# --- payment methods ---------------------------------------------------------------------


def test_attach_list_default_and_detach(payments: Payments, billing: Billing) -> None:
    customer = billing.customer()
    first = payments.attach(customer, "tok_visa", last4="4242")
    assert (first.is_default, first.last4, first.gateway, first.type) == (
        True,  # the first method becomes the default
        "4242",
        "sandbox",
        pp.CARD,
    )
    second = payments.attach(customer, "tok_mastercard", brand="mastercard", last4="4444")
    assert not second.is_default
    listed = payments.stub.ListPaymentMethods(
        pp.ListPaymentMethodsRequest(customer=customer.name), metadata=payments.metadata
    ).payment_methods
    assert [(m.name, m.is_default) for m in listed] == [(second.name, False), (first.name, True)]

    made = payments.stub.SetDefaultPaymentMethod(
        pp.SetDefaultPaymentMethodRequest(payment_method=second.name, request_id=rid()),
        metadata=payments.metadata,
    )
    assert made.is_default
    listed = payments.stub.ListPaymentMethods(
        pp.ListPaymentMethodsRequest(customer=customer.name), metadata=payments.metadata
    ).payment_methods
    assert {m.name: m.is_default for m in listed} == {second.name: True, first.name: False}

    gone = payments.stub.DetachPaymentMethod(
        pp.DetachPaymentMethodRequest(name=second.name, request_id=rid()),
        metadata=payments.metadata,
    )
    assert gone.HasField("detach_time") and not gone.is_default
    attached = payments.stub.ListPaymentMethods(
        pp.ListPaymentMethodsRequest(customer=customer.name), metadata=payments.metadata
    ).payment_methods
    assert [m.name for m in attached] == [first.name]
    everything = payments.stub.ListPaymentMethods(
        pp.ListPaymentMethodsRequest(customer=customer.name, include_detached=True),
        metadata=payments.metadata,
    ).payment_methods
    assert [m.name for m in everything] == [second.name, first.name]
    with pytest.raises(grpc.RpcError) as again:
        payments.stub.DetachPaymentMethod(
            pp.DetachPaymentMethodRequest(name=second.name, request_id=rid()),
            metadata=payments.metadata,
        )
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_tokens_are_ciphertext_at_rest_and_nowhere_in_clear(
    payments: Payments, billing: Billing, server: Server, tenant: Tenant
) -> None:
    customer = billing.customer()
    secret = "tok_visa_secret_4e1f"
    method = payments.attach(customer, secret)
    [row] = table(server, "payment_methods", tenant.id)
    assert row["id"] == method.name.removeprefix("paymentMethods/")
    assert row["token_ciphertext"].startswith("v1.test1.")
    assert row["key_id"] == "test1"
    assert secret not in row["token_ciphertext"]
    for name in ("idempotency_keys", "outbox_events", "audit_log"):
        assert secret not in repr(table(server, name, tenant.id)), name


def test_method_validation_names_fields(payments: Payments, billing: Billing) -> None:
    customer = billing.customer()
    with pytest.raises(grpc.RpcError) as bad:
        payments.stub.AttachPaymentMethod(
            pp.AttachPaymentMethodRequest(
                customer=customer.name,
                gateway="sandbox",
                token="tok_visa",
                last4="42a2",
                exp_month=13,
                country="us",
                request_id=rid(),
            ),
            metadata=payments.metadata,
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(bad.value)) == {"type", "last4", "exp_month", "country"}
    with pytest.raises(grpc.RpcError) as unknown:
        payments.attach(customer, gateway="nowhere")
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "gateway" in field_violations(unknown.value)


def test_other_tenants_records_are_not_found(
    payments: Payments, billing: Billing, channel, other_tenant: Tenant
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    method = payments.attach(customer)
    attempt = payments.pay(invoice, method)
    theirs = Billing(channel, other_tenant.metadata)
    theirs.push(payment_rules())
    stranger = Payments(channel, theirs)
    for call in (
        lambda: stranger.attempt(attempt),
        lambda: stranger.pay(invoice, method),
        lambda: stranger.stub.GetPayment(
            pp.GetPaymentRequest(name=attempt.payment), metadata=stranger.metadata
        ),
        lambda: stranger.stub.DetachPaymentMethod(
            pp.DetachPaymentMethodRequest(name=method.name, request_id=rid()),
            metadata=stranger.metadata,
        ),
        lambda: stranger.attempts_of(invoice),
    ):
        with pytest.raises(grpc.RpcError) as failure:
            call()
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND


# --- PayInvoice ------------------------------------------------------------------------------


def test_pay_invoice_succeeds_with_payment_allocation_events_and_audit(
    payments: Payments, billing: Billing, server: Server, tenant: Tenant
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    assert (invoice.status, invoice.amount_due.amount_minor) == (ip.OPEN, 5000)
    method = payments.attach(customer)
    attempt = payments.pay(invoice, method)
    assert (attempt.status, attempt.amount.amount_minor, attempt.gateway) == (
        pp.SUCCEEDED,
        5000,
        "sandbox",
    )
    assert attempt.gateway_reference.startswith("ch_")
    assert (attempt.source, attempt.fraud_outcome, attempt.payment_method) == (
        "pay_invoice",
        "allow",
        method.name,
    )
    paid = payments.invoice(invoice)
    assert (paid.status, paid.amount_paid.amount_minor, paid.amount_remaining.amount_minor) == (
        ip.PAID,
        5000,
        0,
    )
    payment = payments.stub.GetPayment(
        pp.GetPaymentRequest(name=attempt.payment), metadata=payments.metadata
    )
    assert (payment.amount.amount_minor, payment.source, payment.payment_attempt) == (
        5000,
        "gateway",
        attempt.name,
    )
    assert [(a.invoice, a.amount.amount_minor) for a in payment.allocations] == [
        (invoice.name, 5000)
    ]
    assert payment.to_credit.amount_minor == 0
    assert [p.name for p in payments.payments_of(invoice)] == [payment.name]
    assert sorted(events(server, tenant.id, attempt.name)) == [
        "payment_attempt.pending",
        "payment_attempt.succeeded",
    ]
    assert events(server, tenant.id, payment.name) == ["payment.received"]
    assert "invoice.paid" in events(server, tenant.id, invoice.name)
    audit = [
        (row["action"], row["method"])
        for row in table(server, "audit_log", tenant.id)
        if row["resource_name"] == attempt.name
    ]
    assert sorted(audit) == [("create", "PayInvoice"), ("succeeded", "PaymentOutcome")]
    with pytest.raises(grpc.RpcError) as again:
        payments.pay(invoice, method)
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(again.value).reason == "INVOICE_STATE"


def test_declined_attempt_fails_with_its_code_and_the_invoice_stays_open(
    payments: Payments, billing: Billing
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    declining = payments.attach(customer, "tok_insufficient_funds")
    attempt = payments.pay(invoice, declining)
    assert (attempt.status, attempt.decline_code, attempt.payment) == (
        pp.FAILED,
        "insufficient_funds",
        "",
    )
    after = payments.invoice(invoice)
    assert (after.status, after.amount_paid.amount_minor, after.amount_remaining.amount_minor) == (
        ip.OPEN,
        0,
        5000,
    )
    # A failed attempt is settled: a new one through another method may charge.
    good = payments.attach(customer, "tok_visa")
    assert payments.pay(invoice, good).status == pp.SUCCEEDED
    assert [a.status for a in payments.attempts_of(invoice)] == [pp.SUCCEEDED, pp.FAILED]


def test_partial_payment_leaves_the_invoice_open_then_the_rest_pays_it(
    payments: Payments, billing: Billing, server: Server, tenant: Tenant
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    method = payments.attach(customer)
    part = payments.pay(invoice, method, amount=2000)
    assert (part.status, part.amount.amount_minor) == (pp.SUCCEEDED, 2000)
    after = payments.invoice(invoice)
    assert (after.status, after.amount_paid.amount_minor, after.amount_remaining.amount_minor) == (
        ip.OPEN,
        2000,
        3000,
    )
    assert events(server, tenant.id, invoice.name).count("invoice.partially_paid") == 1
    with pytest.raises(grpc.RpcError) as too_much:
        payments.pay(invoice, method, amount=3001)
    assert too_much.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "amount" in field_violations(too_much.value)
    rest = payments.pay(invoice, method)  # unset: all that remains
    assert (rest.status, rest.amount.amount_minor) == (pp.SUCCEEDED, 3000)
    done = payments.invoice(invoice)
    assert (done.status, done.amount_paid.amount_minor, done.amount_remaining.amount_minor) == (
        ip.PAID,
        5000,
        0,
    )


def test_replay_answers_the_same_attempt_and_charges_once(
    payments: Payments, billing: Billing
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    method = payments.attach(customer)
    key = rid()
    first = payments.pay(invoice, method, request_id=key)
    again = payments.pay(invoice, method, request_id=key)
    assert first.name == again.name
    assert (again.status, again.payment) == (pp.SUCCEEDED, first.payment)
    assert len(payments.attempts_of(invoice)) == 1
    [payment] = payments.payments_of(invoice)
    assert payment.amount.amount_minor == 5000
    with pytest.raises(grpc.RpcError) as other_body:
        payments.pay(invoice, method, amount=100, request_id=key)
    assert other_body.value.code() != grpc.StatusCode.OK


def test_a_second_charge_is_refused_while_one_is_unknown(
    payments: Payments, billing: Billing
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    lost = payments.attach(customer, "tok_timeout_charged")
    attempt = payments.pay(invoice, lost)
    assert attempt.status == pp.UNKNOWN
    assert payments.invoice(invoice).status == ip.OPEN
    good = payments.attach(customer, "tok_visa")
    with pytest.raises(grpc.RpcError) as refused:
        payments.pay(invoice, good)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "ATTEMPT_UNSETTLED"
    assert attempt.name in refused.value.details()


def test_pay_invoice_refusals(payments: Payments, billing: Billing) -> None:
    _, customer, _, invoice = first_invoice(billing)
    with pytest.raises(grpc.RpcError) as no_method:
        payments.pay(invoice)
    assert no_method.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(no_method.value).reason == "NO_PAYMENT_METHOD"
    with pytest.raises(grpc.RpcError) as bad_name:
        payments.stub.PayInvoice(
            pp.PayInvoiceRequest(invoice="invoices/nope", request_id=rid()),
            metadata=payments.metadata,
        )
    assert bad_name.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invoice" in field_violations(bad_name.value)
    method = payments.attach(customer)
    with pytest.raises(grpc.RpcError) as bad_currency:
        request = pp.PayInvoiceRequest(
            invoice=invoice.name, payment_method=method.name, request_id=rid()
        )
        request.amount.currency_code = "EUR"
        request.amount.amount_minor = 100
        payments.stub.PayInvoice(request, metadata=payments.metadata)
    assert bad_currency.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "amount.currency_code" in field_violations(bad_currency.value)


def test_list_gateways_and_credentials_never_echo_values(
    payments: Payments, server: Server, tenant: Tenant
) -> None:
    [gateway] = payments.stub.ListGateways(
        pp.ListGatewaysRequest(), metadata=payments.metadata
    ).gateways
    assert (gateway.name, gateway.engine, gateway.circuit_state, gateway.has_credentials) == (
        "sandbox",
        "sandbox",
        "closed",
        False,
    )
    stored = payments.stub.SetGatewayCredentials(
        pp.SetGatewayCredentialsRequest(
            gateway="sandbox", credentials={"webhook_secret": "whsec_abc123"}, request_id=rid()
        ),
        metadata=payments.metadata,
    )
    assert (list(stored.names), stored.key_id) == (["webhook_secret"], "test1")
    [row] = table(server, "gateway_credentials", tenant.id)
    assert "whsec_abc123" not in row["ciphertext"] and row["key_id"] == "test1"
    for name in ("idempotency_keys", "audit_log"):
        assert "whsec_abc123" not in repr(table(server, name, tenant.id))
    [gateway] = payments.stub.ListGateways(
        pp.ListGatewaysRequest(), metadata=payments.metadata
    ).gateways
    assert gateway.has_credentials


def test_concurrent_charges_of_one_invoice_make_exactly_one_attempt(
    payments: Payments, billing: Billing
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _, customer, _, invoice = first_invoice(billing)
    method = payments.attach(customer)

    def pay() -> str:
        try:
            return pp.PaymentAttemptStatus.Name(payments.pay(invoice, method).status)
        except grpc.RpcError as error:
            return error.code().name

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda _: pay(), range(6)))
    assert outcomes.count("SUCCEEDED") == 1, outcomes
    assert outcomes.count("FAILED_PRECONDITION") == 5, outcomes
    assert len(payments.attempts_of(invoice)) == 1
    assert [p.amount.amount_minor for p in payments.payments_of(invoice)] == [5000]


def test_requires_action_holds_the_invoice_until_settled(
    payments: Payments, billing: Billing
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    attempt = payments.pay(invoice, payments.attach(customer, "tok_requires_action"))
    assert attempt.status == pp.REQUIRES_ACTION
    assert attempt.action_url.startswith("https://")
    with pytest.raises(grpc.RpcError) as refused:
        payments.pay(invoice, payments.attach(customer, "tok_visa"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "ATTEMPT_UNSETTLED"


def test_an_unavailable_gateway_fails_the_attempt_unsent(
    payments: Payments, billing: Billing
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    attempt = payments.pay(invoice, payments.attach(customer, "tok_unavailable"))
    assert (attempt.status, attempt.decline_code, attempt.payment) == (
        pp.FAILED,
        "gateway_unavailable",
        "",
    )
    assert payments.invoice(invoice).amount_remaining.amount_minor == 5000
    # Certainly not charged: a new attempt may go at once.
    assert payments.pay(invoice, payments.attach(customer, "tok_visa")).status == pp.SUCCEEDED


def test_only_an_open_invoice_with_something_remaining_is_charged(
    payments: Payments, billing: Billing
) -> None:
    _, customer, _, invoice = first_invoice(billing)
    method = payments.attach(customer)
    billing.invoices.MarkUncollectible(
        ip.MarkUncollectibleRequest(name=invoice.name, request_id=rid()),
        metadata=billing.metadata,
    )
    with pytest.raises(grpc.RpcError) as refused:
        payments.pay(invoice, method)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "INVOICE_STATE"
    detached = payments.attach(customer, "tok_visa")
    payments.stub.DetachPaymentMethod(
        pp.DetachPaymentMethodRequest(name=detached.name, request_id=rid()),
        metadata=payments.metadata,
    )
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    with pytest.raises(grpc.RpcError) as a_draft:
        payments.pay(draft, method)
    assert a_draft.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as gone:
        payments.pay(draft, detached)
    assert gone.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(gone.value).reason == "METHOD_DETACHED"
