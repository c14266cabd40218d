"""/metrics of a real server (ADR 0061), on SQLite and PostgreSQL: the RED counters move by
exactly the calls made over a real channel, the business counters by exactly what was
committed, and the backlog gauges read the database as it is."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import sqlalchemy as sa
from ulid import ULID

from billing.store.schema import due_work, outbox_events
from billing_client.v1 import customers_pb2 as cpb
from billing_client.v1 import usage_pb2 as up
from billing_client.v1 import usage_pb2_grpc
from billing_fixtures import Billing
from conftest import Database, Tenant, ThreadedServer, auth, make_token, server_settings
from metrics_deploy_files import expressions
from metrics_scrape import Samples, delta, exported_names, fetch, scrape, value
from promql_names import metric_names
from test_usage_api import event, usage_rules

CREATE = "billing.v1.CustomerService/CreateCustomer"
GET = "billing.v1.CustomerService/GetCustomer"


class Metered:
    def __init__(self, running: ThreadedServer, database: Database) -> None:
        self.running = running
        self.database = database
        port = running.runtime.metrics_port
        assert port is not None
        self.metrics_port: int = port
        self.channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")

    def refresh_backlog(self) -> None:
        metrics = self.running.runtime.metrics
        assert metrics is not None
        self.running._call(metrics.backlog.refresh(force=True))


@pytest.fixture(scope="module")
def metered(backend: str, make_database) -> Iterator[Metered]:  # type: ignore[no-untyped-def]
    database = make_database(backend)
    running = ThreadedServer(
        server_settings(database.async_url, metrics_listen="127.0.0.1:0", due_work_concurrency=1)
    )
    served = Metered(running, database)
    yield served
    served.channel.close()
    running.stop()


def settled_scrape(port: int, before: Samples, expected_calls: int) -> Samples:
    """A scrape once the calls just made are all counted. The interceptor counts a call as
    it finishes, which on a refused call can be just after the caller has its status: on a
    loaded machine a scrape right away may beat it. Bounded wait; the exact deltas are then
    asserted as they are, so too many counted still fails."""
    deadline = time.monotonic() + 10
    while True:
        after = scrape(port)
        counted = sum(
            value - before.get(key, 0.0)
            for key, value in after.items()
            if key[0] == "billing_rpc_handled_total"
        )
        if counted >= expected_calls or time.monotonic() > deadline:
            return after
        time.sleep(0.05)


def fresh_tenant() -> Tenant:
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    return Tenant(tenant_id, auth(make_token(tenant_id)))


def create_customer(metered: Metered, tenant: Tenant, **fields: str) -> cpb.Customer:
    stub = Billing(metered.channel, tenant.metadata).customers
    values = {"display_name": "Acme", "currency_code": "USD", "time_zone": "UTC", **fields}
    return stub.CreateCustomer(
        cpb.CreateCustomerRequest(customer=cpb.Customer(**values), request_id=uuid.uuid4().hex),
        metadata=tenant.metadata,
    )


def test_red_counters_move_by_exactly_the_calls_made(metered: Metered) -> None:
    tenant = fresh_tenant()
    stub = Billing(metered.channel, tenant.metadata).customers
    before = scrape(metered.metrics_port)
    first = create_customer(metered, tenant)
    create_customer(metered, tenant)
    with pytest.raises(grpc.RpcError) as refused:
        create_customer(metered, tenant, currency_code="USX")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetCustomer(
            cpb.GetCustomerRequest(name=f"customers/cus_{ULID()}"), metadata=tenant.metadata
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    stub.GetCustomer(cpb.GetCustomerRequest(name=first.name), metadata=tenant.metadata)
    with pytest.raises(grpc.RpcError) as unauthenticated:
        stub.GetCustomer(cpb.GetCustomerRequest(name=first.name))
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
    after = settled_scrape(metered.metrics_port, before, expected_calls=6)

    handled = "billing_rpc_handled_total"
    assert delta(before, after, handled, method=CREATE, code="OK") == 2
    assert delta(before, after, handled, method=CREATE, code="INVALID_ARGUMENT") == 1
    assert delta(before, after, handled, method=GET, code="OK") == 1
    assert delta(before, after, handled, method=GET, code="NOT_FOUND") == 1
    assert delta(before, after, handled, method=GET, code="UNAUTHENTICATED") == 1
    histogram = "billing_rpc_duration_seconds"
    assert delta(before, after, histogram + "_count", method=CREATE) == 3
    assert delta(before, after, histogram + "_bucket", method=CREATE, le="+Inf") == 3
    assert delta(before, after, histogram + "_count", method=GET) == 3
    assert 0 < delta(before, after, histogram + "_sum", method=CREATE) < 30
    # Buckets are cumulative: each holds at least the one before it.
    bounds = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1"]
    counts = [value(after, histogram + "_bucket", method=CREATE, le=b) for b in bounds]
    assert counts == sorted(counts)


def test_usage_and_invoice_counters_count_what_was_committed(metered: Metered) -> None:
    tenant = fresh_tenant()
    billing = Billing(metered.channel, tenant.metadata)
    billing.push(usage_rules())
    usage = usage_pb2_grpc.UsageServiceStub(metered.channel)
    before = scrape(metered.metrics_port)
    customer = billing.customer()
    sub = billing.subscribe(customer, "metered_monthly")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    repeated = event(sub, "api_calls", now, "e-1")
    batch = [repeated, event(sub, "api_calls", now, "e-2"), event(sub, "api_calls", now, "e-3")]
    usage.IngestUsage(up.IngestUsageRequest(events=batch), metadata=tenant.metadata)
    second = [repeated, event(sub, "no_such_metric", now, "e-4")]
    reply = usage.IngestUsage(up.IngestUsageRequest(events=second), metadata=tenant.metadata)
    assert (reply.accepted, reply.duplicates, reply.refused) == (0, 1, 1)
    after = scrape(metered.metrics_port)

    events = "billing_usage_events_total"
    assert delta(before, after, events, outcome="accepted") == 3
    assert delta(before, after, events, outcome="duplicate") == 1
    assert delta(before, after, events, outcome="refused") == 1
    finalized = [i for i in billing.invoices_of(sub) if i.number]
    assert len(finalized) == 1  # the first period's fixed fee, billed in advance
    total = finalized[0].total.amount_minor
    assert total == 3000
    assert delta(before, after, "billing_invoices_finalized_total", currency="USD") == 1
    assert (
        delta(before, after, "billing_invoices_finalized_amount_minor_total", currency="USD")
        == total
    )


def test_backlog_gauges_read_due_work_and_the_outbox(metered: Metered) -> None:
    """A renewal an hour late (leased by a worker elsewhere, so ours leaves it), a parked
    delivery, one of a simulation clock's items (not counted: not on the wall's timeline),
    and an outbox event written an hour ago and never relayed."""
    tenant = fresh_tenant()
    wall = datetime.now(UTC).replace(microsecond=0)
    hour_ago = wall - timedelta(hours=1)
    common = {
        "tenant_id": tenant.id,
        "payload": "{}",
        "attempts": 1,
        "lease_owner": None,
        "lease_until": None,
        "parked_at": None,
        "last_error": None,
    }
    engine = sa.create_engine(metered.database.sync_url)
    metered.refresh_backlog()
    before = scrape(metered.metrics_port)  # what the module's other tests left due
    try:
        with engine.begin() as conn:
            rows = [
                {
                    **common,
                    "id": f"due_{ULID()}",
                    "kind": "renew",
                    "subscription_id": "sub_late",
                    "clock_id": None,
                    "due_at": hour_ago,
                    "lease_owner": "elsewhere:1",
                    "lease_until": wall + timedelta(hours=1),
                },
                {
                    **common,
                    "id": f"due_{ULID()}",
                    "kind": "deliver_invoice",
                    "subscription_id": "inv_parked",
                    "clock_id": None,
                    "due_at": hour_ago,
                    "parked_at": wall,
                    "last_error": "SMTP refused",
                },
                {
                    **common,
                    "id": f"due_{ULID()}",
                    "kind": "renew",
                    "subscription_id": "sub_simulated",
                    "clock_id": "clk_sim",
                    "due_at": hour_ago - timedelta(days=300),
                    "lease_owner": "elsewhere:1",
                    "lease_until": wall + timedelta(hours=1),
                },
            ]
            conn.execute(sa.insert(due_work), rows)
            old_event = f"evt_{ULID.from_datetime(hour_ago)}"
            conn.execute(
                sa.insert(outbox_events),
                [
                    {
                        "tenant_id": tenant.id,
                        "id": old_event,
                        "event_type": "test.old",
                        "resource_name": "tests/old",
                        "payload": json.loads("{}"),
                        # Before every other event, so it is the one the index gives first.
                        "occurred_at": wall - timedelta(days=3650),
                    }
                ],
            )
        metered.refresh_backlog()
        samples = scrape(metered.metrics_port)
        assert delta(before, samples, "billing_due_work_due_items", kind="renew") == 1
        age = value(samples, "billing_due_work_oldest_age_seconds", kind="renew")
        assert 3600 <= age < 3600 + 60
        parked = "billing_due_work_parked_items"
        assert delta(before, samples, parked, kind="deliver_invoice") == 1
        assert delta(before, samples, "billing_due_work_due_items", kind="deliver_invoice") == 0
        lag = value(samples, "billing_outbox_relay_lag_seconds")
        assert 3600 <= lag < 3600 + 60
        assert value(samples, "billing_metrics_backlog_read_errors_total") == 0
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(due_work).where(due_work.c.tenant_id == tenant.id))
            conn.execute(sa.delete(outbox_events).where(outbox_events.c.tenant_id == tenant.id))
        engine.dispose()
        metered.refresh_backlog()


def test_pool_gauges_name_each_pool(metered: Metered, backend: str) -> None:
    samples = scrape(metered.metrics_port)
    pools = ["calls"] if backend == "sqlite" else ["calls", "due_work"]
    for pool in pools:
        assert ("billing_db_pool_size", frozenset({("pool", pool)})) in samples
        assert value(samples, "billing_db_pool_checked_out", pool=pool) >= 0
    if backend == "postgresql":
        assert value(samples, "billing_db_pool_size", pool="calls") == 10
        assert value(samples, "billing_db_pool_size", pool="due_work") == 1 + 2
        assert value(samples, "billing_db_pool_overflow", pool="calls") == 0


def test_only_get_metrics_is_served(metered: Metered) -> None:
    for path, method, status in (("/", "GET", 404), ("/metrics", "POST", 405)):
        request = urllib.request.Request(
            f"http://127.0.0.1:{metered.metrics_port}{path}", method=method, data=b""
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=5)
        assert answer.value.code == status
    assert "billing_rpc_handled_total" in exported_names(fetch(metered.metrics_port))


def test_a_slow_client_does_not_hold_the_endpoint(metered: Metered) -> None:
    """A connection that never finishes its request is only its own problem: a scrape on
    another connection is answered meanwhile."""

    async def both() -> bytes:
        _, idle = await asyncio.open_connection("127.0.0.1", metered.metrics_port)
        idle.write(b"GET /metrics HTTP/1.1\r\n")  # and nothing more
        reader, writer = await asyncio.open_connection("127.0.0.1", metered.metrics_port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        idle.close()
        return head

    assert asyncio.run(both()) == b"HTTP/1.1 200 OK\r\n"


def test_the_dashboard_and_the_alerts_name_only_exported_metrics(metered: Metered) -> None:
    """Every metric a PromQL expression in deploy/ reads is one this server exports (a scrape
    declares a TYPE for each metric, labelled ones with no series yet included)."""
    exported = exported_names(fetch(metered.metrics_port))
    read = {(where, name) for where, expr in expressions() for name in metric_names(expr)}
    assert {(where, name) for where, name in read if name not in exported} == set()
    # And the check has teeth: the RED, backlog and business metrics are all read.
    names = {name for _, name in read}
    for required in (
        "billing_rpc_handled_total",
        "billing_rpc_duration_seconds_bucket",
        "billing_db_pool_checked_out",
        "billing_due_work_oldest_age_seconds",
        "billing_due_work_items_total",
        "billing_outbox_relay_lag_seconds",
        "billing_usage_events_total",
        "billing_invoices_finalized_amount_minor_total",
        "billing_payment_attempts_total",
    ):
        assert required in names
