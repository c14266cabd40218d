"""Dunning scenarios over a real gRPC channel (ADR 0043): rules with automatic collection and
the shipped dunning policy, and what a case left behind read straight from the tables (the
outbox, the attempts, the scheduled notices, the case) with their instants."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from billing.domain.dunning import DunningCase
from billing.store.engine import create_engine
from billing.store.schema import due_work, outbox_events, payment_attempts
from billing.store.sql_store import SqlStore
from billing_client.v1 import clocks_pb2, customers_pb2, invoices_pb2, subscriptions_pb2
from billing_fixtures import Billing
from conftest import (
    Database,
    Server,
    Tenant,
    ThreadedServer,
    auth,
    make_token,
    server_settings,
)
from payments_fixtures import Payments, payment_rules

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
SHIPPED_DUNNING = (RULES_DIR / "dunning.yaml").read_bytes()
AUTOMATIC = "kind: invoicing\ntime_zone: utc\n"  # charge_automatically: collected at once
START = datetime(2026, 4, 1, tzinfo=UTC)  # a Wednesday
DAY = timedelta(days=1)
JUST_AFTER = timedelta(microseconds=1)  # a second notice of one instant is due this later

# What a case does to the world, as events (the notices' own events are another helper's).
CASE_EVENTS = frozenset(
    {
        "dunning.opened",
        "dunning.step_done",
        "dunning.retried",
        "dunning.retries_stopped",
        "dunning.paused",
        "dunning.resumed",
        "dunning.recovered",
        "dunning.exhausted",
        "dunning.closed",
        "subscription.past_due",
        "subscription.unpaid",
        "subscription.suspended",
        "subscription.unsuspended",
        "subscription.canceled",
        "subscription.updated",
        "invoice.marked_uncollectible",
    }
)


def dunning_rules(dunning: bytes = SHIPPED_DUNNING) -> dict[str, bytes]:
    files = payment_rules(AUTOMATIC)
    files["dunning.yaml"] = dunning
    return files


def iso(at: datetime) -> str:
    return at.isoformat()


@dataclass
class Account:
    """One customer on the test's clock with one subscription and its first invoice."""

    customer: customers_pb2.Customer
    sub: subscriptions_pb2.Subscription
    invoice: invoices_pb2.Invoice

    @property
    def invoice_id(self) -> str:
        return self.invoice.name.removeprefix("invoices/")


def account(
    billing: Billing,
    payments: Payments,
    clock: clocks_pb2.Clock,
    token: str,
    segment: str = "",
    plan: str = "pro_monthly",
    before_subscribing: Callable[[customers_pb2.Customer], object] | None = None,
) -> Account:
    """A customer paying by `token`, subscribed at the clock's time: its first invoice is
    collected automatically by the due work of that instant."""
    customer = billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Acme",
                currency_code="USD",
                time_zone="UTC",
                clock=clock.name,
                metadata={"segment": segment} if segment else {},
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )
    payments.attach(customer, token)
    if before_subscribing is not None:
        before_subscribing(customer)
    sub = billing.subscribe(customer, plan)
    [invoice] = billing.invoices_of(sub)
    return Account(customer, sub, invoice)


