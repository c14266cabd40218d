"""Statements and transactions per renewal: the deterministic half of a bill run's cost.

Runs one server in this process (its own due-work loop stopped, so only the run's statements
are counted) on a scratch PostgreSQL database, seeds subscriptions as the bill-run benchmark
does, advances their clock over the renewal and counts what the run sent, per invoice.

    python -m billing.bench.renewal_statements [--subscriptions 500] [--show] [--tax]

`--tax`: the same run with tax on, as `bill_run --tax` (DE, US-WA and CA-ON customers).
"""

from __future__ import annotations

import argparse
import collections
import re
from collections.abc import Sequence
from tempfile import TemporaryDirectory

import grpc
from sqlalchemy.engine.url import make_url

from billing.bench.bill_run import T0, T1, TENANT, seed, stamp, tax_files
from billing.bench.servers import postgresql_database
from billing.bench.statements import RULES, Counter, bench_metadata, running
from billing.bench.subscription_setup import read_rule_files
from billing.store.migrate import upgrade
from billing_client.v1 import clocks_pb2, clocks_pb2_grpc, rules_pb2, rules_pb2_grpc


def _shape(statement: str) -> str:
    """A statement without its values, so repeats of one statement count together."""
    shape = re.sub(r"%\(\w+\)s|\$\d+|'[^']*'", "?", statement)
    shape = re.sub(r"(\?(, )?)+", "?", shape)
    return re.sub(r"\(\?\)(, \(\?\))+", "(?)…", shape)[:150]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=500)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--show", action="store_true", help="print each statement's count")
    parser.add_argument("--tax", action="store_true", help="tax on, as bill_run --tax")
    args = parser.parse_args(argv)
    counter = Counter()
    driver = args.database.replace("postgresql://", "postgresql+psycopg://", 1)
    with TemporaryDirectory() as workdir, postgresql_database(driver) as url:
        upgrade(url)
        counter.install()
        with running(url, workdir) as port, grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            md = bench_metadata(TENANT)
            files = read_rule_files(RULES)
            files["invoicing.yaml"] = files.get("invoicing.yaml", b"kind: invoicing\n") + (
                b"\nemail_invoices: false\n"
            )
            if args.tax:
                files = {n: f for n, f in files.items() if b"kind: tax" not in f}
                files |= tax_files(RULES)  # as bill_run --tax: the shipped engines and rates
            pushed = rules_pb2_grpc.RuleServiceStub(ch).PushRuleSet(
                rules_pb2.PushRuleSetRequest(files=files, request_id="rules"), metadata=md
            )
            clocks = clocks_pb2_grpc.ClockServiceStub(ch)
            clock = clocks.CreateClock(
                clocks_pb2.CreateClockRequest(
                    clock=clocks_pb2.Clock(now=stamp(T0)), request_id="clock"
                ),
                metadata=md,
            )
            dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
            seed(
                dsn, clock.name.split("/")[1], pushed.content_hash, args.subscriptions, tax=args.tax
            )
            counter.mark()
            before = counter.snapshot()
            last = None
            for last in clocks.AdvanceClock(  # noqa: B007
                clocks_pb2.AdvanceClockRequest(name=clock.name, to=stamp(T1), request_id="run"),
                metadata=md,
                timeout=600,
            ):
                pass
            after = counter.snapshot()
            shapes = collections.Counter(_shape(text) for text in counter.recent)
    n = args.subscriptions
    assert last is not None and last.done == n, last
    sent, commits, pipelines, pipelined, commits_batched = (
        a - b for a, b in zip(after, before, strict=True)
    )
    round_trips = sent + pipelines + commits - commits_batched  # as bench.statements counts
    print(
        f"bill run of {n} renewals (PostgreSQL), per renewal: {sent / n:.2f} statements sent "
        f"alone, {pipelined / n:.2f} in {pipelines / n:.3f} write batches, "
        f"{commits / n:.3f} transactions; {round_trips / n:.2f} round trips"
    )
    if args.show:
        for shape, count in shapes.most_common():
            print(f"{count / n:8.3f}  {shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
