"""A dunning step's due item run twice does its work once (ADR 0043), on both backends, on a
server of the test's own: a retry whose transaction died after its charge was made charges
nothing more when run again (the charge is keyed by the item's id, so the rerun's prepare
answers with the same attempt), and items already done, run once more, are stale."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import grpc
import sqlalchemy as sa

from billing.app.ports import DueItem, Transaction
from billing.store.schema import due_work
from billing_fixtures import Billing
from conftest import Database, ThreadedServer
from dunning_walk import (
    DAY,
    START,
    Tables,
    Walk,
    account,
    dunning_rules,
    fresh_tenant,
    own_server,
    served,
)
from payments_fixtures import Payments

T0 = START
Handler = Callable[[Transaction, DueItem], Awaitable[str]]


class DyingOnce:
    """The worker's prepare and handler, counted; the first handling of a prepared retry
    dies before its commit: the retry's own work rolls back, its charge (made in prepare,
    committed on its own) stays."""

    def __init__(self, server: ThreadedServer) -> None:
        worker = server.runtime.worker
        assert worker._prepare is not None
        self._inner: Handler = worker._handler
        self._prepare = worker._prepare
        self.prepared: list[str] = []
        # (item id, carried a prepared retry) of the case engine's items
        self.handled: list[tuple[str, bool]] = []
        worker._prepare = self.prepare
        worker._handler = self.handle

    async def prepare(self, item: DueItem) -> DueItem:
        if item.kind == "dunning_step":
            self.prepared.append(item.id)
        return await self._prepare(item)

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        done = await self._inner(tx, item)
        if item.kind.startswith("dunning_"):
            retried = "retry" in json.loads(item.payload)
            self.handled.append((item.id, retried))
            if retried and [h for h in self.handled if h[0] == item.id] == [(item.id, True)]:
                raise RuntimeError("killed before commit")
        return done


def run_again(database: Database, tenant_id: str, item_ids: list[str]) -> None:
    """Items done, handed out once more (a person's `due-work retry`, a lost completion)."""
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(due_work)
                .where(due_work.c.tenant_id == tenant_id, due_work.c.id.in_(item_ids))
                .values(done_at=None, lease_owner=None, lease_until=None)
            )
    finally:
        engine.dispose()


def test_a_step_item_run_twice_does_its_work_once(backend: str, make_database) -> None:  # type: ignore[no-untyped-def]
    database: Database = make_database(backend)
    tenant = fresh_tenant()
    # Failed items come back within milliseconds, not the default second.
    with (
        own_server(database, due_work_retry_base_ms=5) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        runs = DyingOnce(server)
        billing = Billing(channel, tenant.metadata)
        billing.push(dunning_rules())
        payments = Payments(channel, billing)
        tables = Tables(served(server, backend, database), tenant.id)
        clock = billing.clock(T0.isoformat())
        acct = account(billing, payments, clock, "tok_insufficient_funds")
        billing.advance(clock, T0.isoformat())
        case = tables.case(acct.invoice_id)
        assert case is not None
        c, s = case.name, acct.sub.name
        expected = [
            (T0, "dunning.opened", c),
            (T0, "dunning.step_done", c),
            (T0 + DAY, "dunning.retried", c),
            (T0 + DAY, "dunning.step_done", c),
            (T0 + DAY, "subscription.past_due", s),
        ]
        walk = Walk(billing, clock, lambda: tables.events(c, s, acct.invoice.name), T0)
        walk.through(expected, T0 + 2 * DAY)

        [retry_item] = [
            row for row in tables.items("dunning_step", case.id) if row["due_at"] == T0 + DAY
        ]
        # Prepared twice, handled twice (the first rolled back): one attempt, one charge.
        assert runs.prepared.count(retry_item["id"]) == 2
        assert runs.handled.count((retry_item["id"], True)) == 2
        assert retry_item["attempts"] == 2
        retries = [a for a in tables.attempts(acct.invoice_id) if a[1] == "dunning_retry"]
        assert retries == [(T0 + DAY, "dunning_retry", "failed", "insufficient_funds")]
        before = tables.case(acct.invoice_id)
        assert before is not None
        assert (before.retries_done, before.steps_done) == (1, 2)

        # The opening's item (its attempt already on the case) and the day-1 retry's (done).
        [opening] = tables.items("dunning_attempt_failed", case.timeline[0].attempt_id)
        done_items = [opening["id"], retry_item["id"]]
        run_again(database, tenant.id, done_items)
        handled_before = len(runs.handled)
        walk.advance(T0 + 2 * DAY + timedelta(seconds=1))
        # Run again, and stale: nothing charged, moved or written.
        assert sorted(h[0] for h in runs.handled[handled_before:]) == sorted(done_items)
        assert tables.events(c, s, acct.invoice.name) == expected
        assert [a for a in tables.attempts(acct.invoice_id) if a[1] == "dunning_retry"] == retries
        assert tables.case(acct.invoice_id) == before  # not even its version moved
        assert all(
            row["done_at"] is not None
            for row in [
                *tables.items("dunning_step", case.id),
                *tables.items("dunning_attempt_failed", case.timeline[0].attempt_id),
            ]
            if row["id"] in done_items
        )
