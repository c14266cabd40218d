"""A shared renewal invoice (`consolidate_same_day`) is finalized only once every renewal of
its customer at that instant has joined it. Its finalize item is due a second after the
renewals, but due is not done: a renewal that failed and waits for its retry (ADR 0021), or
still runs in another transaction while another round takes the finalize item, must not be
left to make an invoice of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import sqlalchemy as sa

from billing.app.ports import DueItem, Transaction
from billing.store.schema import clocks
from billing_client.v1 import invoices_pb2 as ip
from billing_fixtures import Billing, amounts, iso, rules
from conftest import Database, Tenant, ThreadedServer, server_settings
from test_due_batch import _sync, fresh_tenant, run_round, wrap_handler

__all__ = ["fresh_tenant"]  # the fixture, used by name

RENEWAL = datetime(2026, 2, 1, tzinfo=UTC)
SHARED = [("2026-02-01T00:00:00Z", [3000, 5000])]  # Basic's and Pro's fees on one invoice


@dataclass
class World:
    server: ThreadedServer
    tenant: Tenant
    billing: Billing
    customer: str  # its name
    pro: str  # the id of Pro's subscription

    def renewal_invoices(self) -> list[tuple[str, list[int]]]:
        listed = self.billing.invoices.ListInvoices(
            ip.ListInvoicesRequest(customer=self.customer), metadata=self.billing.metadata
        ).invoices
        return [
            (iso(i.period_start), sorted(amounts(i.lines)))
            for i in listed
            if i.billing_reason == "subscription_cycle" and i.status == ip.OPEN
        ]


@contextmanager
def world(database: Database, tenant: Tenant, concurrency: int) -> Iterator[World]:
    """One customer with Basic and Pro on a consolidating tenant, a day after their first
    renewal: the renewals and the shared invoice's finalization are all due. The test runs
    the worker's rounds itself."""
    server = ThreadedServer(server_settings(database.async_url, due_work_concurrency=concurrency))
    task = server.runtime._worker_task
    assert task is not None
    server.loop.call_soon_threadsafe(task.cancel)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            billing = Billing(channel, tenant.metadata)
            files = rules()
            files["invoicing.yaml"] = b"kind: invoicing\nconsolidate_same_day: true\n"
            billing.push(files)
            clock = billing.clock("2026-01-01T00:00:00Z")
            customer = billing.customer(clock)
            billing.subscribe(customer, "basic_monthly")
            pro = billing.subscribe(customer, "pro_monthly").name.split("/")[1]
            while run_round(server, tenant):
                pass  # the first invoices' deliveries
            engine = sa.create_engine(_sync(server))
            with engine.begin() as conn:
                conn.execute(
                    sa.update(clocks)
                    .where(clocks.c.tenant_id == tenant.id)
                    .values(now=RENEWAL + timedelta(days=1))
                )
            engine.dispose()
            yield World(server, tenant, billing, customer.name, pro)
    finally:
        server.stop()


def test_a_renewal_retried_after_a_failure_still_joins_its_shared_invoice(  # type: ignore[no-untyped-def]
    backend, make_database, fresh_tenant
):
    with world(make_database(backend), fresh_tenant, concurrency=1) as w:
        failures: list[str] = []
        healed = False

        async def pro_fails(inner, tx: Transaction, item: DueItem) -> str:  # type: ignore[no-untyped-def]
            description = await inner(tx, item)
            if item.kind == "renew" and item.subscription_id == w.pro and not healed:
                failures.append(item.id)
                raise RuntimeError("injected: a failure, retried after its backoff")
            return description

        wrap_handler(w.server, pro_fails)
        # Basic's renewal and both first invoices' month-end recognition; Pro's renewal failed
        assert run_round(w.server, fresh_tenant) == 3
        assert failures  # in its batch, then alone: given back with a backoff
        healed = True
        # Pro's renewal waits for its backoff: the finalization, due now, must wait for it.
        run_round(w.server, fresh_tenant)
        end_backoffs(w.server, fresh_tenant)
        while run_round(w.server, fresh_tenant):
            pass
        assert w.renewal_invoices() == SHARED


def test_a_renewal_still_running_when_another_round_takes_the_finalization_joins(  # type: ignore[no-untyped-def]
    make_database, fresh_tenant
):
    # PostgreSQL: renewals of one wave run in transactions side by side, and several rounds
    # (the worker's own, AdvanceClock's, RunBilling's) claim at once.
    with world(make_database("postgresql"), fresh_tenant, concurrency=4) as w:
        finalize_tried = asyncio.Event()

        async def pro_slow(inner, tx: Transaction, item: DueItem) -> str:  # type: ignore[no-untyped-def]
            if item.kind == "renew" and item.subscription_id == w.pro:
                # Held until the other round has tried to finalize (or 5 s: then it ran first).
                await asyncio.wait_for(finalize_tried.wait(), 5)
            try:
                return await inner(tx, item)
            finally:
                if item.kind == "finalize_consolidated":
                    finalize_tried.set()

        wrap_handler(w.server, pro_slow)
        worker = w.server.runtime.worker

        async def other_round() -> None:
            # Claims the finalization once Basic's renewal has committed and scheduled it.
            while not finalize_tried.is_set():
                await worker.run_once(fresh_tenant.id)
                await asyncio.sleep(0.01)

        async def both() -> None:
            await asyncio.gather(worker.run_once(fresh_tenant.id), other_round())

        w.server._call(both())
        end_backoffs(w.server, fresh_tenant)
        while run_round(w.server, fresh_tenant):
            pass
        assert w.renewal_invoices() == SHARED


def end_backoffs(server: ThreadedServer, tenant: Tenant) -> None:
    """Make items waiting out a backoff (or a not-ready wait) claimable now."""
    engine = sa.create_engine(_sync(server))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE due_work SET lease_until = NULL WHERE tenant_id = :t AND done_at IS NULL"
            ),
            {"t": tenant.id},
        )
    engine.dispose()


def test_a_renewal_that_meets_a_conflict_is_given_back_at_once(  # type: ignore[no-untyped-def]
    backend, make_database, fresh_tenant
):
    """A conflict inside a handler (a row changed under it, a deadlock) used to leave the
    item leased to the worker until its lease ended, so runs waited 30 s on it."""
    from billing.app.ports import RetryableConflict

    with world(make_database(backend), fresh_tenant, concurrency=1) as w:
        conflicts: list[str] = []

        async def pro_conflicts(inner, tx: Transaction, item: DueItem) -> str:  # type: ignore[no-untyped-def]
            # In its batch, then alone: the second is the one the worker gives back.
            if item.kind == "renew" and item.subscription_id == w.pro and len(conflicts) < 2:
                conflicts.append(item.id)
                raise RetryableConflict("injected: the subscription changed under it")
            return await inner(tx, item)

        wrap_handler(w.server, pro_conflicts)
        run_round(w.server, fresh_tenant)
        assert len(conflicts) == 2
        engine = sa.create_engine(_sync(w.server))
        with engine.connect() as conn:
            owner, error = conn.execute(
                sa.text(
                    "SELECT lease_owner, last_error FROM due_work WHERE tenant_id = :t AND id = :i"
                ),
                {"t": fresh_tenant.id, "i": conflicts[0]},
            ).one()
        engine.dispose()
        assert (owner, error) == (
            None,
            "RetryableConflict: injected: the subscription changed under it",
        )
        end_backoffs(w.server, fresh_tenant)
        while run_round(w.server, fresh_tenant):
            pass
        assert w.renewal_invoices() == SHARED
