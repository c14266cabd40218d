"""Bearer tokens and scopes over a real channel."""

from __future__ import annotations

import json
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


MISSING = object()  # the claim is left out


def sign_any(payload: dict[str, object], secret: str) -> str:
    """HS256 over any JSON payload (jwt.encode refuses some of the shapes tested here)."""
    from jwt.api_jws import PyJWS

    return PyJWS().encode(json.dumps(payload).encode(), secret, algorithm="HS256")


def _payload(**claims: object) -> dict[str, object]:
    now = int(time.time())
    payload: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "svc-orders",
        "tenant_id": f"t_claims_{uuid.uuid4().hex[:12]}",
        "scope": "billing.read",
        "iat": now,
        "exp": now + 600,
    }
    payload.update(claims)
    return {k: v for k, v in payload.items() if v is not MISSING}


NOW = int(time.time())

# Every claim the server reads has one type; each row is a token that used to crash the call
# (INTERNAL), be read leniently, or be accepted, and must be UNAUTHENTICATED with a plain message.
BAD_CLAIMS = [
    ({"scope": 42}, "'scope' claim must be a space-separated string or a list of strings"),
    ({"scope": True}, "'scope' claim must be a space-separated string or a list of strings"),
    ({"scope": {"billing.read": 1}}, "'scope' claim must be"),
    ({"scope": ["billing.read", 3]}, "'scope' claim must be"),
    ({"scope": [["billing.read"]]}, "'scope' claim must be"),
    ({"scope": ["billing.read", ""]}, "'scope' claim must be"),
    ({"scope": ["billing.read billing.write"]}, "'scope' claim must be"),
    ({"scope": MISSING, "scp": {"billing.read": 1}}, "'scp' claim must be"),
    ({"scope": " ".join(f"s{i}" for i in range(65))}, "holds more than 64 scopes"),
    ({"scope": "billing.read " + "x" * 129}, "or a scope longer than 128 characters"),
    ({"exp": str(NOW + 600)}, "'exp' claim must be an integer"),
    ({"exp": True}, "'exp' claim must be an integer"),
    ({"exp": NOW + 600.5}, "'exp' claim must be an integer"),
    ({"exp": None}, "'exp' claim must be an integer"),
    ({"exp": [NOW + 600]}, "'exp' claim must be an integer"),
    ({"exp": {"at": NOW + 600}}, "'exp' claim must be an integer"),
    ({"exp": 10**20}, "'exp' claim is out of range"),
    ({"exp": -1}, "'exp' claim is out of range"),
    ({"exp": MISSING}, "has no 'exp' claim"),
    ({"nbf": "0"}, "'nbf' claim must be an integer"),
    ({"nbf": False}, "'nbf' claim must be an integer"),
    ({"nbf": NOW + 3600}, "not valid yet (nbf)"),
    ({"iat": "0"}, "'iat' claim must be an integer"),
    ({"iat": NOW + 3600}, "issued in the future (iat)"),
    ({"sub": 42}, "the bearer token is not valid"),
    ({"sub": ""}, "no usable 'sub' claim (a non-empty string of at most 256 characters)"),
    ({"sub": "x" * 257}, "no usable 'sub' claim"),
    ({"sub": ["svc"]}, "the bearer token is not valid"),
    ({"sub": MISSING}, "the bearer token is not valid"),
    ({"tenant_id": 42}, "no usable 'tenant_id' claim (a non-empty string of at most 64"),
    ({"tenant_id": ""}, "no usable 'tenant_id' claim"),
    ({"tenant_id": "t" * 65}, "no usable 'tenant_id' claim"),
    ({"tenant_id": {"id": "t"}}, "no usable 'tenant_id' claim"),
    ({"tenant_id": MISSING}, "no usable 'tenant_id' claim"),
    ({"iss": [ISSUER]}, "the bearer token is not valid"),
    ({"aud": 42}, "the bearer token is not valid"),
    ({"aud": [AUDIENCE, 3]}, "the bearer token is not valid"),
]


