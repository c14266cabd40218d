"""Logs in the Elastic Common Schema (ADR 0060): each line a JSON object with @timestamp,
log.level and message; in a call, the trace and span ids (the same the collector received),
the tenant, the RPC method and the request id. Never a token, a secret or a card number: the
mask on its own, and a server driven at DEBUG with all three, its whole output searched."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import jwt
import pytest

from billing.observability.logs import QUIET_LOGGERS, configure_logging, ecs_handler
from billing_client.v1 import customers_pb2, customers_pb2_grpc, payments_pb2, payments_pb2_grpc
from conftest import SECRET, Database, ThreadedServer, auth, make_token, server_settings
from otlp_sink import GrpcSink

CARD = "4242 4242 4242 4242"
OTLP_KEY = "otlp-licence-" + uuid.uuid4().hex
GATEWAY_KEY = "sk_live_" + uuid.uuid4().hex


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_the_mask_covers_bearer_tokens_jwts_sensitive_keys_and_exceptions() -> None:
    out = io.StringIO()
    log = logging.getLogger("test.ecs_mask")
    handler = ecs_handler(out)
    log.addHandler(handler)
    log.propagate = False
    token = make_token("t_mask")
    try:
        log.warning(
            "upstream said %s",
            f"authorization: Bearer {token}",
            extra={
                "api_key": GATEWAY_KEY,
                "request": {"headers": {"api-key": OTLP_KEY}, "Client-Secret": "s3", "n": 2},
                "echo": f"token={token}",
            },
        )
        try:
            raise ValueError(f"card {CARD} refused under {token}")
        except ValueError:
            log.exception("gateway crashed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    first, second = _lines(out.getvalue())
    assert first["message"] == "upstream said authorization: Bearer [redacted]"
    assert first["log.level"] == "warning"
    assert first["api_key"] == "[redacted]"
    assert first["request"] == {"headers": "[redacted]", "Client-Secret": "[redacted]", "n": 2}
    assert first["echo"] == "token=[redacted]"
    assert second["error"]["type"] == "ValueError"
    assert second["error"]["message"] == "card **** **** **** 4242 refused under [redacted]"
    assert set(first) >= {"@timestamp", "log.level", "message", "ecs.version", "log"}
    for secret in (token, GATEWAY_KEY, OTLP_KEY, CARD, CARD.replace(" ", "")):
        assert secret not in out.getvalue()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The server's root logger as `billing serve` sets it, at DEBUG, into a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    out = io.StringIO()
    configure_logging("DEBUG", stream=out)
    try:
        yield out
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)


def _code(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


def test_a_driven_server_logs_ecs_with_its_call_context_and_no_secret(
    backend: str, make_database: Callable[[str], Database], captured: io.StringIO
) -> None:
    database = make_database(backend)
    tenant = f"t_{uuid.uuid4().hex[:16]}"
    token = make_token(tenant)
    forged = jwt.encode({"tenant_id": tenant, "sub": "x"}, "not-the-secret-" + "0" * 32)
    sink = GrpcSink()
    server = ThreadedServer(
        server_settings(
            database.async_url,
            trace_exporter="otlp",
            trace_sample_ratio=1.0,
            otlp_endpoint=sink.endpoint,
            otlp_headers=f"api-key={OTLP_KEY}",
        )
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            customers = customers_pb2_grpc.CustomerServiceStub(channel)
            payments = payments_pb2_grpc.PaymentServiceStub(channel)
            listed = customers.ListCustomers(
                customers_pb2.ListCustomersRequest(), metadata=auth(token)
            )
            assert list(listed.customers) == []
            assert (
                _code(
                    lambda: customers.ListCustomers(
                        customers_pb2.ListCustomersRequest(), metadata=auth(forged)
                    )
                )
                == grpc.StatusCode.UNAUTHENTICATED
            )
            card_refused = _code(
                lambda: customers.CreateCustomer(
                    customers_pb2.CreateCustomerRequest(
                        customer=customers_pb2.Customer(
                            display_name=f"card {CARD}", currency_code="EUR"
                        ),
                        request_id=uuid.uuid4().hex,
                    ),
                    metadata=(*auth(token), ("x-request-id", "req-logs-card")),
                )
            )
            assert card_refused == grpc.StatusCode.INVALID_ARGUMENT
            _code(
                lambda: payments.SetGatewayCredentials(
                    payments_pb2.SetGatewayCredentialsRequest(
                        gateway="sandbox",
                        credentials={"api_key": GATEWAY_KEY},
                        request_id=uuid.uuid4().hex,
                    ),
                    metadata=auth(token),
                )
            )
    finally:
        server.stop()
        sink.stop()

    text = captured.getvalue()
    lines = _lines(text)
    for line in lines:
        assert {"@timestamp", "log.level", "message", "ecs.version"} <= set(line), line

    # The card's refusal: its call's context, and the very span the collector received.
    [refused] = [
        line
        for line in lines
        if line.get("http", {}).get("request", {}).get("id") == "req-logs-card"
    ]
    assert refused["message"] == "call refused"
    assert refused["log.level"] == "debug"
    assert refused["organization"] == {"id": tenant}
    assert refused["rpc"]["service"] == "billing.v1.CustomerService"
    assert refused["rpc"]["method"] == "CreateCustomer"
    assert refused["rpc"]["grpc"]["status_code"] == "INVALID_ARGUMENT"
    [span] = sink.received.named("billing.v1.CustomerService/CreateCustomer")
    assert refused["trace"] == {"id": span.trace_id}
    assert refused["span"] == {"id": span.span_id}
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert span.attributes["billing.tenant_id"] == tenant
    assert span.status_code == 2  # ERROR

    # The forged token's refusal: before auth, so no tenant, but the method and a request id.
    [unauthenticated] = [
        line
        for line in lines
        if line["message"] == "call refused"
        and line["rpc"]["grpc"]["status_code"] == "UNAUTHENTICATED"
    ]
    assert unauthenticated["rpc"]["method"] == "ListCustomers"
    assert "organization" not in unauthenticated
    assert unauthenticated["http"]["request"]["id"].startswith("req_")

    for secret in (
        token,
        token.rsplit(".", 1)[-1],
        forged,
        forged.rsplit(".", 1)[-1],
        SECRET,
        OTLP_KEY,
        GATEWAY_KEY,
        CARD,
        CARD.replace(" ", ""),
    ):
        assert secret not in text
