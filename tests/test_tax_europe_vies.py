"""The headline B2B case end to end: an Irish business customer whose VAT number VIES
confirms (the local recorded VIES of tests/vies_recorded.py), quoted by a French seller under
`unknown_tax_id: charge`. While the check is pending the number proves nothing and Irish VAT
is charged; once VIES says VALID the same cart is reverse charged with the legal note."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.type import date_pb2, postal_address_pb2

from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import money_pb2, tax_pb2, tax_pb2_grpc
from billing_fixtures import Billing
from conftest import Database, Tenant, ThreadedServer, auth, make_token, server_settings
from test_tax_europe_api import FRENCH_SELLER, RC_NOTE, tax_rules, taxes, totals
from vies_recorded import RecordedVies, ViesServer


@dataclass
class Served:
    channel: grpc.Channel
    vies: RecordedVies

    def tenant(self) -> Billing:
        tenant_id = f"t_{uuid.uuid4().hex[:16]}"
        return Billing(self.channel, Tenant(tenant_id, auth(make_token(tenant_id))).metadata)

    def quote(self, billing: Billing, customer: str) -> tax_pb2.TaxQuote:
        return tax_pb2_grpc.TaxServiceStub(self.channel).QuoteTax(  # type: ignore[no-any-return]
            tax_pb2.QuoteTaxRequest(
                customer=customer,
                lines=[
                    tax_pb2.QuoteLine(
                        amount=money_pb2.Money(currency_code="EUR", amount_minor=10000),
                        tax_code="saas",
                    )
                ],
                date=date_pb2.Date(year=2026, month=3, day=2),
            ),
            metadata=billing.metadata,
        )


@pytest.fixture(scope="module")
def served(backend: str, make_database: Callable[[str], Database]) -> Iterator[Served]:
    database = make_database(backend)
    with ViesServer() as vies:
        running = ThreadedServer(server_settings(database.async_url, vies_url=vies.url))
        try:
            with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                yield Served(channel, vies)
        finally:
            running.stop()
        assert vies.mismatches == []  # every request was the recorded one


def test_a_vies_confirmed_irish_business_is_reverse_charged(served: Served) -> None:
    billing = served.tenant()
    billing.push(tax_rules(FRENCH_SELLER, unknown_tax_id="charge"))
    served.vies.hold()  # the registry answers only once the pending quote is taken
    created = billing.customers.CreateCustomer(
        pb.CreateCustomerRequest(
            customer=pb.Customer(
                display_name="Google Ireland",
                currency_code="EUR",
                customer_type=pb.BUSINESS,
                billing_address=postal_address_pb2.PostalAddress(region_code="IE"),
                tax_ids=[pb.TaxId(type="eu_vat", value="IE 6388047 V")],
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )
    assert created.tax_ids[0].verification.status == pb.TaxIdVerification.UNKNOWN  # pending
    pending = served.quote(billing, created.name)
    assert totals(pending) == (10000, 2300, 12300)  # the Union OSS: Irish VAT
    assert taxes(pending) == [("IE", "taxed", "standard", "23", 10000, 2300)]
    served.vies.release()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        customer = billing.customers.GetCustomer(
            pb.GetCustomerRequest(name=created.name), metadata=billing.metadata
        )
        if customer.tax_ids[0].verification.status == pb.TaxIdVerification.VALID:
            break
        time.sleep(0.05)
    assert customer.tax_ids[0].verification.status == pb.TaxIdVerification.VALID

    confirmed = served.quote(billing, created.name)
    assert totals(confirmed) == (10000, 0, 10000)
    assert taxes(confirmed) == [("IE", "reverse_charge", "", "0", 10000, 0)]
    assert list(confirmed.notes) == [RC_NOTE]


@pytest.fixture(autouse=True)
def _gate_open_after(served: Served) -> Iterator[None]:
    yield
    served.vies.release()  # a failed test never leaves the registry holding its answers
