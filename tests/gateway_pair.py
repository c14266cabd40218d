"""A server with two sandbox gateways, `gw_a` and `gw_b`, each keeping its own ledger file
(`BILLING_GATEWAY_ENDPOINTS="gw_a=...,gw_b=..."`), so a test reads from each gateway's own
books which one was called, for which attempt and with what answer. Payment and routing
rules are pushed as YAML over gRPC, as finance would push them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from billing_builtin.sandbox import ledger as sandbox_ledger
from billing_client.v1 import audit_pb2, audit_pb2_grpc
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing
from conftest import Database, Tenant, ThreadedServer, server_settings
from payments_fixtures import Payments, payment_rules

GATEWAYS = ("gw_a", "gw_b")
START = "2026-04-01T00:00:00Z"


@dataclass
class PairServer:
    database: Database
    target: str
    ledgers: dict[str, str]  # gateway name -> its ledger file


@pytest.fixture(scope="module")
def pair_server(
    backend: str, make_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PairServer]:
    database = make_database(backend)
    books = tmp_path_factory.mktemp("sandbox_pair")
    ledgers = {name: str(books / f"{name}.db") for name in GATEWAYS}
    endpoints = ",".join(f"{name}={path}" for name, path in ledgers.items())
    running = ThreadedServer(server_settings(database.async_url, gateway_endpoints=endpoints))
    yield PairServer(database, f"127.0.0.1:{running.port}", ledgers)
    running.stop()


@pytest.fixture(scope="module")
def pair_channel(pair_server: PairServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(pair_server.target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch


def payments_yaml(*, a: str = "", fraud: str = "  country_mismatch: allow\n") -> str:
    """Both gateways in one token pool (`cards`): a card saved at either is charged at
    either. `a`: gw_a's settings as a YAML flow mapping, e.g. "{outage: true}"."""
    settings = f", settings: {a}" if a else ""
    return (
        "kind: payments\n"
        "gateways:\n"
        f"  - {{name: gw_a, engine: sandbox, token_pool: cards{settings}}}\n"
        "  - {name: gw_b, engine: sandbox, token_pool: cards}\n"
        "reconcile: {lookups_after: [30s, 2m, 10m], not_found_after: 10m}\n"
        f"fraud:\n{fraud}"
        "collection: {automatic: false}\n"
    )


def routing_yaml(failures: int = 5, open_for: str = "60s") -> str:
    return (
        "kind: routing\n"
        "cases:\n"
        "  - name: cards_failover\n"
        "    when: {currencies: [USD]}\n"
        "    gateways: [gw_a, gw_b]\n"
        f"circuit_breaker: {{failures: {failures}, open_for: {open_for}}}\n"
    )


class Pair(Payments):
    """One tenant's stubs on the pair server, with shortcuts."""

    def __init__(self, channel: grpc.Channel, tenant: Tenant, server: PairServer) -> None:
        super().__init__(channel, Billing(channel, tenant.metadata))
        self.tenant_id = tenant.id
        self.server = server
        self.audit = audit_pb2_grpc.AuditServiceStub(channel)
        self.the_clock: Any = None

    def push(self, payments: str, routing: str) -> None:
        files = payment_rules()
        files["payments.yaml"] = payments.encode()
        files["routing.yaml"] = routing.encode()
        self.billing.push(files)
        if self.the_clock is None:
            self.the_clock = self.billing.clock(START)

    def new_customer(self) -> Any:
        return self.billing.customer(self.the_clock)

    def open_invoice(self, customer: Any, plan: str = "pro_monthly") -> Any:
        [invoice] = self.billing.invoices_of(self.billing.subscribe(customer, plan))
        return invoice

    def gateways(self) -> dict[str, pp.Gateway]:
        found = self.stub.ListGateways(pp.ListGatewaysRequest(), metadata=self.metadata)
        return {g.name: g for g in found.gateways}

    # --- the gateways' own books ---------------------------------------------------------

    def key(self, attempt: pp.PaymentAttempt) -> str:
        return f"billing-{self.tenant_id}-{attempt.name.split('/')[1]}"

    def calls(
        self, gateway: str, attempt: pp.PaymentAttempt | None = None
    ) -> list[tuple[str, str]]:
        """(op, answered) of every call `gateway` answered for this tenant (or one attempt)."""
        prefix = self.key(attempt) if attempt is not None else f"billing-{self.tenant_id}-"
        return [
            (c.op, c.answered)
            for c in sandbox_ledger.calls(self.server.ledgers[gateway])
            if c.idempotency_key.startswith(prefix)
        ]

    def charged(self, gateway: str, attempt: pp.PaymentAttempt) -> list[int]:
        """Money `gateway` really took for this attempt, per charge."""
        return [
            e.moved_minor
            for e in sandbox_ledger.charges(self.server.ledgers[gateway])
            if e.idempotency_key == self.key(attempt)
        ]

    # --- what the API does not answer in one call -----------------------------------------

    def audit_of(self, resource: str) -> list[tuple[str, dict[str, Any]]]:
        """(action, changes) of the audit records about `resource`, oldest first."""
        records = self.audit.ListAuditRecords(
            audit_pb2.ListAuditRecordsRequest(resource=resource, page_size=100),
            metadata=self.metadata,
        ).audit_records
        return [(r.action, json.loads(r.changes_json)) for r in reversed(records)]

    def events(self, resource: str) -> list[tuple[str, dict[str, Any]]]:
        """(type, payload) of the outbox events about `resource`, in order."""
        engine = sa.create_engine(self.server.database.sync_url)
        try:
            with engine.connect() as conn:
                rows = list(
                    conn.execute(
                        sa.text(
                            "SELECT event_type, payload FROM outbox_events WHERE tenant_id = :t"
                            " AND resource_name = :r ORDER BY id"
                        ),
                        {"t": self.tenant_id, "r": resource},
                    )
                )
        finally:
            engine.dispose()
        return [(r[0], json.loads(r[1]) if isinstance(r[1], str) else dict(r[1])) for r in rows]
