"""CPU per ingested event: the deterministic half of StreamUsage's cost.

`billing-bench`'s StreamUsage figure moves with the machine's load and with how its two cores
are shared between the server, PostgreSQL and the load processes. This runs one server in this
process (due-work worker stopped) on a scratch PostgreSQL database, sends StreamUsage calls of
the load bench's shape (`usage_load.stream_usage_call`: 20 messages of 500 events, one call at
a time, from a process of their own) and prints the CPU each accepted event cost: the server's
event-loop thread (where all of a call's Python runs), the whole server process (gRPC's own
threads too) and every local PostgreSQL process.

    python -m billing.bench.usage_cpu --database postgresql://postgres@127.0.0.1:5432/test
        [--calls 8] [--subscriptions 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import Connection
from tempfile import TemporaryDirectory

import grpc

from billing.bench.servers import postgresql_database
from billing.bench.statements import (
    RULES,
    bench_metadata,
    postgres_cpu_s,
    running,
    server_cpu_s,
)
from billing.bench.subscription_setup import SubscriptionFixtures, read_rule_files
from billing.bench.usage_load import EVENTS_PER_CALL, EventTally, stream_usage_call
from billing.bench.usage_setup import UsageFixtures, with_usage_rules
from billing.cli import tune_gc
from billing.store.migrate import upgrade


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a PostgreSQL server URL")
    parser.add_argument("--calls", type=int, default=20, help="measured calls (one more warms up)")
    parser.add_argument("--subscriptions", type=int, default=200)
    parser.add_argument(
        "--run-tag",
        default="cpu",
        help="in every event id (bench-<tag>-000-<call>-<event>; the database is new each run)",
    )
    args = parser.parse_args(argv)
    md = bench_metadata("bench_usage")
    driver = args.database.replace("postgresql://", "postgresql+psycopg://", 1)
    with TemporaryDirectory() as workdir, postgresql_database(driver) as url:
        upgrade(url)
        with running(url, workdir) as port:
            tune_gc()  # as a serving process does (billing.cli)
            target = f"127.0.0.1:{port}"
            files = with_usage_rules(read_rule_files(RULES))
            fixtures = SubscriptionFixtures(target, md, files, lambda _text: None)
            usage = UsageFixtures(fixtures, target, md, url, lambda _text: None)
            owned = usage.stream_subscriptions(1, args.subscriptions)[0]
            names = [s.name for s in owned]
            measured = _measure(target, md, names, args.calls, args.run_tag)
    print(
        f"StreamUsage, {args.calls} calls of {EVENTS_PER_CALL:,} events one at a time"
        f" over {args.subscriptions} subscriptions (after one warm-up call); per event:"
    )
    print(
        f"{'':<10}{'server loop CPU us':>20}{'server CPU us':>15}{'PostgreSQL CPU us':>19}"
        f"{'events/s, one stream':>23}"
    )
    for label, pick in (("least", min), ("median", statistics.median)):
        loop_us, server_us, database_us = (pick(m[i] for m in measured) for i in range(3))
        rate = EVENTS_PER_CALL / pick(m[3] for m in measured)
        print(f"{label:<10}{loop_us:>20.2f}{server_us:>15.2f}{database_us:>19.2f}{rate:>23,.0f}")
    return 0


def _measure(
    target: str,
    md: tuple[tuple[str, str], ...],
    subscriptions: Sequence[str],
    calls: int,
    run_tag: str,
) -> list[tuple[float, float, float, float]]:
    """Per call: (server loop thread, server process, PostgreSQL: CPU us per event; wall
    seconds), of calls sent by
    a process of their own (in this one, building the requests would share the server's
    GIL). Each call is measured alone: the machine's other work inflates some of them, and
    the least of them says what a call itself costs."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    sender = context.Process(
        target=_send, args=(theirs, target, md, list(subscriptions), calls, run_tag), daemon=True
    )
    sender.start()
    measured: list[tuple[float, float, float, float]] = []
    try:
        for _ in range(calls):
            if ours.recv() != "ready":
                raise RuntimeError("the sending process failed")
            cpu, process = server_cpu_s(), time.process_time()
            database, wall = postgres_cpu_s(), time.perf_counter()
            ours.send("go")
            if ours.recv() != "done":
                raise RuntimeError("the sending process failed")
            wall = time.perf_counter() - wall
            cpu, process = server_cpu_s() - cpu, time.process_time() - process
            database = postgres_cpu_s() - database
            measured.append(
                (
                    cpu / EVENTS_PER_CALL * 1e6,
                    process / EVENTS_PER_CALL * 1e6,
                    database / EVENTS_PER_CALL * 1e6,
                    wall,
                )
            )
    finally:
        sender.join(timeout=10)
    return measured


def _send(
    pipe: Connection,
    target: str,
    md: tuple[tuple[str, str], ...],
    subscriptions: list[str],
    calls: int,
    run_tag: str,
) -> None:
    async def run() -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            call = stream_usage_call(
                channel, md, subscriptions, run_tag=run_tag, index=0, timeout_s=120
            )
            await _accepted(call, 0)  # warm-up
            for n in range(1, calls + 1):
                pipe.send("ready")
                pipe.recv()
                await _accepted(call, n)
                pipe.send("done")

    try:
        asyncio.run(run())
    except BaseException:
        pipe.send("failed")
        raise


async def _accepted(call: Callable[[int], Awaitable[EventTally]], n: int) -> None:
    tally = await call(n)
    if tally.accepted != EVENTS_PER_CALL:
        raise RuntimeError(f"call {n}: {tally}")


if __name__ == "__main__":
    raise SystemExit(main())
