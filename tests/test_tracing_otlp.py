"""Traces over OTLP (ADR 0060): one CreateSubscription exported to a collector the test
starts, over gRPC and over HTTP, on both databases: the RPC's server span with its tenant,
method and status, and a client span per SQL statement under it; a due item's span under the
AdvanceClock that ran it; and a collector that is down costs no call anything."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest

from billing.config import Settings, SettingsError
from billing.observability.tracing import otlp_headers
from billing_client.v1 import customers_pb2, customers_pb2_grpc
from billing_fixtures import Billing, rules
from conftest import Database, Tenant, ThreadedServer, auth, make_token, server_settings
from otlp_sink import GrpcSink, HttpSink, SilentCollector, Span

CREATE_SUB = "billing.v1.SubscriptionService/CreateSubscription"
LICENCE_KEY = "nr-licence-" + uuid.uuid4().hex  # what an APM wants in a header
SERVER, CLIENT, INTERNAL = 2, 3, 1  # OTLP's span kinds
EXPORT_TIMEOUT_S = 2.0


def _traced_server(
    database: Database, endpoint: str, protocol: str, **extra: object
) -> ThreadedServer:
    return ThreadedServer(
        server_settings(
            database.async_url,
            trace_exporter="otlp",
            trace_sample_ratio=1.0,
            otlp_endpoint=endpoint,
            otlp_protocol=protocol,
            otlp_headers=f"api-key={LICENCE_KEY}",
            **extra,
        )
    )


@pytest.fixture
def database(backend: str, make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database(backend)


def _subscribe(port: int, tenant: Tenant) -> str:
    """Rules, a customer, then the CreateSubscription under test, with a request id."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        billing = Billing(channel, tenant.metadata)
        billing.push(rules())
        customer = billing.customer()
        billing.metadata = (*tenant.metadata, ("x-request-id", "req-trace-test"))
        return billing.subscribe(customer, "pro_monthly").name


def _sql_children(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.kind == CLIENT and "db.query.text" in s.attributes]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_one_create_subscription_arrives_with_its_sql_spans(
    database: Database, backend: str, tenant: Tenant, protocol: str
) -> None:
    sink = GrpcSink() if protocol == "grpc" else HttpSink()
    server = _traced_server(database, sink.endpoint, protocol)
    try:
        _subscribe(server.port, tenant)
    finally:
        server.stop()  # flushes the batch processor: everything queued is sent
        sink.stop()

    [rpc] = sink.received.named(CREATE_SUB)
    assert rpc.kind == SERVER
    assert rpc.status_code == 0  # unset: the call succeeded
    assert {k: rpc.attributes[k] for k in ("rpc.system", "rpc.service", "rpc.method")} == {
        "rpc.system": "grpc",
        "rpc.service": "billing.v1.SubscriptionService",
        "rpc.method": "CreateSubscription",
    }
    assert rpc.attributes["billing.tenant_id"] == tenant.id
    assert rpc.attributes["rpc.grpc.status_code"] == 0
    assert rpc.resource["service.name"] == "billing"

    children = sink.received.children_of(rpc)
    statements = _sql_children(children)
    assert statements, "no SQL span under the RPC span"
    assert statements == children  # the call's only children are its statements
    assert {s.attributes["db.system.name"] for s in statements} == {backend}
    # The state change, its outbox event, its audit row and its idempotency key: one
    # transaction's statements. PostgreSQL sends a call's blind writes together (one round
    # trip, store/batch.py): one BATCH span, its statements' starts in order (placeholders,
    # never values).
    texts = [t for s in statements for t in s.attributes["db.query.text"].split(";\n")]
    inserted = {t.split()[2] for t in texts if t.startswith("INSERT INTO ")}
    assert {"subscriptions", "outbox_events", "audit_log", "idempotency_keys"} <= inserted
    assert (
        texts[-1] == "COMMIT"
        if backend == "postgresql"
        else texts[-1].startswith("INSERT INTO idempotency_keys ")
    )
    for s in statements:  # nested in time, and named by operation and database
        assert rpc.start_ns <= s.start_ns <= s.end_ns <= rpc.end_ns
        operation = s.attributes["db.operation.name"]
        assert s.name == f"{operation} {s.attributes['db.namespace']}"
        batch = s.attributes["db.query.text"].split(";\n")
        if len(batch) > 1:
            assert (operation, s.attributes["db.operation.batch.size"]) == ("BATCH", len(batch))
        else:
            assert operation == batch[0].split()[0].upper()

    # The settings' headers went with every export (an APM's licence key).
    assert sink.received.headers
    assert all(h.get("api-key") == LICENCE_KEY for h in sink.received.headers)


