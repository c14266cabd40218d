"""The buyer's tax facts on the customer (ADR 0031), through the public API on both databases:
customer type, exemption certificates, tax ids checked for format and checksum and stored
compact. No online check is configured on the shared server: statuses are `format_valid`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import field_mask_pb2
from google.type import date_pb2, postal_address_pb2

from billing.app.tax import buyer_of
from billing.domain.customers import Customer, CustomerFields, PostalAddress, TaxId
from billing.domain.customers import TaxIdVerification as Verification
from billing.domain.tax import CustomerType, Exemption, Place, TaxIdFact, TaxIdStatus
from billing_client.v1 import customers_pb2 as pb
from grpc_helpers import field_violations
from test_customers_api import rows

Status = pb.TaxIdVerification


def day(text: str) -> date_pb2.Date:
    d = date.fromisoformat(text)
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def exemption(jurisdiction: str = "US-WA", **overrides: object) -> pb.TaxExemption:
    values: dict[str, object] = {
        "jurisdiction": jurisdiction,
        "reason": "resale",
        "certificate_id": "WA-RS-0042",
        "valid_from": day("2026-01-01"),
    }
    values.update(overrides)
    return pb.TaxExemption(**values)  # type: ignore[arg-type]


def create(customers, tenant, **fields: object) -> pb.Customer:  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "display_name": "Acme",
        "currency_code": "EUR",
        "billing_address": postal_address_pb2.PostalAddress(region_code="DE"),
    }
    values.update(fields)
    return customers.CreateCustomer(  # type: ignore[no-any-return]
        pb.CreateCustomerRequest(
            customer=pb.Customer(**values),  # type: ignore[arg-type]
            request_id=uuid.uuid4().hex,
        ),
        metadata=tenant.metadata,
    )


def update(customers, tenant, customer: pb.Customer, *paths: str) -> pb.Customer:  # type: ignore[no-untyped-def]
    return customers.UpdateCustomer(  # type: ignore[no-any-return]
        pb.UpdateCustomerRequest(
            customer=customer,
            update_mask=field_mask_pb2.FieldMask(paths=list(paths)),
            request_id=uuid.uuid4().hex,
        ),
        metadata=tenant.metadata,
    )


def refused(customers, tenant, **fields: object) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        create(customers, tenant, **fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return field_violations(caught.value)


def test_a_business_with_tax_ids_and_an_exemption_reads_back_whole(customers, tenant):
    created = create(
        customers,
        tenant,
        customer_type=pb.BUSINESS,
        tax_ids=[
            pb.TaxId(type="eu_vat", value="de 136 695 976"),
            pb.TaxId(type="gb_vat", value="GB 980 7806 84"),
        ],
        tax_exemptions=[
            exemption("US-WA", valid_until=day("2027-01-01")),
            exemption("DE", reason="diplomatic mission", certificate_id=""),
        ],
    )
    fetched = customers.GetCustomer(
        pb.GetCustomerRequest(name=created.name), metadata=tenant.metadata
    )
    assert fetched == created
    assert fetched.customer_type == pb.BUSINESS
    assert [(t.type, t.value, t.country, t.verification.status) for t in fetched.tax_ids] == [
        ("eu_vat", "DE136695976", "DE", Status.FORMAT_VALID),
        ("gb_vat", "980780684", "GB", Status.FORMAT_VALID),
    ]
    assert not fetched.tax_ids[0].verification.HasField("checked_time")
    first, second = fetched.tax_exemptions
    assert (first.jurisdiction, first.reason, first.certificate_id) == (
        "US-WA",
        "resale",
        "WA-RS-0042",
    )
    assert (first.valid_from, first.valid_until) == (day("2026-01-01"), day("2027-01-01"))
    assert (second.jurisdiction, second.reason, second.HasField("valid_until")) == (
        "DE",
        "diplomatic mission",
        False,
    )


def test_a_customer_is_a_consumer_unless_told_otherwise(customers, tenant):
    created = create(customers, tenant)
    assert created.customer_type == pb.CONSUMER
    assert list(created.tax_exemptions) == []


def test_every_checked_type_is_stored_compact_with_its_country(customers, tenant):
    numbers = {
        "ch_vat": ("CHE-107.787.577 MWST", "CHE107787577MWST", "CH"),
        "no_vat": ("NO 995 525 828 MVA", "995525828MVA", "NO"),
        "au_abn": ("83 914 571 673", "83914571673", "AU"),
        "nz_gst": ("49-091-850", "49091850", "NZ"),
        "ca_bn": ("12302 6635", "123026635", "CA"),
        "in_gst": ("27AAPFU0939F1ZV", "27AAPFU0939F1ZV", "IN"),
        "sg_uen": ("00192200M", "00192200M", "SG"),
        "jp_cn": ("5-8356-7825-6246", "5835678256246", "JP"),
        "eu_vat": ("EL 094259216", "EL094259216", "GR"),
    }
    created = create(
        customers, tenant, tax_ids=[pb.TaxId(type=t, value=v[0]) for t, v in numbers.items()]
    )
    assert [(t.type, t.value, t.country) for t in created.tax_ids] == [
        (t, compact, country) for t, (_, compact, country) in numbers.items()
    ]
    assert {t.verification.status for t in created.tax_ids} == {Status.FORMAT_VALID}


def test_a_type_without_a_format_check_is_kept_as_given_and_unknown(customers, tenant):
    created = create(
        customers, tenant, tax_ids=[pb.TaxId(type="ca_qst", value=" 1234567890TQ0001 ")]
    )
    [tax_id] = created.tax_ids
    assert (tax_id.value, tax_id.verification.status) == ("1234567890TQ0001", Status.UNKNOWN)
    assert tax_id.verification.reason == "no format check exists for this type"


def test_bad_tax_ids_are_refused_naming_each_and_why_and_nothing_is_written(
    customers, tenant, server
):
    violations = refused(
        customers,
        tenant,
        tax_ids=[
            pb.TaxId(type="eu_vat", value="DE136695976"),
            pb.TaxId(type="eu_vat", value="DE123456789"),
            pb.TaxId(type="eu_vat", value="GB980780684"),
            pb.TaxId(type="in_gst", value="27AAPFU0939F1Z"),
            pb.TaxId(type="au_abn", value="83 914 571 67X"),
            pb.TaxId(type="eu_vat", value="de136695976"),
        ],
    )
    assert violations == {
        "customer.tax_ids[1].value": "'DE123456789' is not a valid eu_vat number: its check digit is wrong",
        "customer.tax_ids[2].value": "'GB980780684' is not a valid eu_vat number: a part of it is not valid (a wrong country prefix, region or office code)",
        "customer.tax_ids[3].value": "'27AAPFU0939F1Z' is not a valid in_gst number: it has the wrong number of characters",
        "customer.tax_ids[4].value": "'83 914 571 67X' is not a valid au_abn number: it has characters or a layout this type never has",
        "customer.tax_ids[5].value": "'de136695976' is listed twice",
    }
    assert rows(server, "customers", tenant) == []


def test_bad_exemptions_are_refused_naming_each_field(customers, tenant):
    violations = refused(
        customers,
        tenant,
        tax_exemptions=[
            exemption("XX"),
            exemption("CA-ZZ"),
            exemption("de"),
            exemption("DE", reason=" "),
            exemption("FR", valid_until=day("2026-01-01")),
            exemption("ca-on"),  # stored so, it would never match the buyer's CA-ON
        ],
    )
    assert violations == {
        "customer.tax_exemptions[0].jurisdiction": "'XX' is not an ISO 3166 country (DE) or country-subdivision (CA-ON) code",
        "customer.tax_exemptions[1].jurisdiction": "'CA-ZZ' is not an ISO 3166 country (DE) or country-subdivision (CA-ON) code",
        "customer.tax_exemptions[2].jurisdiction": "'de' is not an ISO 3166 country (DE) or country-subdivision (CA-ON) code",
        "customer.tax_exemptions[3].reason": "is required: why the customer is exempt",
        "customer.tax_exemptions[4].valid_until": "must be after valid_from (it is exclusive)",
        "customer.tax_exemptions[5].jurisdiction": "'ca-on' is not an ISO 3166 country (DE) or country-subdivision (CA-ON) code",
    }
    # Dates are read before the rest is checked: their problems come on their own.
    bad_dates = [
        exemption(valid_from=date_pb2.Date(year=2026, month=2, day=30)),
        pb.TaxExemption(jurisdiction="US-NY", reason="resale"),
        exemption(valid_until=date_pb2.Date(year=2027, month=0, day=1)),
        exemption(valid_from=date_pb2.Date(year=1969, month=12, day=31)),
    ]
    assert refused(customers, tenant, tax_exemptions=bad_dates) == {
        "customer.tax_exemptions[0].valid_from": "must be a valid date in [1970-01-01, 3000-01-01)",
        "customer.tax_exemptions[1].valid_from": "is required",
        "customer.tax_exemptions[2].valid_until": "must be a valid date in [1970-01-01, 3000-01-01)",
        "customer.tax_exemptions[3].valid_from": "must be a valid date in [1970-01-01, 3000-01-01)",
    }


def test_an_update_sets_type_exemptions_and_tax_ids_by_the_mask_only(customers, tenant):
    created = create(customers, tenant, tax_ids=[pb.TaxId(type="eu_vat", value="DE136695976")])
    change = pb.Customer(
        name=created.name,
        customer_type=pb.BUSINESS,
        tax_exemptions=[exemption("CA-QC")],
        tax_ids=[pb.TaxId(type="eu_vat", value="ATU13585627")],
    )
    typed = update(customers, tenant, change, "customer_type", "tax_exemptions")
    assert typed.customer_type == pb.BUSINESS
    assert [e.jurisdiction for e in typed.tax_exemptions] == ["CA-QC"]
    assert [t.value for t in typed.tax_ids] == ["DE136695976"]  # not in the mask
    assert typed.etag == 'W/"2"'
    ids = update(customers, tenant, change, "tax_ids")
    assert [(t.value, t.country) for t in ids.tax_ids] == [("ATU13585627", "AT")]
    back = update(
        customers, tenant, pb.Customer(name=created.name), "customer_type", "tax_exemptions"
    )
    assert (back.customer_type, list(back.tax_exemptions)) == (pb.CONSUMER, [])


def test_an_update_refuses_a_bad_tax_id_and_changes_nothing(customers, tenant):
    created = create(customers, tenant, tax_ids=[pb.TaxId(type="eu_vat", value="DE136695976")])
    with pytest.raises(grpc.RpcError) as caught:
        update(
            customers,
            tenant,
            pb.Customer(
                name=created.name, tax_ids=[pb.TaxId(type="no_vat", value="NO 995 525 829 MVA")]
            ),
            "tax_ids",
        )
    assert field_violations(caught.value) == {
        "customer.tax_ids[0].value": "'NO 995 525 829 MVA' is not a valid no_vat number: its check digit is wrong"
    }
    fetched = customers.GetCustomer(
        pb.GetCustomerRequest(name=created.name), metadata=tenant.metadata
    )
    assert fetched == created


def test_buyer_of_gives_the_engines_the_records_facts():
    checked = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    fields = CustomerFields(
        display_name="Acme",
        currency_code="EUR",
        billing_address=PostalAddress(
            region_code="ca", administrative_area="on", postal_code="M5V"
        ),
        tax_ids=(
            TaxId("eu_vat", "DE136695976", Verification(TaxIdStatus.VALID, checked), "DE"),
            TaxId("ca_bn", "123026635", Verification(), "CA"),
        ),
        customer_type=CustomerType.BUSINESS,
        tax_exemptions=(Exemption("CA-ON", "resale", "ON-1", date(2026, 1, 1)),),
    )
    buyer = buyer_of(Customer("cus_1", fields, 1, now, now))
    assert buyer.place == Place("CA", "ON", "M5V")
    assert buyer.customer_type is CustomerType.BUSINESS
    assert buyer.tax_ids == (
        TaxIdFact("eu_vat", "DE136695976", TaxIdStatus.VALID, date(2026, 12, 5), "DE"),
        TaxIdFact("ca_bn", "123026635", TaxIdStatus.FORMAT_VALID, None, "CA"),
    )
    assert buyer.exemptions == (Exemption("CA-ON", "resale", "ON-1", date(2026, 1, 1)),)


def test_a_number_stored_before_the_checks_is_unknown_and_blocks_no_other_change(
    customers, tenant, server
):
    created = create(customers, tenant)
    engine = sa.create_engine(server.database.sync_url)
    cast = "CAST(:v AS jsonb)" if server.backend == "postgresql" else ":v"
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE customers SET tax_ids = {cast} WHERE tenant_id = :t"),
            {"v": json.dumps([{"type": "eu_vat", "value": "DE123456789"}]), "t": tenant.id},
        )
    engine.dispose()
    [old] = customers.GetCustomer(
        pb.GetCustomerRequest(name=created.name), metadata=tenant.metadata
    ).tax_ids
    assert (old.value, old.verification.status, old.verification.reason) == (
        "DE123456789",
        Status.UNKNOWN,
        "stored before tax ids were checked",
    )
    renamed = update(
        customers, tenant, pb.Customer(name=created.name, display_name="Acme AG"), "display_name"
    )
    assert (renamed.display_name, list(renamed.tax_ids)) == ("Acme AG", [old])
    with pytest.raises(grpc.RpcError) as caught:
        update(customers, tenant, pb.Customer(name=created.name, tax_ids=[old]), "tax_ids")
    assert field_violations(caught.value) == {
        "customer.tax_ids[0].value": "'DE123456789' is not a valid eu_vat number: its check digit is wrong"
    }
