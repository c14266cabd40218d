"""Health, reflection and the declared scopes."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from billing.api.scopes import required_scopes
from billing.api.server import API_FILES


def test_health_is_serving_without_a_token(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    overall = stub.Check(health_pb2.HealthCheckRequest(service=""))
    assert overall.status == health_pb2.HealthCheckResponse.SERVING
    named = stub.Check(health_pb2.HealthCheckRequest(service="billing.v1.CustomerService"))
    assert named.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_billing_services(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert "billing.v1.CustomerService" in names
    assert "grpc.health.v1.Health" in names


def test_every_rpc_declares_its_scope():
    scopes = required_scopes(API_FILES)
    methods = [m for f in API_FILES for s in f.services_by_name.values() for m in s.methods]
    assert len(scopes) == len(methods)
    assert scopes["/billing.v1.InvoiceService/FinalizeInvoice"] == "billing.write"
    assert scopes["/billing.v1.RuleService/PushRuleSet"] == "rules.admin"
    assert scopes["/billing.v1.CatalogService/PreviewPrice"] == "billing.read"
    assert scopes["/billing.v1.CustomerService/CreateCustomer"] == "billing.write"
    assert scopes["/billing.v1.CustomerService/GetCustomer"] == "billing.read"
    assert scopes["/billing.v1.CustomerService/ListCustomers"] == "billing.read"
    assert scopes["/billing.v1.CustomerService/UpdateCustomer"] == "billing.write"


def test_unknown_method_is_unimplemented(channel):
    call = channel.unary_unary("/billing.v1.CustomerService/DeleteEverything")
    try:
        call(b"")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    else:
        raise AssertionError("an unknown method answered")


def test_env_example_lists_every_setting():
    from dataclasses import fields
    from pathlib import Path

    from billing.config import Settings

    text = (Path(__file__).parents[1] / ".env.example").read_text()
    missing = [f.name for f in fields(Settings) if f"BILLING_{f.name.upper()}=" not in text]
    assert missing == []
