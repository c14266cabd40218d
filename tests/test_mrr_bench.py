"""The GetMrr 1M bench scenario at 2,000 subscriptions, so it cannot rot: the COPY seed is
what the write path would leave (GetMrrMovements and `billing mrr rebuild`'s consistency checks
agree with it), GetMrr answers it exactly now and a month back, and the load's calls run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest

from billing.app.clock import SystemClock
from billing.app.mrr_rebuild import Rebuilt, rebuild
from billing.bench import load, mrr_bench, mrr_seed
from billing.bench.load import GET_MRR, GET_MRR_AT, LoadSpec
from billing.bench.options import DEFAULT_SCENARIOS, parse_args
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import metrics_pb2 as mp
from billing_client.v1 import metrics_pb2_grpc
from billing_fixtures import ts
from conftest import Server, Tenant

N = 2_000


def test_the_seeded_history_is_what_the_write_path_would_record() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    moves = list(mrr_seed.moves(N, start))
    # 1,000 customers: each a new and an expansion; 100 expand again (c % 10 == 3); 40 leave
    # (c % 25 == 7), a contraction then a churn.
    kinds = {k: sum(1 for m in moves if m.kind == k) for k in {m.kind for m in moves}}
    assert kinds == {"new": 1000, "expansion": 1100, "contraction": 40, "churn": 40}
    positions, shards, count = mrr_seed.final_state(N, start)
    assert count == len(moves) == 2180
    assert sum(shards.values()) == sum(positions.values()) == sum(m.delta for m in moves)
    # Subscriptions 0..49 are worth 10.00..59.00; 40 pairs leave, 100 odd ones add 5.00.
    left = [c for c in range(N // 2) if c % 25 == 7]
    worth = sum(mrr_seed.base_minor(i) for i in range(N)) + 100 * 500
    lost = sum(mrr_seed.base_minor(2 * c) + mrr_seed.base_minor(2 * c + 1) for c in left)
    lost += sum(500 for c in left if c % 10 == 3)
    assert sum(positions.values()) == worth - lost
    assert all(start <= m.at < start + mrr_seed.SPAN for m in moves)


def test_the_scenario_seeds_checks_and_calls(server: Server, tenant: Tenant) -> None:
    if server.backend != "postgresql":
        pytest.skip("the MRR state is seeded with PostgreSQL's COPY")
    seeded = mrr_seed.seed(server.database.async_url, tenant.id, N, lambda _t: None)
    assert (seeded.subscriptions, seeded.movements) == (N, 2180)
    mrr_bench.check_answers(server.target, tenant.metadata, seeded)  # raises when not exact
    for back in (False, True):
        timed = mrr_bench.query_ms(server.database.async_url, tenant.id, at_month_back=back)
        assert timed.startswith("p50 ") and " ms over 300 reads" in timed
        assert ("churn's base (customers with MRR) a month back: p50 " in timed) is back

    with grpc.insecure_channel(server.target) as channel:
        metrics = metrics_pb2_grpc.MetricsServiceStub(channel)
        year = mp.GetMrrMovementsRequest(
            start_time=ts("2000-01-01T00:00:00Z"), end_time=ts("2100-01-01T00:00:00Z")
        )
        rows = metrics.GetMrrMovements(year, metadata=tenant.metadata).rows
        assert sum(r.amount.amount_minor for r in rows) == seeded.total_minor
        assert [(r.kind, r.count) for r in rows] == [
            ("new", 1000),
            ("expansion", 1100),
            ("contraction", 40),
            ("churn", 40),
        ]

    async def call_each() -> None:
        async with grpc.aio.insecure_channel(server.target) as channel:
            for scenario in (GET_MRR, GET_MRR_AT):
                spec = LoadSpec(scenario, server.target, tenant.metadata, 1, 0, 1, 10, "t")
                call = load.make_call(spec, 0, channel)
                for n in range(5):
                    await call(n)

    asyncio.run(call_each())

    async def rebuilt() -> Rebuilt:
        engine = create_engine(server.database.async_url)
        try:
            return await rebuild(SqlStore(engine), SystemClock(), tenant.id)
        finally:
            await engine.dispose()

    # The rebuild's own checks: customers' totals and shard totals agree with the positions
    # (no subscription rows were seeded, so it moves no position).
    assert asyncio.run(rebuilt()) == Rebuilt(0, 0, 0, 0, 0)


def test_the_scenarios_are_asked_for_by_name_and_not_run_by_default() -> None:
    args = parse_args(["--scenarios", f"echo,{GET_MRR},{GET_MRR_AT}", "--mrr-subscriptions", "9"])
    assert (args.scenarios, args.mrr_subscriptions) == (("echo", GET_MRR, GET_MRR_AT), 9)
    assert GET_MRR not in DEFAULT_SCENARIOS and GET_MRR_AT not in DEFAULT_SCENARIOS
