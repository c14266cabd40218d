"""EU VAT numbers checked online through VIES, as due work after the customer write (ADR 0031).

Each backend gets a server whose BILLING_VIES_URL points at a local VIES answering from the
recordings in tests/recordings/vies/ over real HTTP (tests/vies_recorded.py): valid, invalid,
the MS_UNAVAILABLE fault, an HTTP 500 and a timeout. Nothing is mocked in the process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import grpc
import pytest
from google.protobuf import field_mask_pb2

from billing.domain.tax import TaxIdStatus
from billing.plugins.engines import TaxIdCheck, TaxIdCheckRequest
from billing.plugins.registry import load_engines
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, Tenant, ThreadedServer, auth, make_token, server_settings
from test_customers_api import rows
from vies_recorded import RecordedVies, ViesServer

Status = pb.TaxIdVerification
TIMEOUT_S = 0.5
MAX_ATTEMPTS = 3


@dataclass
class Vat:
    stub: customers_pb2_grpc.CustomerServiceStub
    vies: RecordedVies
    database: Database

    def tenant(self) -> Tenant:
        tenant_id = f"t_{uuid.uuid4().hex[:16]}"
        return Tenant(tenant_id, auth(make_token(tenant_id)))

    def create(self, tenant: Tenant, *numbers: str) -> pb.Customer:
        return self.stub.CreateCustomer(  # type: ignore[no-any-return]
            pb.CreateCustomerRequest(
                customer=pb.Customer(
                    display_name="Acme",
                    currency_code="EUR",
                    customer_type=pb.BUSINESS,
                    tax_ids=[pb.TaxId(type="eu_vat", value=n) for n in numbers],
                ),
                request_id=uuid.uuid4().hex,
            ),
            metadata=tenant.metadata,
        )

    def update(self, tenant: Tenant, customer: pb.Customer, *paths: str) -> pb.Customer:
        return self.stub.UpdateCustomer(  # type: ignore[no-any-return]
            pb.UpdateCustomerRequest(
                customer=customer,
                update_mask=field_mask_pb2.FieldMask(paths=list(paths)),
                request_id=uuid.uuid4().hex,
            ),
            metadata=tenant.metadata,
        )

    def get(self, tenant: Tenant, name: str) -> pb.Customer:
        return self.stub.GetCustomer(  # type: ignore[no-any-return]
            pb.GetCustomerRequest(name=name), metadata=tenant.metadata
        )

    def wait_for(
        self, tenant: Tenant, name: str, done: Callable[[pb.Customer], bool]
    ) -> pb.Customer:
        deadline = time.monotonic() + 30
        while True:
            customer = self.get(tenant, name)
            if done(customer) or time.monotonic() > deadline:
                return customer
            time.sleep(0.05)

    def checked(self, tenant: Tenant, name: str) -> pb.Customer:
        """The customer once every tax id's check has an answer (or has been tried)."""
        return self.wait_for(
            tenant,
            name,
            lambda c: all(t.verification.reason != "verification pending" for t in c.tax_ids),
        )


@pytest.fixture(scope="module")
def vat(backend: str, make_database: Callable[[str], Database]) -> Iterator[Vat]:
    database = make_database(backend)
    with ViesServer() as vies:
        settings = server_settings(
            database.async_url,
            vies_url=vies.url,
            tax_id_check_timeout_seconds=TIMEOUT_S,
            due_work_retry_base_ms=100,
            due_work_retry_max_seconds=1,
            due_work_max_attempts=MAX_ATTEMPTS,
        )
        running = ThreadedServer(settings)
        try:
            with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                yield Vat(customers_pb2_grpc.CustomerServiceStub(channel), vies, database)
        finally:
            running.stop()
        assert vies.mismatches == []  # every request was the recorded one, byte for byte


def test_a_new_vat_number_is_pending_then_valid_with_the_registrys_name(vat):
    tenant = vat.tenant()
    created = vat.create(tenant, "IE 6388047 V")
    [pending] = created.tax_ids
    assert (pending.value, pending.verification.status) == ("IE6388047V", Status.UNKNOWN)
    assert pending.verification.reason == "verification pending"
    [tax_id] = vat.checked(tenant, created.name).tax_ids
    verification = tax_id.verification
    assert verification.status == Status.VALID
    assert verification.registry_name == "GOOGLE IRELAND LIMITED"
    assert verification.registry_address == "3RD FLOOR, GORDON HOUSE, BARROW STREET, DUBLIN 4"
    assert verification.reason == ""
    assert verification.HasField("checked_time")
    events = [e.event_type for e in rows(vat, "outbox_events", tenant)]
    assert events == ["customer.created", "customer.tax_id_checked"]
    assert vat.get(tenant, created.name).etag == 'W/"2"'  # the answer is a new version


