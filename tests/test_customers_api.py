"""CustomerService over a real gRPC channel, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import field_mask_pb2
from google.type import postal_address_pb2

from billing_client.v1 import customers_pb2 as pb
from conftest import Server, Tenant
from grpc_helpers import error_info, field_violations


def new_customer(**overrides: object) -> pb.Customer:
    values: dict[str, object] = {
        "display_name": "Acme GmbH",
        "email": "billing@acme.example",
        "currency_code": "EUR",
        "time_zone": "Europe/Berlin",
        "locale": "de-DE",
        "billing_address": postal_address_pb2.PostalAddress(
            region_code="DE",
            postal_code="10115",
            locality="Berlin",
            address_lines=["Invalidenstraße 1"],
        ),
        "tax_ids": [pb.TaxId(type="eu_vat", value="DE136695976")],
        "metadata": {"crm_id": "42"},
    }
    values.update(overrides)
    return pb.Customer(**values)  # type: ignore[arg-type]


def create(stub, tenant: Tenant, request_id: str | None = None, **fields: object) -> pb.Customer:  # type: ignore[no-untyped-def]
    request = pb.CreateCustomerRequest(
        customer=new_customer(**fields), request_id=request_id or uuid.uuid4().hex
    )
    customer: pb.Customer = stub.CreateCustomer(request, metadata=tenant.metadata)
    return customer


def rows(server: Server, table: str, tenant: Tenant) -> list[sa.Row]:  # type: ignore[type-arg]
    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.connect() as conn:
            result = conn.execute(
                sa.text(f"SELECT * FROM {table} WHERE tenant_id = :t ORDER BY 2"),
                {"t": tenant.id},
            )
            return list(result)
    finally:
        engine.dispose()


def test_create_then_get_returns_every_field(customers, tenant):
    created = create(customers, tenant)
    assert created.name.startswith("customers/cus_")
    assert len(created.name) == len("customers/cus_") + 26
    assert created.etag == 'W/"1"'
    fetched = customers.GetCustomer(
        pb.GetCustomerRequest(name=created.name), metadata=tenant.metadata
    )
    assert fetched == created
    assert fetched.display_name == "Acme GmbH"
    assert fetched.currency_code == "EUR"
    assert fetched.time_zone == "Europe/Berlin"
    assert fetched.billing_address.address_lines == ["Invalidenstraße 1"]
    assert [(t.type, t.value) for t in fetched.tax_ids] == [("eu_vat", "DE136695976")]
    assert dict(fetched.metadata) == {"crm_id": "42"}
    assert fetched.create_time == fetched.update_time


def test_defaults_for_time_zone_and_locale(customers, tenant):
    created = create(customers, tenant, time_zone="", locale="")
    assert (created.time_zone, created.locale) == ("UTC", "en-US")


def test_same_request_id_twice_creates_one(customers, tenant, server):
    first = create(customers, tenant, request_id="create-once")
    second = create(customers, tenant, request_id="create-once")
    assert second == first
    listed = customers.ListCustomers(pb.ListCustomersRequest(), metadata=tenant.metadata)
    assert [c.name for c in listed.customers] == [first.name]
    assert len(rows(server, "outbox_events", tenant)) == 1
    assert len(rows(server, "audit_log", tenant)) == 1


def test_request_id_reused_with_another_body_is_refused(customers, tenant):
    create(customers, tenant, request_id="key-1")
    with pytest.raises(grpc.RpcError) as failure:
        create(customers, tenant, request_id="key-1", display_name="Other Ltd")
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(failure.value).reason == "IDEMPOTENCY_KEY_REUSED"
    listed = customers.ListCustomers(pb.ListCustomersRequest(), metadata=tenant.metadata)
    assert len(listed.customers) == 1


def test_request_ids_are_scoped_per_tenant(customers, tenant, other_tenant):
    mine = create(customers, tenant, request_id="shared-key")
    theirs = create(customers, other_tenant, request_id="shared-key")
    assert mine.name != theirs.name


def test_duplicate_while_first_runs_is_aborted(customers, tenant):
    request = pb.CreateCustomerRequest(customer=new_customer(), request_id="slow-key")
    first = customers.CreateCustomer.future(request, metadata=tenant.with_faults(delay_ms=1500))
    time.sleep(0.4)  # the first holds its key for 1.5 s before committing
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(request, metadata=tenant.metadata)
    assert failure.value.code() == grpc.StatusCode.ABORTED
    assert error_info(failure.value).reason == "REQUEST_IN_PROGRESS"
    created = first.result(timeout=10)
    assert customers.CreateCustomer(request, metadata=tenant.metadata) == created


def test_failed_call_stores_no_key_and_writes_nothing(customers, tenant, server):
    request = pb.CreateCustomerRequest(customer=new_customer(), request_id="fails-once")
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(request, metadata=tenant.with_faults(fail=True))
    assert failure.value.code() == grpc.StatusCode.INTERNAL
    for table in ("customers", "outbox_events", "audit_log", "idempotency_keys"):
        assert rows(server, table, tenant) == [], table
    # Only successful results are stored, so the same key may be retried.
    assert customers.CreateCustomer(request, metadata=tenant.metadata).name


def test_unexpected_exception_is_internal_without_trace(customers, tenant):
    with pytest.raises(grpc.RpcError) as failure:
        create(customers, tenant) if False else customers.CreateCustomer(
            pb.CreateCustomerRequest(customer=new_customer(), request_id="boom"),
            metadata=tenant.with_faults(fail=True),
        )
    error = failure.value
    assert error.code() == grpc.StatusCode.INTERNAL
    details = error.details() or ""
    assert "Traceback" not in details
    assert "fault injected" not in details
    assert "RuntimeError" not in details
    info = error_info(error)
    assert info.reason == "INTERNAL"
    assert info.metadata["correlation_id"].startswith("req_")
    assert info.metadata["correlation_id"] in details


def test_caller_correlation_id_is_echoed_in_internal_errors(customers, tenant):
    metadata = (*tenant.with_faults(fail=True), ("x-request-id", "trace-me-123"))
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(
            pb.CreateCustomerRequest(customer=new_customer(), request_id="boom-2"),
            metadata=metadata,
        )
    assert error_info(failure.value).metadata["correlation_id"] == "trace-me-123"


def test_state_change_writes_event_and_audit_in_the_same_transaction(customers, tenant, server):
    created = create(customers, tenant, request_id="audited")
    [event] = rows(server, "outbox_events", tenant)
    assert event.event_type == "customer.created"
    assert event.resource_name == created.name
    assert event.published_at is None
    [audit] = rows(server, "audit_log", tenant)
    assert (audit.actor, audit.method, audit.request_id, audit.action) == (
        "test-user",
        "CreateCustomer",
        "audited",
        "create",
    )
    assert audit.resource_name == created.name


def test_update_applies_only_masked_fields(customers, tenant, server):
    created = create(customers, tenant)
    change = pb.Customer(name=created.name, display_name="Acme AG", email="ignored@x.example")
    updated = customers.UpdateCustomer(
        pb.UpdateCustomerRequest(
            customer=change,
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            request_id=uuid.uuid4().hex,
        ),
        metadata=tenant.metadata,
    )
    assert updated.display_name == "Acme AG"
    assert updated.email == "billing@acme.example"
    assert updated.etag == 'W/"2"'
    assert updated.update_time.ToDatetime() > created.update_time.ToDatetime()
    audits = rows(server, "audit_log", tenant)
    assert [a.action for a in audits] == ["create", "update"]
    changes = audits[1].changes
    changes = json.loads(changes) if isinstance(changes, str) else changes  # SQLite: JSON text
    assert changes == {"display_name": {"from": "Acme GmbH", "to": "Acme AG"}}
    events = [e.event_type for e in rows(server, "outbox_events", tenant)]
    assert events == ["customer.created", "customer.updated"]


def test_update_with_stale_etag_is_aborted_and_changes_nothing(customers, tenant):
    created = create(customers, tenant)
    mask = field_mask_pb2.FieldMask(paths=["display_name"])
    customers.UpdateCustomer(
        pb.UpdateCustomerRequest(
            customer=pb.Customer(name=created.name, display_name="First", etag=created.etag),
            update_mask=mask,
            request_id="u1",
        ),
        metadata=tenant.metadata,
    )
    with pytest.raises(grpc.RpcError) as failure:
        customers.UpdateCustomer(
            pb.UpdateCustomerRequest(
                customer=pb.Customer(name=created.name, display_name="Second", etag=created.etag),
                update_mask=mask,
                request_id="u2",
            ),
            metadata=tenant.metadata,
        )
    assert failure.value.code() == grpc.StatusCode.ABORTED
    assert error_info(failure.value).reason == "ETAG_MISMATCH"
    current = customers.GetCustomer(
        pb.GetCustomerRequest(name=created.name), metadata=tenant.metadata
    )
    assert current.display_name == "First"
    assert current.etag == 'W/"2"'


def test_two_updates_against_one_etag_exactly_one_applies(customers, tenant):
    created = create(customers, tenant)
    mask = field_mask_pb2.FieldMask(paths=["display_name"])

    def update(label: str) -> grpc.Future:
        return customers.UpdateCustomer.future(
            pb.UpdateCustomerRequest(
                customer=pb.Customer(name=created.name, display_name=label, etag=created.etag),
                update_mask=mask,
                request_id=label,
            ),
            # Both hold their transaction open for a while, so they overlap for certain.
            metadata=tenant.with_faults(delay_ms=600),
        )

    futures = [update("left"), update("right")]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=15).display_name)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.ABORTED
            outcomes.append("aborted")
    assert sorted(outcomes) in (["aborted", "left"], ["aborted", "right"])
    winner = next(o for o in outcomes if o != "aborted")
    current = customers.GetCustomer(
        pb.GetCustomerRequest(name=created.name), metadata=tenant.metadata
    )
    assert (current.display_name, current.etag) == (winner, 'W/"2"')


def test_bad_input_names_every_bad_field(customers, tenant):
    with pytest.raises(grpc.RpcError) as failure:
        create(
            customers,
            tenant,
            display_name="",
            currency_code="USX",
            time_zone="Mars/Olympus",
            email="nope",
            tax_ids=[pb.TaxId(type="VAT", value="")],
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(failure.value)
    assert set(violations) == {
        "customer.display_name",
        "customer.currency_code",
        "customer.time_zone",
        "customer.email",
        "customer.tax_ids[0].type",
        "customer.tax_ids[0].value",
    }
    assert "ISO 4217" in violations["customer.currency_code"]
    assert "customer.currency_code" in (failure.value.details() or "")
    assert (
        customers.ListCustomers(pb.ListCustomersRequest(), metadata=tenant.metadata).customers == []
    )


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (["currency_code"], "currency_code cannot be changed"),
        ([], "is required"),
        (["name"], "set by the server"),
        (["nickname"], "unknown field 'nickname'"),
    ],
)
def test_bad_update_mask_is_invalid_argument(customers, tenant, paths, message):
    created = create(customers, tenant)
    with pytest.raises(grpc.RpcError) as failure:
        customers.UpdateCustomer(
            pb.UpdateCustomerRequest(
                customer=pb.Customer(name=created.name, currency_code="USD"),
                update_mask=field_mask_pb2.FieldMask(paths=paths),
                request_id=uuid.uuid4().hex,
            ),
            metadata=tenant.metadata,
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in field_violations(failure.value)["update_mask"]


def test_missing_request_id_is_invalid_argument(customers, tenant):
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(
            pb.CreateCustomerRequest(customer=new_customer()), metadata=tenant.metadata
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(failure.value)) == {"request_id"}


def test_malformed_name_is_invalid_argument(customers, tenant):
    with pytest.raises(grpc.RpcError) as failure:
        customers.GetCustomer(pb.GetCustomerRequest(name="customers/42"), metadata=tenant.metadata)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(failure.value)) == {"name"}


def test_another_tenants_customer_is_indistinguishable_from_a_missing_one(
    customers, tenant, other_tenant
):
    theirs = create(customers, other_tenant)
    missing = "customers/cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"

    def failure_of(call, name):  # type: ignore[no-untyped-def]
        with pytest.raises(grpc.RpcError) as failure:
            call(name)
        error = failure.value
        return error.code(), (error.details() or "").replace(name, "NAME"), error_info(error).reason

    def get(name):  # type: ignore[no-untyped-def]
        return customers.GetCustomer(pb.GetCustomerRequest(name=name), metadata=tenant.metadata)

    def update(name):  # type: ignore[no-untyped-def]
        return customers.UpdateCustomer(
            pb.UpdateCustomerRequest(
                customer=pb.Customer(name=name, display_name="Hijack"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                request_id=uuid.uuid4().hex,
            ),
            metadata=tenant.metadata,
        )

    for call in (get, update):
        assert failure_of(call, theirs.name) == failure_of(call, missing)
        assert failure_of(call, theirs.name)[0] == grpc.StatusCode.NOT_FOUND
    assert (
        customers.ListCustomers(pb.ListCustomersRequest(), metadata=tenant.metadata).customers == []
    )
    still = customers.GetCustomer(
        pb.GetCustomerRequest(name=theirs.name), metadata=other_tenant.metadata
    )
    assert still.display_name == "Acme GmbH"


def test_list_pages_through_all_customers_in_creation_order(customers, tenant):
    created = [create(customers, tenant, display_name=f"C{i}").name for i in range(5)]
    seen, token, pages = [], "", 0
    while True:
        page = customers.ListCustomers(
            pb.ListCustomersRequest(page_size=2, page_token=token), metadata=tenant.metadata
        )
        seen += [c.name for c in page.customers]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == created
    assert pages == 3


def test_bad_page_token_is_invalid_argument(customers, tenant):
    with pytest.raises(grpc.RpcError) as failure:
        customers.ListCustomers(
            pb.ListCustomersRequest(page_token="garbage!"), metadata=tenant.metadata
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(failure.value)) == {"page_token"}
