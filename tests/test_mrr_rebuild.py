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


def nonzero(table_rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [r for r in table_rows if r[-1] != 0]


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
    assert sum(r[-1] for r in built["mrr_totals"]) == 16900
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
    assert {t: again[t] for t in TABLES} == {t: nonzero(built[t]) for t in TABLES}
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