def test_a_number_vies_says_is_not_valid_is_invalid(vat):
    tenant = vat.tenant()
    created = vat.create(tenant, "ATU13585627")
    [tax_id] = vat.checked(tenant, created.name).tax_ids
    assert (tax_id.verification.status, tax_id.verification.reason) == (
        Status.INVALID,
        "VIES: not a valid VAT number",
    )
    assert tax_id.verification.registry_name == ""  # VIES's "---" is no name


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("IT00743110157", "VIES could not answer: MS_UNAVAILABLE"),
        ("NL004495445B01", "VIES answered HTTP 500"),
        ("BE0403019261", f"VIES did not answer within {TIMEOUT_S:g} s"),
    ],
)
def test_when_vies_cannot_answer_the_status_is_unknown_with_why_and_it_is_asked_again(
    vat, number, reason
):
    tenant = vat.tenant()
    before = vat.vies.count(number)
    created = vat.create(tenant, number)
    [tax_id] = vat.checked(tenant, created.name).tax_ids
    assert (tax_id.verification.status, tax_id.verification.reason) == (Status.UNKNOWN, reason)
    assert tax_id.verification.HasField("checked_time")
    # Retried with the due-work backoff (attempt after attempt), then parked.
    deadline = time.monotonic() + 30
    while vat.vies.count(number) - before < MAX_ATTEMPTS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vat.vies.count(number) - before == MAX_ATTEMPTS
    # Each retry that finds the same reason leaves the customer as it was.
    assert vat.get(tenant, created.name).etag == 'W/"2"'


def test_an_update_that_changes_the_vat_number_checks_the_new_one(vat):
    tenant = vat.tenant()
    created = vat.create(tenant, "DE136695976")
    [valid] = vat.checked(tenant, created.name).tax_ids
    assert valid.verification.status == Status.VALID
    assert valid.verification.registry_name == ""  # Germany gives none
    changed = vat.update(
        tenant,
        pb.Customer(name=created.name, tax_ids=[pb.TaxId(type="eu_vat", value="AT U13585627")]),
        "tax_ids",
    )
    assert changed.tax_ids[0].verification.reason == "verification pending"
    [invalid] = vat.checked(tenant, created.name).tax_ids
    assert (invalid.value, invalid.verification.status) == ("ATU13585627", Status.INVALID)
    # Another change that keeps the number keeps its answer and asks nobody.
    asked = len(vat.vies.asked)
    renamed = vat.update(
        tenant, pb.Customer(name=created.name, display_name="Acme AG"), "display_name"
    )
    kept = vat.update(
        tenant,
        pb.Customer(name=created.name, tax_ids=[pb.TaxId(type="eu_vat", value="ATU 135 856 27")]),
        "tax_ids",
    )
    assert renamed.tax_ids == kept.tax_ids == [invalid]
    time.sleep(0.3)
    assert len(vat.vies.asked) == asked


def test_a_number_answered_once_is_not_asked_again_within_the_cache_ttl(vat):
    number = "IE6388047V"
    first, second = vat.tenant(), vat.tenant()
    one = vat.create(first, number)
    vat.checked(first, one.name)
    asked = vat.vies.count(number)
    assert asked >= 1
    two = vat.create(second, number)
    [tax_id] = vat.checked(second, two.name).tax_ids
    assert tax_id.verification.status == Status.VALID
    assert vat.vies.count(number) == asked


def test_without_a_vies_url_numbers_are_format_valid_and_nothing_is_scheduled(
    customers, tenant, server
):
    created = customers.CreateCustomer(
        pb.CreateCustomerRequest(
            customer=pb.Customer(
                display_name="Acme",
                currency_code="EUR",
                tax_ids=[pb.TaxId(type="eu_vat", value="IE6388047V")],
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=tenant.metadata,
    )
    assert created.tax_ids[0].verification.status == Status.FORMAT_VALID
    assert [r.kind for r in rows(server, "due_work", tenant)] == []


def test_billing_register_tax_id_verifiers():
    verifier = load_engines().get("tax_id_verifier", "vies")
    assert verifier.types == frozenset({"eu_vat"})

    async def ask(url: str, number: str) -> TaxIdCheck:
        return await verifier.check(TaxIdCheckRequest("eu_vat", number, url, TIMEOUT_S))  # type: ignore[no-any-return]

    with ViesServer() as vies:
        valid = asyncio.run(ask(vies.url, "IE6388047V"))
        invalid = asyncio.run(ask(vies.url, "ATU13585627"))
        down = asyncio.run(ask(vies.url, "IT00743110157"))
    assert valid == TaxIdCheck(
        TaxIdStatus.VALID,
        date(2026, 12, 5),
        "GOOGLE IRELAND LIMITED",
        "3RD FLOOR, GORDON HOUSE, BARROW STREET, DUBLIN 4",
    )
    assert invalid == TaxIdCheck(
        TaxIdStatus.INVALID, date(2026, 12, 5), reason="VIES: not a valid VAT number"
    )
    assert down == TaxIdCheck(TaxIdStatus.UNKNOWN, reason="VIES could not answer: MS_UNAVAILABLE")
    unreachable = asyncio.run(ask("http://127.0.0.1:9/checkVatService", "IE6388047V"))
    assert unreachable.status is TaxIdStatus.UNKNOWN
    assert unreachable.reason.startswith("VIES unreachable: ")
