"""Renewals run many to a transaction (app/due_batch.py): one transaction for the batch, each
cycle still invoiced exactly once with gapless numbers, a failing renewal taken out (its
failure recorded on its item) without holding up the others, and a row changed under the
batch making its items run one by one."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import grpc
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from billing.app.ports import DueItem, Transaction
from billing.store.schema import clocks
from billing_fixtures import Billing, rules
from conftest import Database, Tenant, ThreadedServer, auth, make_token, server_settings

SUBSCRIPTIONS = 5
# Each first invoice (Jan 1 to Feb 1) is earned at the month's end, the renewal's instant:
# one recognize_revenue item per subscription in the renewal round.
RECOGNITIONS = SUBSCRIPTIONS
RENEWAL = datetime(2026, 2, 1, tzinfo=UTC)


@contextmanager
def running(database: Database) -> Iterator[ThreadedServer]:
    # One batch at a time, so a round of these few renewals is one batch.
    server = ThreadedServer(server_settings(database.async_url, due_work_concurrency=1))
    task = server.runtime._worker_task  # the test runs the worker's rounds itself
    assert task is not None
    server.loop.call_soon_threadsafe(task.cancel)
    try:
        yield server
    finally:
        server.stop()


def setup(server: ThreadedServer, tenant: Tenant) -> list[str]:
    """Subscriptions on a clock at their first renewal, which is now due."""
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        billing = Billing(channel, tenant.metadata)
        billing.push(rules())
        clock = billing.clock("2026-01-01T00:00:00Z")
        subs = [
            billing.subscribe(billing.customer(clock), "basic_monthly").name.split("/")[1]
            for _ in range(SUBSCRIPTIONS)
        ]
    while run_round(server, tenant):
        pass  # the first invoices' deliveries (no SMTP: they just finish)
    engine = sa.create_engine(_sync(server))
    with engine.begin() as conn:
        # Through the table's types: SQLite keeps naive UTC text.
        conn.execute(sa.update(clocks).where(clocks.c.tenant_id == tenant.id).values(now=RENEWAL))
    engine.dispose()
    return subs


def _sync(server: ThreadedServer) -> str:
    return server.runtime.settings.database_url.replace("+aiosqlite", "")


def run_round(server: ThreadedServer, tenant: Tenant) -> int:
    return int(server._call(server.runtime.worker.run_once(tenant.id)))


def wrap_handler(
    server: ThreadedServer,
    wrapper: Callable[
        [Callable[[Transaction, DueItem], Awaitable[str]], Transaction, DueItem], Awaitable[str]
    ],
) -> None:
    worker = server.runtime.worker
    inner = getattr(worker, "_unwrapped", worker._handler)
    worker._unwrapped = inner  # type: ignore[attr-defined]

    async def handler(tx: Transaction, item: DueItem) -> str:
        return await wrapper(inner, tx, item)

    worker._handler = handler


def invoices_by_subscription(server: ThreadedServer, tenant: Tenant) -> dict[str, list[str]]:
    engine = sa.create_engine(_sync(server))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT subscription_id, number FROM invoices WHERE tenant_id = :t"),
            {"t": tenant.id},
        ).all()
    engine.dispose()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.subscription_id, []).append(row.number)
    return found


def assert_gapless(numbers: list[str]) -> None:
    seqs = sorted(int(re.fullmatch(r"INV-2026-(\d{6})", n).group(1)) for n in numbers)  # type: ignore[union-attr]
    assert seqs == list(range(1, len(numbers) + 1))


@pytest.fixture
def fresh_tenant() -> Tenant:
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    return Tenant(tenant_id, auth(make_token(tenant_id)))


def test_renewals_share_one_transaction(backend, make_database, fresh_tenant):  # type: ignore[no-untyped-def]
    with running(make_database(backend)) as server:
        subs = setup(server, fresh_tenant)
        commits: list[object] = []

        def on_commit(conn: object) -> None:
            commits.append(conn)

        engine = server.runtime.due_engine.sync_engine
        event.listen(engine, "commit", on_commit)
        try:
            assert run_round(server, fresh_tenant) == SUBSCRIPTIONS + RECOGNITIONS
        finally:
            event.remove(engine, "commit", on_commit)
        assert len(commits) == 2  # the claim, then one batch for every renewal
        invoices = invoices_by_subscription(server, fresh_tenant)
        assert sorted(invoices) == sorted(subs)
        assert all(len(numbers) == 2 for numbers in invoices.values())  # first and renewal
        assert_gapless([n for numbers in invoices.values() for n in numbers])


def test_a_failing_renewal_is_taken_out_of_its_batch(backend, make_database, fresh_tenant):  # type: ignore[no-untyped-def]
    with running(make_database(backend)) as server:
        subs = setup(server, fresh_tenant)
        bad = subs[2]

        async def failing(inner, tx, item):  # type: ignore[no-untyped-def]
            description = await inner(tx, item)  # its statements ran: all must roll back
            if item.subscription_id == bad:
                raise RuntimeError("boom")
            return description

        wrap_handler(server, failing)
        assert run_round(server, fresh_tenant) == SUBSCRIPTIONS - 1 + RECOGNITIONS
        invoices = invoices_by_subscription(server, fresh_tenant)
        assert len(invoices[bad]) == 1  # its first invoice only
        assert all(len(invoices[s]) == 2 for s in subs if s != bad)
        assert_gapless([n for numbers in invoices.values() for n in numbers])
        engine = sa.create_engine(_sync(server))
        with engine.begin() as conn:
            item = conn.execute(
                sa.text(
                    "SELECT attempts, done_at, lease_owner, lease_until FROM due_work "
                    "WHERE tenant_id = :t AND subscription_id = :s AND kind = 'renew' "
                    "ORDER BY due_at"
                ),
                {"t": fresh_tenant.id, "s": bad},
            ).first()
            assert item is not None
            # Its failure is on its item: one attempt, given back with a backoff.
            assert (item.attempts, item.done_at, item.lease_owner) == (1, None, None)
            assert item.lease_until is not None
            conn.execute(  # the backoff is over
                sa.text("UPDATE due_work SET lease_until = NULL WHERE tenant_id = :t"),
                {"t": fresh_tenant.id},
            )
        engine.dispose()
        wrap_handler(server, lambda inner, tx, item: inner(tx, item))
        while run_round(server, fresh_tenant):
            pass  # it, and the deliveries of the renewal invoices
        invoices = invoices_by_subscription(server, fresh_tenant)
        assert all(len(invoices[s]) == 2 for s in subs)
        assert_gapless([n for numbers in invoices.values() for n in numbers])


def test_a_subscription_changed_under_the_batch_runs_alone(make_database, fresh_tenant):  # type: ignore[no-untyped-def]
    # PostgreSQL: SQLite's one writer leaves no room for another write during the batch.
    database = make_database("postgresql")
    with running(database) as server:
        subs = setup(server, fresh_tenant)
        changed = subs[1]
        other = sa.create_engine(database.sync_url)
        bumped: list[str] = []

        async def interfering(inner, tx, item):  # type: ignore[no-untyped-def]
            description = await inner(tx, item)
            if item.subscription_id == changed and not bumped:
                # Another writer moves the subscription on after the batch read it.
                with other.begin() as conn:
                    conn.execute(
                        sa.text(
                            "UPDATE subscriptions SET version = version + 10 "
                            "WHERE tenant_id = :t AND id = :s"
                        ),
                        {"t": fresh_tenant.id, "s": changed},
                    )
                bumped.append(changed)
            return description

        wrap_handler(server, interfering)
        assert run_round(server, fresh_tenant) == SUBSCRIPTIONS + RECOGNITIONS
        other.dispose()
        assert bumped == [changed]
        invoices = invoices_by_subscription(server, fresh_tenant)
        assert all(len(invoices[s]) == 2 for s in subs)  # each cycle once, none lost
        assert_gapless([n for numbers in invoices.values() for n in numbers])


@pytest.mark.parametrize(
    "name, value",
    [
        ("BILLING_DUE_WORK_BATCH_ROWS", "0"),
        ("BILLING_DUE_WORK_BATCH_ROWS", "1001"),
        ("BILLING_DUE_WORK_YIELD_MS", "-1"),
    ],
)
def test_due_work_settings_out_of_range_are_refused(name, value):  # type: ignore[no-untyped-def]
    from billing.config import Settings, SettingsError

    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_a_batch_without_renewals_reads_nothing_ahead() -> None:
    """Revenue items read none of what a batch reads ahead for renewals (subscriptions,
    cycles, pending items, usage, credit): a batch of them sends no read before its handlers;
    one renewal among them reads its rows."""
    import asyncio
    from typing import Any

    from billing.app.due_batch import BatchTransaction
    from billing.app.ports import DueItem

    asked: list[str] = []

    class _Repository:
        def __init__(self, name: str) -> None:
            self._name = name

        def __getattr__(self, method: str) -> Any:
            async def call(*_args: Any, **_kwargs: Any) -> Any:
                asked.append(f"{self._name}.{method}")
                return {}

            return call

    class _Transaction:
        def __getattr__(self, name: str) -> Any:
            return _Repository(name)

    at = datetime(2026, 1, 1, tzinfo=UTC)
    revenue = [
        DueItem("t", f"due_{n}", "recognize_revenue", f"inv_{n}", None, at, "{}", 1)
        for n in range(3)
    ]
    renewal = DueItem("t", "due_r", "renew", "sub_1", None, at, "", 1)

    batch = BatchTransaction(_Transaction(), "t")  # type: ignore[arg-type]
    asyncio.run(batch.read_ahead(revenue))
    assert asked == []
    asyncio.run(batch.read_ahead([*revenue, renewal]))
    assert asked[0] == "subscriptions.get_many" and len(asked) == 5
