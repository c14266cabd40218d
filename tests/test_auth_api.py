"""Bearer tokens and scopes over a real channel."""

from __future__ import annotations

import time
import uuid

import grpc
import jwt
import pytest

from billing_client.v1 import customers_pb2 as pb
from conftest import AUDIENCE, ISSUER, auth, make_token
from grpc_helpers import error_info


def create_request() -> pb.CreateCustomerRequest:
    return pb.CreateCustomerRequest(
        customer=pb.Customer(display_name="Acme", currency_code="USD"), request_id=uuid.uuid4().hex
    )


def code_of(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as failure:
        call()
    code: grpc.StatusCode = failure.value.code()
    return code


def test_missing_token_is_unauthenticated(customers):
    assert (
        code_of(lambda: customers.CreateCustomer(create_request()))
        == grpc.StatusCode.UNAUTHENTICATED
    )
    assert (
        code_of(
            lambda: customers.ListCustomers(
                pb.ListCustomersRequest(), metadata=(("authorization", "Basic x"),)
            )
        )
        == grpc.StatusCode.UNAUTHENTICATED
    )


def test_expired_token_is_unauthenticated(customers):
    expired = make_token("t_expired", lifetime_s=60, now=time.time() - 3600)
    with pytest.raises(grpc.RpcError) as failure:
        customers.ListCustomers(pb.ListCustomersRequest(), metadata=auth(expired))
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in (failure.value.details() or "")
    assert error_info(failure.value).reason == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "someone-else"},
        {"aud": "another-service"},
        {"tenant_id": None},
    ],
)
def test_wrong_issuer_audience_or_tenant_is_unauthenticated(customers, claims):
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u",
        "tenant_id": "t_x",
        "scope": "billing.read",
        "iat": now,
        "exp": now + 600,
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    from conftest import SECRET

    token = jwt.encode(payload, SECRET, algorithm="HS256")
    assert (
        code_of(lambda: customers.ListCustomers(pb.ListCustomersRequest(), metadata=auth(token)))
        == grpc.StatusCode.UNAUTHENTICATED
    )


def test_token_signed_with_another_key_is_unauthenticated(customers):
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "u",
            "tenant_id": "t_x",
            "scope": "billing.read",
            "exp": now + 600,
        },
        "not-the-secret-" + uuid.uuid4().hex,
        algorithm="HS256",
    )
    assert (
        code_of(lambda: customers.ListCustomers(pb.ListCustomersRequest(), metadata=auth(forged)))
        == grpc.StatusCode.UNAUTHENTICATED
    )


def test_token_without_the_scope_is_permission_denied(customers):
    read_only = auth(make_token("t_reader", scopes=("billing.read",)))
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(create_request(), metadata=read_only)
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "billing.write" in (failure.value.details() or "")
    # The same token may read.
    assert customers.ListCustomers(pb.ListCustomersRequest(), metadata=read_only).customers == []


def test_write_only_token_cannot_read(customers):
    writer = auth(make_token("t_writer", scopes=("billing.write",)))
    created = customers.CreateCustomer(create_request(), metadata=writer)
    assert (
        code_of(
            lambda: customers.GetCustomer(pb.GetCustomerRequest(name=created.name), metadata=writer)
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
