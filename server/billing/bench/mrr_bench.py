"""GetMrr 1M (issue 17: MRR at 1,000,000 subscriptions in <= 10 ms): seed the tenant's MRR state
once per server (mrr_seed), check that GetMrr answers exactly what was seeded, now and a month
back, then measure it from one caller and under the run's load."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from billing.bench import mrr_seed
from billing.bench.load import GET_MRR_AT
from billing.bench.mrr_load import MONTH_BACK
from billing.bench.options import Plan
from billing.bench.report import Row
from billing.bench.servers import BenchError, RunningServer
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import metrics_pb2, metrics_pb2_grpc

Measure = Callable[..., Row]
_seeded: dict[tuple[str, str], mrr_seed.Seeded] = {}  # (database url, tenant): seeded once


def tenant_of(plan: Plan) -> str:
    return f"bench_{plan.run_tag}"  # as make_plan mints the run's token


def seed_once(plan: Plan, database_url: str, progress: Callable[[str], None]) -> mrr_seed.Seeded:
    key = (database_url, tenant_of(plan))
    if key not in _seeded:
        progress(f"seeding the MRR state of {plan.mrr_subscriptions:,} subscriptions (COPY)")
        _seeded[key] = mrr_seed.seed(database_url, key[1], plan.mrr_subscriptions, progress)
    return _seeded[key]


def check_answers(
    target: str, metadata: tuple[tuple[str, str], ...], seeded: mrr_seed.Seeded
) -> None:
    """GetMrr now and a month back must be exactly what the seeded history says."""
    at = datetime.now(UTC).replace(microsecond=0) - MONTH_BACK
    with grpc.insecure_channel(target) as channel:
        stub = metrics_pb2_grpc.MetricsServiceStub(channel)
        now = stub.GetMrr(metrics_pb2.GetMrrRequest(), metadata=metadata, timeout=30)
        request = metrics_pb2.GetMrrRequest()
        request.as_of_time.FromDatetime(at)
        back = stub.GetMrr(request, metadata=metadata, timeout=30)
        churn_request = metrics_pb2.GetChurnRequest()
        churn_request.start_time.FromDatetime(at)
        churn_request.end_time.FromDatetime(datetime.now(UTC) + MONTH_BACK)
        churn = stub.GetChurn(churn_request, metadata=metadata, timeout=60)
    got = ([r.mrr.amount_minor for r in now.rows], [r.mrr.amount_minor for r in back.rows])
    want = ([seeded.total_minor], [mrr_seed.expected_at(seeded.subscriptions, seeded.start, at)])
    if got != want:
        raise BenchError(f"GetMrr answered {got} (now, month back), the seed says {want}")
    base = [r.customers_at_start for r in churn.rows]
    expected = [mrr_seed.expected_customers_at(seeded.subscriptions, seeded.start, at)]
    if base != expected:
        raise BenchError(f"GetChurn's customers a month back: {base}, the seed says {expected}")


def recent(seeded: mrr_seed.Seeded) -> int:
    cutoff = datetime.now(UTC) - MONTH_BACK
    return sum(1 for m in mrr_seed.moves(seeded.subscriptions, seeded.start) if m.at >= cutoff)


def measure_mrr(
    plan: Plan,
    server: RunningServer,
    database_url: str,
    scenario: str,
    db: str,
    measure: Measure,
) -> list[Row]:
    progress = _progress_on(db)
    seeded = seed_once(plan, database_url, progress)
    check_answers(server.target, plan.metadata, seeded)
    note = (
        f"{seeded.subscriptions:,} subscriptions' MRR state COPY-seeded in {seeded.seconds:.0f} s"
        f" ({seeded.movements:,} movements over a year, {recent(seeded):,} of them in the last"
        f" 30 days; {seeded.table_sizes}); answers"
        " checked exact against the seed"
    )
    if scenario == GET_MRR_AT:
        note += (
            "; as_of_time 30 days back: the current total less the days since (mrr_days) and"
            " the movements left in its own day"
        )
    query = query_ms(database_url, tenant_of(plan), at_month_back=scenario == GET_MRR_AT)
    note += f"; the store's read alone, in process: {query}"
    one = one_caller(plan, server, scenario, db, plan.tracing, measure)
    one.note = "one caller: " + note
    loaded = measure(plan, server, scenario, db=db, tracing=plan.tracing)
    loaded.note = "under load: " + note
    return [one, loaded]


def one_caller(
    plan: Plan, server: RunningServer, scenario: str, db: str, tracing: bool, measure: Measure
) -> Row:
    """One load process with one call in flight: latency without queueing."""
    one_plan = dataclasses.replace(plan, procs=1)
    return measure(
        one_plan, server, scenario, db=db, tracing=tracing, concurrency=1, call_timeout_s=10.0
    )


QUERY_CALLS = 300


def query_ms(database_url: str, tenant: str, *, at_month_back: bool) -> str:
    """p50 / p95 of the store's read (SqlMrr.totals or totals_at), no gRPC: what the database
    and SQLAlchemy cost, apart from the server around them."""

    async def run() -> list[float]:
        engine = create_engine(database_url)
        try:
            store = SqlStore(engine)
            at = datetime.now(UTC) - MONTH_BACK
            times: list[float] = []
            for _ in range(QUERY_CALLS):
                began = time.perf_counter()
                async with store.read() as tx:
                    if at_month_back:
                        await tx.mrr.totals_at(tenant, at)
                    else:
                        await tx.mrr.totals(tenant)
                times.append((time.perf_counter() - began) * 1000)
            if at_month_back:  # churn's base a month back (GetChurn), bounded the same way
                for _ in range(QUERY_CALLS):
                    began = time.perf_counter()
                    async with store.read() as tx:
                        await tx.mrr.customers_at(tenant, at)
                    base.append((time.perf_counter() - began) * 1000)
            return times
        finally:
            await engine.dispose()

    base: list[float] = []
    times = sorted(asyncio.run(run()))
    p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
    text = f"p50 {p50:.2f} ms, p95 {p95:.2f} ms over {QUERY_CALLS} reads"
    if base:
        base.sort()
        b50, b95 = base[len(base) // 2], base[int(len(base) * 0.95)]
        text += f"; churn's base (customers with MRR) a month back: p50 {b50:.2f}, p95 {b95:.2f} ms"
    return text


def _progress_on(db: str) -> Callable[[str], None]:
    import sys

    def progress(text: str) -> None:
        print(f"billing-bench: {db}: {text}", file=sys.stderr, flush=True)

    return progress
