"""`billing mrr rebuild` (ADR 0055): from the subscriptions alone it reproduces exactly the
positions, customer totals and shard totals the write path built; a second run changes
nothing; drifted rows are put back. Both databases, the command run on the server's database."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from billing.cli import main
from billing_client.v1 import metrics_pb2 as mp
from billing_client.v1 import metrics_pb2_grpc
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, rules
from conftest import Database, Server, Tenant

TABLES = ("mrr_subscriptions", "mrr_customers", "mrr_totals")
HISTORY = ("mrr_movements", "mrr_days")


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


def rows(database: Database, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            return {
                table: sorted(
                    tuple(r)
                    for r in conn.execute(
                        sa.text(f"SELECT * FROM {table} WHERE tenant_id = :t"), {"t": tenant_id}
                    )
                )
                for table in (*TABLES, *HISTORY)
            }
    finally:
        engine.dispose()


def sql(database: Database, statement: str, **params: Any) -> None:
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


# The trailing value columns of each table: MRR, and for the totals the customers with MRR.
VALUES = {"mrr_subscriptions": 1, "mrr_customers": 1, "mrr_totals": 2}


def nonzero(table: str, table_rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [r for r in table_rows if any(r[-VALUES[table] :])]


def rebuild(tenant_id: str, capsys) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert main(["mrr", "rebuild", "--tenant", tenant_id]) == 0
    printed: dict[str, Any] = json.loads(capsys.readouterr().out.splitlines()[-1])
    return printed


def test_rebuild_reproduces_the_write_paths_state_and_is_idempotent(
    billing: Billing, channel, server: Server, tenant: Tenant, monkeypatch, capsys
) -> None:
    billing.push(rules(behavior="always_invoice"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    c = [billing.customer(clock) for _ in range(4)]
    billing.subscribe(c[0], "basic_monthly")
    billing.subscribe(c[0], "pro_monthly")  # one customer, two positions
    gone = billing.subscribe(c[1], "pro_monthly")
    billing.subscribe(c[2], "basic_yearly")
    team = billing.subscribe(c[3], "team_monthly", quantities={"prices/team_seat_usd": 5})
    billing.advance(clock, "2026-04-10T00:00:00Z")
    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=gone.name, immediately=True, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    billing.change(billing.get(team), quantities={"prices/team_seat_usd": 8})
    built = rows(server.database, tenant.id)
    # 30 + 50 (c0), 0 (c1 churned), 25 (c2), 64 (c3): 169.00
    assert sum(r[-2] for r in built["mrr_totals"]) == 16900
    assert sum(r[-1] for r in built["mrr_totals"]) == 3  # c0, c2, c3 (c1 came and went)
    assert len(built["mrr_movements"]) == 7  # 5 new, 1 churn, 1 expansion

    monkeypatch.setenv("BILLING_DATABASE_URL", server.database.async_url)
    for table in (*TABLES, *HISTORY):
        sql(server.database, f"DELETE FROM {table} WHERE tenant_id = :t", t=tenant.id)
    first = rebuild(tenant.id, capsys)
    # The cancelled subscription contributes 0 and had no position left: nothing to move, so
    # c1 has no customer row (it never had MRR as far as the rebuilt state knows).
    assert {k: first[k] for k in ("subscriptions", "positions_moved", "shards_fixed")} == {
        "subscriptions": 5,
        "positions_moved": 4,
        "shards_fixed": 0,
    }
    assert first["days_fixed"] == 0  # the movements it wrote kept their days, as the writes do
    again = rows(server.database, tenant.id)
    # Exactly the write path's rows, less those at 0 that only history could tell (the
    # cancelled subscription's position, its customer and its shard): every read agrees.
    assert {t: again[t] for t in TABLES} == {t: nonzero(t, built[t]) for t in TABLES}
    assert len(built["mrr_subscriptions"]) - len(again["mrr_subscriptions"]) == 1
    kinds = sorted(r[6] for r in again["mrr_movements"])
    assert kinds == ["expansion", "new", "new", "new"]  # c0's second one is an expansion

    second = rebuild(tenant.id, capsys)
    assert second == {**first, "positions_moved": 0, "customers_fixed": 0}
    assert rows(server.database, tenant.id) == again

    # A bug left a position and a shard wrong: the rebuild puts them back.
    team_id = team.name.removeprefix("subscriptions/")
    sql(server.database, "UPDATE mrr_subscriptions SET mrr_minor = 1 WHERE tenant_id = :t"
        " AND subscription_id = :s", t=tenant.id, s=team_id)  # fmt: skip
    sql(server.database, "UPDATE mrr_totals SET mrr_minor = mrr_minor + 7 WHERE tenant_id = :t",
        t=tenant.id)  # fmt: skip
    sql(server.database, "DELETE FROM mrr_days WHERE tenant_id = :t", t=tenant.id)
    fixed = rebuild(tenant.id, capsys)
    assert fixed["positions_moved"] == 1 and fixed["customers_fixed"] == 1
    assert fixed["days_fixed"] in (1, 2)  # the rebuilds' movements: today (and yesterday near 0:00)
    assert fixed["shards_fixed"] == len(again["mrr_totals"])
    after = rows(server.database, tenant.id)
    assert {t: after[t] for t in TABLES} == {t: again[t] for t in TABLES}
    metrics = metrics_pb2_grpc.MetricsServiceStub(channel)
    [now] = metrics.GetMrr(mp.GetMrrRequest(), metadata=tenant.metadata).rows
    assert now.mrr.amount_minor == 16900


def test_migration_0032_counts_the_customers_with_mrr_already_kept(backend, make_database) -> None:  # type: ignore[no-untyped-def]
    """Customers with MRR, and each day's net change of them, filled from the customers'
    totals and the movements kept before the migration (in shard 0)."""
    from alembic import command

    from billing.store.migrate import alembic_config, upgrade

    database = make_database(backend)
    command.downgrade(alembic_config(database.async_url), "0028")
    engine = sa.create_engine(database.sync_url)
    moves = [  # customer, at, kind, delta
        ("c1", "2026-03-01 10:00:00", "new", 3000),
        ("c2", "2026-03-01 11:00:00", "new", 5000),
        ("c3", "2026-03-02 09:00:00", "new", 1000),
        ("c2", "2026-03-02 12:00:00", "churn", -5000),
        ("c1", "2026-03-03 08:00:00", "expansion", 2000),
    ]
    try:
        with engine.begin() as conn:
            for i, (customer, at, kind, delta) in enumerate(moves):
                conn.execute(
                    sa.text(
                        "INSERT INTO mrr_movements (tenant_id, id, occurred_at, customer_id,"
                        " subscription_id, currency, kind, delta_minor) VALUES ('t1', :i, :at,"
                        " :c, :s, 'USD', :k, :d)"
                    ),
                    {"i": f"mrm_{i}", "at": at, "c": customer, "s": f"sub_{customer}",
                     "k": kind, "d": delta},
                )  # fmt: skip
            for customer, minor in (("c1", 5000), ("c2", 0), ("c3", 1000)):
                conn.execute(
                    sa.text(
                        "INSERT INTO mrr_customers (tenant_id, customer_id, currency, mrr_minor)"
                        " VALUES ('t1', :c, 'USD', :m)"
                    ),
                    {"c": customer, "m": minor},
                )
            conn.execute(  # a shard other than 0 only: the count gets a shard-0 row of its own
                sa.text(
                    "INSERT INTO mrr_totals (tenant_id, currency, shard, mrr_minor)"
                    " VALUES ('t1', 'USD', 5, 6000)"
                )
            )
            conn.execute(  # the day rows 0031 filled: the 2nd's exists, the 1st's does not
                sa.text(
                    "INSERT INTO mrr_days (tenant_id, day_start, currency, shard, delta_minor)"
                    " VALUES ('t1', '2026-03-02 00:00:00', 'USD', 0, -4000)"
                )
            )
        upgrade(database.async_url)
        with engine.connect() as conn:
            totals = conn.execute(
                sa.text("SELECT shard, mrr_minor, customers FROM mrr_totals ORDER BY shard")
            ).all()
            days = conn.execute(
                sa.text(
                    "SELECT delta_minor, customers_delta FROM mrr_days WHERE shard = 0"
                    " ORDER BY day_start"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in totals] == [(0, 0, 2), (5, 6000, 0)]  # c1 and c3
    # the 1st: c1 and c2 new (+2); the 2nd: c3 new, c2 churned (0, its MRR row kept)
    assert [tuple(r) for r in days] == [(0, 2), (-4000, 0)]