def test_a_due_item_is_a_span_under_the_call_that_ran_it(
    database: Database, backend: str, tenant: Tenant
) -> None:
    sink = GrpcSink()
    server = _traced_server(database, sink.endpoint, "grpc")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            billing = Billing(channel, tenant.metadata)
            billing.push(rules())
            clock = billing.clock("2026-01-01T00:00:00Z")
            billing.subscribe(billing.customer(clock), "pro_monthly")
            billing.advance(clock, "2026-02-01T00:00:00Z")
    finally:
        server.stop()
        sink.stop()

    # The call runs due items itself, and so does the worker's own loop, woken by the new
    # work: an item is a child of AdvanceClock's span, or the root of a trace of its own.
    [advance] = sink.received.named("billing.v1.ClockService/AdvanceClock")
    items = [s for s in sink.received.spans if s.name.startswith("due_work ")]
    for item in items:
        assert item.kind == INTERNAL
        assert item.attributes["billing.tenant_id"] == tenant.id
        assert item.name == f"due_work {item.attributes['billing.due_work.kind']}"
        assert item.parent_span_id in ("", advance.span_id)
        assert (item.trace_id == advance.trace_id) == (item.parent_span_id == advance.span_id)
    [renewal] = [s for s in items if s.name == "due_work renew"]
    statements = _sql_children(sink.received.children_of(renewal))
    # A renewal's reads are in its span (is there a payment method to collect from?); its
    # blind writes go with its batch's, after it (app/due_batch.py). The ledger's books (is
    # the period open?) are read once per transaction, in the span of the item that asked
    # first.
    texts = [s.attributes["db.query.text"] for s in statements]
    assert any(t.startswith("SELECT DISTINCT payment_methods.") for t in texts), texts
    books = [
        s.attributes["db.query.text"]
        for item in items
        for s in _sql_children(sink.received.children_of(item))
        if s.attributes["db.query.text"].startswith("SELECT ledger_books.")
    ]
    assert books
    assert {s.attributes["db.system.name"] for s in statements} == {backend}
    for s in statements:
        assert renewal.start_ns <= s.start_ns <= s.end_ns <= renewal.end_ns


@pytest.mark.parametrize("collector", ["refusing", "hanging"])
def test_a_collector_that_is_down_fails_no_call(
    make_database: Callable[[str], Database], collector: str
) -> None:
    """Nothing listens at the endpoint, or something takes connections and never answers:
    every call succeeds, none waits as long as one export may (its timeout), and the server
    still stops, the queued spans given up after the timeout."""
    if collector == "refusing":
        gone = GrpcSink()
        gone.stop()  # its port is free now: connections to it are refused
        endpoint, stop_collector = gone.endpoint, lambda: None
    else:
        silent = SilentCollector()
        endpoint, stop_collector = silent.endpoint, silent.stop
    database = make_database("sqlite")
    server = _traced_server(database, endpoint, "grpc", otlp_timeout_seconds=EXPORT_TIMEOUT_S)
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = customers_pb2_grpc.CustomerServiceStub(channel)
            took = []
            for i in range(20):  # over more than one export period (1 s)
                started = time.monotonic()
                made = stub.CreateCustomer(
                    customers_pb2.CreateCustomerRequest(
                        customer=customers_pb2.Customer(display_name=f"c{i}", currency_code="EUR"),
                        request_id=uuid.uuid4().hex,
                    ),
                    metadata=auth(make_token(tenant_id)),
                )
                took.append(time.monotonic() - started)
                assert made.display_name == f"c{i}"
                time.sleep(0.06)
        assert max(took) < EXPORT_TIMEOUT_S
    finally:
        started = time.monotonic()
        server.stop()
        stopped_in = time.monotonic() - started
        stop_collector()
    assert stopped_in < 4 * EXPORT_TIMEOUT_S


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"BILLING_TRACE_EXPORTER": "jaeger"},
            "BILLING_TRACE_EXPORTER must be none, console or otlp",
        ),
        ({"BILLING_OTLP_PROTOCOL": "udp"}, "BILLING_OTLP_PROTOCOL must be grpc or http/protobuf"),
        (
            {"BILLING_OTLP_ENDPOINT": "collector:4317"},
            "BILLING_OTLP_ENDPOINT must be an http(s) URL",
        ),
        (
            {"BILLING_OTLP_TIMEOUT_SECONDS": "0"},
            "BILLING_OTLP_TIMEOUT_SECONDS must be above 0 and at most 60",
        ),
        # The value is a credential: the message names the variable and never repeats it.
        (
            {"BILLING_OTLP_HEADERS": f"api-key{LICENCE_KEY}"},
            "BILLING_OTLP_HEADERS must be key=value pairs, comma-separated",
        ),
    ],
)
def test_otlp_settings_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == message


def test_otlp_headers_read_as_the_standard_variable_does() -> None:
    assert otlp_headers(" api-key = abc=d , X-Scope-OrgID=tenant1,") == {
        "api-key": "abc=d",
        "x-scope-orgid": "tenant1",
    }
    assert Settings().trace_sample_ratio == 0.1  # the documented default (ADR 0060)
