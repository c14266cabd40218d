"""GetMrr 1M (issue 17: MRR at 1,000,000 subscriptions in <= 10 ms): seed the tenant's MRR state
once per server (mrr_seed), check that GetMrr answers exactly what was seeded, now and a month
back, then measure it from one caller and under the run's load."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from billing.bench import mrr_seed
from billing.bench.load import CALL_TIMEOUT_S, GET_MRR_AT
from billing.bench.mrr_load import MONTH_BACK
from billing.bench.options import Plan
from billing.bench.report import Row
from billing.bench.servers import BenchError, RunningServer
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
    got = ([r.mrr.amount_minor for r in now.rows], [r.mrr.amount_minor for r in back.rows])
    want = ([seeded.total_minor], [mrr_seed.expected_at(seeded.subscriptions, seeded.start, at)])
    if got != want:
        raise BenchError(f"GetMrr answered {got} (now, month back), the seed says {want}")


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
        f" ({seeded.movements:,} movements over 11 months; {seeded.table_sizes}); answers"
        " checked exact against the seed"
    )
    if scenario == GET_MRR_AT:
        note += "; as_of_time 30 days back: the current total less the movements since"
    one = measure(
        dataclasses.replace(plan, procs=1),
        server,
        scenario,
        db=db,
        tracing=plan.tracing,
        concurrency=1,
        call_timeout_s=CALL_TIMEOUT_S,
    )
    one.note = "one caller: " + note
    loaded = measure(plan, server, scenario, db=db, tracing=plan.tracing)
    loaded.note = "under load: " + note
    return [one, loaded]


def _progress_on(db: str) -> Callable[[str], None]:
    import sys

    def progress(text: str) -> None:
        print(f"billing-bench: {db}: {text}", file=sys.stderr, flush=True)

    return progress