@pytest.mark.parametrize(
    ("claims", "message"),
    BAD_CLAIMS,
    ids=[f"{i}-{'-'.join(c)}" for i, (c, _) in enumerate(BAD_CLAIMS)],
)
def test_claims_of_the_wrong_type_are_unauthenticated(customers, claims, message):
    from conftest import SECRET

    token = sign_any(_payload(**claims), SECRET)
    with pytest.raises(grpc.RpcError) as failure:
        customers.ListCustomers(pb.ListCustomersRequest(), metadata=auth(token))
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert message in (failure.value.details() or "")
    assert error_info(failure.value).reason == "UNAUTHENTICATED"


def test_a_payload_that_is_not_an_object_or_a_token_too_long_is_unauthenticated(customers):
    from jwt.api_jws import PyJWS

    from conftest import SECRET

    not_an_object = PyJWS().encode(b"[1, 2]", SECRET, algorithm="HS256")
    # Longer than the server takes, shorter than gRPC's 8 KiB of metadata.
    too_long = jwt.encode(_payload(pad="x" * 5500), SECRET, algorithm="HS256")
    assert 7 * 1024 < len(too_long) < 7800
    for token, message in [
        (not_an_object, "the bearer token is not valid"),
        (too_long, "the bearer token is longer than 7168 characters"),
        ("a.b.c", "the bearer token is not valid"),
    ]:
        with pytest.raises(grpc.RpcError) as failure:
            customers.ListCustomers(pb.ListCustomersRequest(), metadata=auth(token))
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED, message
        assert message in (failure.value.details() or "")


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "billing.read  billing.write"}, "both"),
        ({"scope": ["billing.read", "billing.write"]}, "both"),
        ({"scope": MISSING, "scp": "billing.read billing.write"}, "both"),
        ({"scope": None, "scp": ["billing.read"]}, "read"),
        ({"scope": MISSING}, "none"),
    ],
)
def test_scope_as_a_string_or_a_list_of_strings(customers, claims, scopes):
    from conftest import SECRET

    token = auth(jwt.encode(_payload(**claims), SECRET, algorithm="HS256"))
    if scopes == "none":
        assert (
            code_of(lambda: customers.ListCustomers(pb.ListCustomersRequest(), metadata=token))
            == grpc.StatusCode.PERMISSION_DENIED
        )
        return
    assert customers.ListCustomers(pb.ListCustomersRequest(), metadata=token).customers == []
    can_write = code_of_or_ok(lambda: customers.CreateCustomer(create_request(), metadata=token))
    assert can_write == (
        grpc.StatusCode.OK if scopes == "both" else grpc.StatusCode.PERMISSION_DENIED
    )


def code_of_or_ok(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        call()
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


def test_tokens_never_reach_the_logs(customers, caplog):
    """Valid, forged, expired and malformed tokens: none of them, nor their signatures, is in
    any log record (message, extra fields or trace) the server writes meanwhile."""
    import logging

    from conftest import SECRET

    caplog.set_level(logging.DEBUG)
    tokens = [
        make_token(f"t_logs_{uuid.uuid4().hex[:8]}"),
        make_token("t_logs_expired", lifetime_s=60, now=time.time() - 3600),
        jwt.encode(_payload(), "not-the-secret-" + uuid.uuid4().hex, algorithm="HS256"),
        sign_any(_payload(scope={"billing.read": 1}), SECRET),
        "not.a.token-" + uuid.uuid4().hex,
    ]
    for token in tokens:
        code_of_or_ok(
            lambda t=token: customers.ListCustomers(pb.ListCustomersRequest(), metadata=auth(t))
        )
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__} {record.exc_text or ''}"
        for record in caplog.records
    )
    for token in tokens:
        assert token not in logged
        assert token.rsplit(".", 1)[-1] not in logged
