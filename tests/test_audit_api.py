"""AuditService.ListAuditRecords, the append-only audit table, and a request_id reused on
another RPC, over a real gRPC channel on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid

import grpc
import psycopg
import pytest
import sqlalchemy as sa
from google.protobuf import field_mask_pb2, timestamp_pb2

from billing.api.auth import mint_hs256_token
from billing.api.convert import body_hash
from billing_client.v1 import audit_pb2 as apb
from billing_client.v1 import audit_pb2_grpc
from billing_client.v1 import customers_pb2 as pb
from conftest import AUDIENCE, ISSUER, SECRET, Server, Tenant, auth, make_token
from grpc_helpers import error_info, field_violations


@pytest.fixture
def audit(channel: grpc.Channel) -> audit_pb2_grpc.AuditServiceStub:
    return audit_pb2_grpc.AuditServiceStub(channel)


def create_request(request_id: str, display_name: str = "Acme GmbH") -> pb.CreateCustomerRequest:
    return pb.CreateCustomerRequest(
        customer=pb.Customer(display_name=display_name, currency_code="EUR"),
        request_id=request_id,
    )


def rename_request(name: str, display_name: str, request_id: str) -> pb.UpdateCustomerRequest:
    return pb.UpdateCustomerRequest(
        customer=pb.Customer(name=name, display_name=display_name),
        update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        request_id=request_id,
    )


def as_subject(tenant: Tenant, subject: str) -> tuple[tuple[str, str], ...]:
    """The same tenant, another caller."""
    token = mint_hs256_token(
        SECRET,
        tenant_id=tenant.id,
        subject=subject,
        scopes=("billing.read", "billing.write", "billing.audit.read"),
        issuer=ISSUER,
        audience=AUDIENCE,
        lifetime_s=600,
    )
    return auth(token)


def list_all(audit, metadata, **filters: object) -> list[apb.AuditRecord]:  # type: ignore[no-untyped-def]
    request = apb.ListAuditRecordsRequest(page_size=1000, **filters)  # type: ignore[arg-type]
    reply = audit.ListAuditRecords(request, metadata=metadata)
    assert reply.next_page_token == ""
    return list(reply.audit_records)


# --- what a record holds -----------------------------------------------------------------------


def test_a_record_names_actor_tenant_method_request_digest_and_changes(customers, audit, tenant):
    create = create_request("audit-create")
    created = customers.CreateCustomer(create, metadata=tenant.metadata)
    rename = rename_request(created.name, "Acme AG", "audit-rename")
    customers.UpdateCustomer(rename, metadata=tenant.metadata)

    updated, first = list_all(audit, tenant.metadata)  # newest first
    assert updated.name.startswith("auditRecords/aud_")
    assert (updated.tenant, updated.actor, updated.method, updated.request_id) == (
        tenant.id,
        "test-user",
        "UpdateCustomer",
        "audit-rename",
    )
    assert (updated.resource, updated.action) == (created.name, "update")
    assert json.loads(updated.changes_json) == {
        "display_name": {"from": "Acme GmbH", "to": "Acme AG"}
    }
    # The digest is the body hash the idempotency key stores for the same request.
    assert updated.request_digest == body_hash(rename)
    assert len(updated.request_digest) == 32
    assert (first.method, first.request_id, first.action) == (
        "CreateCustomer",
        "audit-create",
        "create",
    )
    assert first.request_digest == body_hash(create)
    assert first.request_digest != updated.request_digest
    assert updated.create_time.ToDatetime() >= first.create_time.ToDatetime()


def test_a_replayed_write_adds_no_record(customers, audit, tenant):
    request = create_request("audit-replay")
    customers.CreateCustomer(request, metadata=tenant.metadata)
    customers.CreateCustomer(request, metadata=tenant.metadata)
    assert len(list_all(audit, tenant.metadata)) == 1


# --- filters and pages -------------------------------------------------------------------------


def test_filters_by_resource_actor_method_and_time(customers, audit, tenant):
    alice, bob = as_subject(tenant, "alice"), as_subject(tenant, "bob")
    one = customers.CreateCustomer(create_request("f-1"), metadata=alice)
    two = customers.CreateCustomer(create_request("f-2"), metadata=bob)
    customers.UpdateCustomer(rename_request(one.name, "One AG", "f-3"), metadata=bob)
    customers.UpdateCustomer(rename_request(two.name, "Two AG", "f-4"), metadata=alice)

    def ids(**filters: object) -> list[str]:
        return [r.request_id for r in list_all(audit, tenant.metadata, **filters)]

    assert ids() == ["f-4", "f-3", "f-2", "f-1"]
    assert ids(resource=one.name) == ["f-3", "f-1"]
    assert ids(actor="alice") == ["f-4", "f-1"]
    assert ids(method="UpdateCustomer") == ["f-4", "f-3"]
    assert ids(resource=two.name, actor="alice", method="UpdateCustomer") == ["f-4"]
    assert ids(actor="carol") == []
    assert ids(resource="customers/cus_none") == []

    times = {r.request_id: r.create_time for r in list_all(audit, tenant.metadata)}
    # start inclusive, end exclusive
    assert ids(start_time=times["f-2"]) == ["f-4", "f-3", "f-2"]
    assert ids(end_time=times["f-3"]) == ["f-2", "f-1"]
    assert ids(start_time=times["f-2"], end_time=times["f-4"]) == ["f-3", "f-2"]
    assert ids(start_time=times["f-4"], resource=one.name) == []


def test_pages_are_exact_and_newest_first(customers, audit, tenant):
    for i in range(5):
        customers.CreateCustomer(create_request(f"p-{i}"), metadata=tenant.metadata)
    pages: list[list[str]] = []
    token = ""
    while True:
        reply = audit.ListAuditRecords(
            apb.ListAuditRecordsRequest(page_size=2, page_token=token), metadata=tenant.metadata
        )
        pages.append([r.request_id for r in reply.audit_records])
        token = reply.next_page_token
        if not token:
            break
    assert pages == [["p-4", "p-3"], ["p-2", "p-1"], ["p-0"]]

    # A page that ends exactly at the last record says so (no empty page after it).
    first = audit.ListAuditRecords(
        apb.ListAuditRecordsRequest(page_size=5), metadata=tenant.metadata
    )
    assert len(first.audit_records) == 5
    assert first.next_page_token == ""

    # Filters page the same way.
    filtered = audit.ListAuditRecords(
        apb.ListAuditRecordsRequest(page_size=1, method="CreateCustomer"), metadata=tenant.metadata
    )
    assert [r.request_id for r in filtered.audit_records] == ["p-4"]
    second = audit.ListAuditRecords(
        apb.ListAuditRecordsRequest(
            page_size=1, method="CreateCustomer", page_token=filtered.next_page_token
        ),
        metadata=tenant.metadata,
    )
    assert [r.request_id for r in second.audit_records] == ["p-3"]


def test_a_tenant_sees_none_of_another_tenants_records(customers, audit, tenant, other_tenant):
    created = customers.CreateCustomer(create_request("iso-1"), metadata=tenant.metadata)
    assert len(list_all(audit, tenant.metadata)) == 1
    assert list_all(audit, other_tenant.metadata) == []
    assert list_all(audit, other_tenant.metadata, resource=created.name) == []
    assert list_all(audit, other_tenant.metadata, actor="test-user") == []
    # A page token of tenant A's list read by tenant B shows B's records only (none).
    for i in range(3):
        customers.CreateCustomer(create_request(f"iso-p{i}"), metadata=tenant.metadata)
    page = audit.ListAuditRecords(
        apb.ListAuditRecordsRequest(page_size=1), metadata=tenant.metadata
    )
    assert page.next_page_token
    theirs = audit.ListAuditRecords(
        apb.ListAuditRecordsRequest(page_size=10, page_token=page.next_page_token),
        metadata=other_tenant.metadata,
    )
    assert list(theirs.audit_records) == []


def test_listing_needs_the_audit_scope(audit, tenant):
    reader = auth(make_token(tenant.id, scopes=("billing.read", "billing.write")))
    with pytest.raises(grpc.RpcError) as failure:
        audit.ListAuditRecords(apb.ListAuditRecordsRequest(), metadata=reader)
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
    only_audit = auth(make_token(tenant.id, scopes=("billing.audit.read",)))
    assert audit.ListAuditRecords(apb.ListAuditRecordsRequest(), metadata=only_audit)


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"actor": "a\x00b"}, "actor"),
        ({"resource": "customers/" + "x" * 200}, "resource"),
        ({"method": "M" * 65}, "method"),
        (
            {
                "start_time": timestamp_pb2.Timestamp(seconds=1_800_000_000),
                "end_time": timestamp_pb2.Timestamp(seconds=1_700_000_000),
            },
            "end_time",
        ),
    ],
)
def test_bad_filters_are_invalid_arguments(audit, tenant, request_fields, field):
    with pytest.raises(grpc.RpcError) as failure:
        audit.ListAuditRecords(
            apb.ListAuditRecordsRequest(**request_fields), metadata=tenant.metadata
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(failure.value)


def test_page_size_is_capped_at_1000(customers, audit, tenant):
    customers.CreateCustomer(create_request("cap-1"), metadata=tenant.metadata)
    reply = audit.ListAuditRecords(
        apb.ListAuditRecordsRequest(page_size=2_000_000_000), metadata=tenant.metadata
    )
    assert [r.request_id for r in reply.audit_records] == ["cap-1"]


# --- append-only -------------------------------------------------------------------------------


def _dsn(server: Server) -> str:
    return server.database.sync_url.replace("postgresql+psycopg://", "postgresql://")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE tenant_id = %(t)s",
        "DELETE FROM audit_log WHERE tenant_id = %(t)s",
        "TRUNCATE audit_log",
    ],
)
def test_postgresql_refuses_to_change_or_remove_audit_records(customers, tenant, server, statement):
    if server.backend != "postgresql":
        pytest.skip("PostgreSQL's triggers; SQLite has its own test")
    customers.CreateCustomer(create_request("append-only"), metadata=tenant.metadata)
    with psycopg.connect(_dsn(server), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement, {"t": tenant.id})
        rows = conn.execute(
            "SELECT actor FROM audit_log WHERE tenant_id = %s", (tenant.id,)
        ).fetchall()
    assert rows == [("test-user",)]


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"]
)
def test_sqlite_refuses_to_change_or_remove_audit_records(customers, tenant, server, statement):
    if server.backend != "sqlite":
        pytest.skip("SQLite's triggers; PostgreSQL has its own test")
    customers.CreateCustomer(create_request("append-only"), metadata=tenant.metadata)
    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.connect() as conn:
            with pytest.raises(sa.exc.IntegrityError, match="append-only"):
                conn.execute(sa.text(statement + " WHERE tenant_id = :t"), {"t": tenant.id})
            conn.rollback()
            actors = conn.execute(
                sa.text("SELECT actor FROM audit_log WHERE tenant_id = :t"), {"t": tenant.id}
            ).all()
    finally:
        engine.dispose()
    assert actors == [("test-user",)]


# --- one request_id, one RPC -------------------------------------------------------------------


def test_a_request_id_reused_on_another_rpc_is_refused(customers, audit, tenant):
    created = customers.CreateCustomer(create_request("one-id"), metadata=tenant.metadata)
    with pytest.raises(grpc.RpcError) as failure:
        customers.UpdateCustomer(
            rename_request(created.name, "Renamed AG", "one-id"), metadata=tenant.metadata
        )
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(failure.value)
    assert info.reason == "IDEMPOTENCY_KEY_REUSED"
    assert info.metadata["first_method"] == "CreateCustomer"
    assert "CreateCustomer" in (failure.value.details() or "")
    # Nothing changed, nothing audited.
    got = customers.GetCustomer(pb.GetCustomerRequest(name=created.name), metadata=tenant.metadata)
    assert got.display_name == "Acme GmbH"
    assert [r.method for r in list_all(audit, tenant.metadata)] == ["CreateCustomer"]
    # The same RPC with the same body is still a replay.
    again = customers.CreateCustomer(create_request("one-id"), metadata=tenant.metadata)
    assert again == created
    # And the same RPC with another body is still refused as before, naming no other RPC.
    with pytest.raises(grpc.RpcError) as other_body:
        customers.CreateCustomer(create_request("one-id", "Other"), metadata=tenant.metadata)
    assert other_body.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "first_method" not in error_info(other_body.value).metadata


def test_a_request_id_first_used_by_an_update_refuses_a_create(customers, tenant):
    created = customers.CreateCustomer(create_request(uuid.uuid4().hex), metadata=tenant.metadata)
    customers.UpdateCustomer(
        rename_request(created.name, "Renamed AG", "update-first"), metadata=tenant.metadata
    )
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(create_request("update-first"), metadata=tenant.metadata)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(failure.value).metadata["first_method"] == "UpdateCustomer"
    listed = customers.ListCustomers(pb.ListCustomersRequest(), metadata=tenant.metadata)
    assert [c.name for c in listed.customers] == [created.name]


def test_the_same_request_id_on_two_rpcs_at_once_contends_like_a_duplicate(customers, tenant):
    # The key lock (advisory lock / in-flight set) covers (tenant, request_id), so the second
    # RPC does not run beside the first: ABORTED at once, and once the first has committed,
    # refused as reused.
    created = customers.CreateCustomer(create_request(uuid.uuid4().hex), metadata=tenant.metadata)
    slow = customers.CreateCustomer.future(
        create_request("both-at-once"), metadata=tenant.with_faults(delay_ms=1500)
    )
    time.sleep(0.4)  # the first holds its key for 1.5 s before committing
    rename = rename_request(created.name, "Renamed AG", "both-at-once")
    with pytest.raises(grpc.RpcError) as failure:
        customers.UpdateCustomer(rename, metadata=tenant.metadata)
    assert failure.value.code() == grpc.StatusCode.ABORTED
    assert error_info(failure.value).reason == "REQUEST_IN_PROGRESS"
    slow.result(timeout=10)
    with pytest.raises(grpc.RpcError) as later:
        customers.UpdateCustomer(rename, metadata=tenant.metadata)
    assert later.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(later.value).metadata["first_method"] == "CreateCustomer"
