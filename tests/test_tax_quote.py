"""QuoteTax over a real channel, on SQLite and PostgreSQL: a cart's lines (amounts, unit prices,
catalog plans and prices) for a customer or an inline buyer, with exact amounts; bad input
named by field; read-only and scoped like every read."""

from __future__ import annotations

import grpc
import pytest
from google.type import date_pb2

from billing_client.v1 import money_pb2, tax_pb2, tax_pb2_grpc
from billing_fixtures import Billing, rules
from conftest import Tenant, auth, make_token
from grpc_helpers import error_info, field_violations

MARCH_1 = date_pb2.Date(year=2026, month=3, day=1)


@pytest.fixture
def billing(channel: grpc.Channel, tenant: Tenant) -> Billing:
    b = Billing(channel, tenant.metadata)
    b.push(rules())
    return b


@pytest.fixture
def tax(channel: grpc.Channel) -> tax_pb2_grpc.TaxServiceStub:
    return tax_pb2_grpc.TaxServiceStub(channel)


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="USD", amount_minor=minor)


def line(**fields: object) -> tax_pb2.QuoteLine:
    return tax_pb2.QuoteLine(**fields)  # type: ignore[arg-type]


def test_quote_without_tax_rules_prices_the_cart_and_adds_no_tax(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    customer = billing.customer()
    quote = tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            customer=customer.name,
            lines=[
                line(amount=usd(1999), tax_code="saas"),
                line(unit_amount="0.333", quantity="3"),  # 0.999 -> 1.00
                line(plan="plans/team_monthly", quantity="2"),  # 2 seats at 8.00
                line(plan="plans/basic_monthly"),  # 30.00
                line(price="prices/team_seat_usd", quantity="1.5"),  # 12.00
            ],
            date=MARCH_1,
        ),
        metadata=billing.metadata,
    )
    assert [
        (q.net.amount_minor, q.tax.amount_minor, q.gross.amount_minor) for q in quote.lines
    ] == [
        (1999, 0, 1999),
        (100, 0, 100),
        (1600, 0, 1600),
        (3000, 0, 3000),
        (1200, 0, 1200),
    ]
    assert [q.tax_code for q in quote.lines] == ["saas"] * 5  # the policy's default
    assert (quote.net.amount_minor, quote.tax.amount_minor, quote.gross.amount_minor) == (
        7899,
        0,
        7899,
    )
    assert quote.net.currency_code == "USD"
    assert list(quote.taxes) == []
    assert quote.jurisdiction == ""
    assert quote.date == MARCH_1
    assert quote.rule_set.startswith("ruleSets/")


def test_quote_for_an_inline_buyer(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    quote = tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            buyer=tax_pb2.QuoteBuyer(country="DE", customer_type=tax_pb2.QuoteBuyer.BUSINESS),
            lines=[line(amount=usd(500))],
            currency_code="USD",
        ),
        metadata=billing.metadata,
    )
    assert quote.gross.amount_minor == 500
    assert quote.date.year >= 2026  # today on the server's clock


def test_bad_input_is_named_by_field(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    request = tax_pb2.QuoteTaxRequest(
        buyer=tax_pb2.QuoteBuyer(country="QQ"),
        lines=[
            line(amount=money_pb2.Money(currency_code="EUR", amount_minor=5)),
            line(),
            line(unit_amount="1e5"),
            line(amount=usd(1), quantity="-1"),
        ],
        currency_code="USD",
    )
    with pytest.raises(grpc.RpcError) as caught:
        tax.QuoteTax(request, metadata=billing.metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(caught.value)
    assert set(violations) == {
        "buyer.country",
        "lines[0].amount.currency_code",
        "lines[1]",
        "lines[2].unit_amount",
        "lines[3].quantity",
    }
    assert violations["buyer.country"] == (
        "unknown country code 'QQ' (ISO 3166-1 alpha-2, such as DE or CA)"
    )
    assert (
        violations["lines[0].amount.currency_code"] == "must be the quote's currency USD, not 'EUR'"
    )
    assert violations["lines[1]"] == "give an amount, a unit_amount, a plan or a price"

    for request, field in [
        (
            tax_pb2.QuoteTaxRequest(
                buyer=tax_pb2.QuoteBuyer(country="ca", subdivision="XX"),
                lines=[line(amount=usd(1))],
                currency_code="USD",
            ),
            "buyer.subdivision",
        ),
        (tax_pb2.QuoteTaxRequest(lines=[line(amount=usd(1))]), "customer"),
        (tax_pb2.QuoteTaxRequest(buyer=tax_pb2.QuoteBuyer(country="DE")), "lines"),
        (
            tax_pb2.QuoteTaxRequest(
                buyer=tax_pb2.QuoteBuyer(country="DE"), lines=[line(amount=usd(1))]
            ),
            "currency_code",
        ),
        (
            tax_pb2.QuoteTaxRequest(
                buyer=tax_pb2.QuoteBuyer(country="DE"),
                lines=[line(amount=usd(1))],
                currency_code="USD",
                date=date_pb2.Date(year=2026, month=2, day=30),
            ),
            "date",
        ),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            tax.QuoteTax(request, metadata=billing.metadata)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(caught.value), field


def test_unknown_catalog_items_and_customers_are_not_found(
    channel: grpc.Channel,
    billing: Billing,
    tax: tax_pb2_grpc.TaxServiceStub,
    other_tenant: Tenant,
) -> None:
    customer = billing.customer()
    for bad in [line(plan="plans/nope"), line(price="prices/nope")]:
        with pytest.raises(grpc.RpcError) as caught:
            tax.QuoteTax(
                tax_pb2.QuoteTaxRequest(customer=customer.name, lines=[bad]),
                metadata=billing.metadata,
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    Billing(channel, other_tenant.metadata).push(rules())
    with pytest.raises(grpc.RpcError) as caught:
        tax.QuoteTax(
            tax_pb2.QuoteTaxRequest(customer=customer.name, lines=[line(amount=usd(1))]),
            metadata=other_tenant.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_quote_needs_the_read_scope(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    tenant_id = "t_write_only_quote"
    request = tax_pb2.QuoteTaxRequest(
        buyer=tax_pb2.QuoteBuyer(country="DE"), lines=[line(amount=usd(1))], currency_code="USD"
    )
    with pytest.raises(grpc.RpcError) as caught:
        tax.QuoteTax(request, metadata=auth(make_token(tenant_id, scopes=("billing.write",))))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(caught.value).reason == "PERMISSION_DENIED"


def test_the_default_date_is_the_customers_clock_day_in_its_time_zone(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    clock = billing.clock("2026-04-01T05:00:00Z")  # still March 31 in Los Angeles
    customer = billing.customer(clock, time_zone="America/Los_Angeles")
    quote = tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(customer=customer.name, lines=[line(amount=usd(100))]),
        metadata=billing.metadata,
    )
    assert quote.date == date_pb2.Date(year=2026, month=3, day=31)