class Tables:
    """Rows of one tenant, typed (instants as aware UTC datetimes on both backends)."""

    def __init__(self, server: Server, tenant_id: str) -> None:
        self.server = server
        self.tenant_id = tenant_id

    def _rows(self, query: Any) -> list[Any]:
        engine = sa.create_engine(self.server.database.sync_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(query).mappings())
        finally:
            engine.dispose()

    def events(self, *resources: str) -> list[tuple[datetime, str, str]]:
        """The case's events about `resources` (the case, its subscription, its invoice):
        (instant, type, resource), by instant (one transaction's events share one; they
        are sorted by type within it)."""
        o = outbox_events
        rows = self._rows(
            sa.select(o.c.occurred_at, o.c.event_type, o.c.resource_name).where(
                o.c.tenant_id == self.tenant_id, o.c.resource_name.in_(resources)
            )
        )
        return sorted(
            (r["occurred_at"], r["event_type"], r["resource_name"])
            for r in rows
            if r["event_type"] in CASE_EVENTS
        )

    def payloads(self, event_type: str, resource: str) -> list[dict[str, Any]]:
        o = outbox_events
        rows = self._rows(
            sa.select(o.c.occurred_at, o.c.payload).where(
                o.c.tenant_id == self.tenant_id,
                o.c.event_type == event_type,
                o.c.resource_name == resource,
            )
        )
        return [r["payload"] for r in sorted(rows, key=lambda r: r["occurred_at"])]

    def attempts(self, invoice_id: str) -> list[tuple[datetime, str, str, str]]:
        """(instant, source, status, decline code) of the invoice's attempts."""
        p = payment_attempts
        rows = self._rows(
            sa.select(p.c.created_at, p.c.source, p.c.status, p.c.decline_code).where(
                p.c.tenant_id == self.tenant_id, p.c.invoice_id == invoice_id
            )
        )
        return sorted((r["created_at"], r["source"], r["status"], r["decline_code"]) for r in rows)

    def notices(self, case_id: str) -> list[tuple[datetime, str, str]]:
        """(due instant, template, step) of the notices scheduled for the case."""
        d = due_work
        rows = self._rows(
            sa.select(d.c.due_at, d.c.payload).where(
                d.c.tenant_id == self.tenant_id,
                d.c.kind == "send_dunning_notice",
                d.c.subscription_id == case_id,
            )
        )
        found = [(r["due_at"], json.loads(r["payload"])) for r in rows]
        return sorted((at, p["template"], p["step"]) for at, p in found)

    def items(self, kind: str, subject: str) -> list[Any]:
        d = due_work
        return self._rows(
            sa.select(d).where(
                d.c.tenant_id == self.tenant_id, d.c.kind == kind, d.c.subscription_id == subject
            )
        )

    def case(self, invoice_id: str) -> DunningCase | None:
        async def read() -> DunningCase | None:
            engine = create_engine(self.server.database.async_url)
            try:
                async with SqlStore(engine).read() as tx:
                    return await tx.dunning_cases.for_invoice(self.tenant_id, invoice_id)
            finally:
                await engine.dispose()

        return asyncio.run(read())


class Walk:
    """Advances the clock instant by instant through an expected list of events, checking at
    each that nothing happened just before it and exactly what was expected at it."""

    def __init__(
        self,
        billing: Billing,
        clock: clocks_pb2.Clock,
        observe: Any,  # () -> list of (instant, ...) sorted
        now: datetime,
    ) -> None:
        self.billing = billing
        self.clock = clock
        self.observe = observe
        self.now = now

    def advance(self, to: datetime) -> None:
        if to > self.now:
            self.billing.advance(self.clock, iso(to))
            self.now = to

    def through(self, expected: list[tuple[Any, ...]], end: datetime) -> None:
        for at in sorted({e[0] for e in expected if e[0] > self.now}):
            self.advance(at - JUST_AFTER)
            assert self.observe() == [e for e in expected if e[0] < at], f"before {at}"
            self.advance(at)
            assert self.observe() == [e for e in expected if e[0] <= at], f"at {at}"
        self.advance(end)
        assert self.observe() == expected, f"up to {end}"


@contextmanager
def own_server(database: Database, **settings: Any) -> Iterator[ThreadedServer]:
    """A server of the test's own, for tests that reach into its runtime (its engines, its
    worker's handler)."""
    # One due-work transaction at a time: few connections on a database server shared by
    # every suite running.
    settings.setdefault("due_work_concurrency", 1)
    server = ThreadedServer(server_settings(database.async_url, **settings))
    try:
        yield server
    finally:
        server.stop()


def fresh_tenant() -> Tenant:
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    return Tenant(tenant_id, auth(make_token(tenant_id)))


def served(server: ThreadedServer, backend: str, database: Database) -> Server:
    return Server(backend, database, server.port)
