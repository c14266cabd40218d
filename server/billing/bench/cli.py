"""`billing-bench`: start the servers, run each scenario, print the table.

billing-bench                          # every scenario on both databases
billing-bench --db sqlite --seconds 5  # one database, shorter window
billing-bench --scenarios "echo,ChangeSubscription,clock 24 months" --clock-subscriptions 50
billing-bench --trace-ratio 1 --json bench.json
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import grpc

from billing.bench import clock_run, load, report, servers
from billing.bench.load import (
    CHANGE_SUB,
    CLOCK_RUN,
    CREATE_SUB,
    ECHO,
    GET,
    SCENARIOS,
    LoadError,
    LoadSpec,
)
from billing.bench.options import (
    AUDIENCE,
    ISSUER,
    TENANT_CLAIM,
    Plan,
    make_plan,
    parse_args,
)
from billing.bench.report import Row
from billing.bench.servers import LOCALHOST, BenchError, RunningServer
from billing.bench.subscription_load import OwnedSubscription
from billing.bench.subscription_setup import SubscriptionFixtures


def _progress(text: str) -> None:
    print(f"billing-bench: {text}", file=sys.stderr, flush=True)


def measure(
    plan: Plan,
    server: RunningServer,
    scenario: str,
    *,
    db: str,
    tracing: bool,
    customer_names: tuple[str, ...] = (),
    subscriptions: tuple[tuple[OwnedSubscription, ...], ...] = (),
) -> Row:
    _progress(f"{scenario} on {db}: {plan.warmup_s:g}s warm-up, {plan.seconds:g}s measured")
    spec = LoadSpec(
        scenario=scenario,
        target=server.target,
        metadata=plan.metadata,  # the echo server ignores it; sent so headers weigh the same
        concurrency=plan.concurrency,
        warmup_s=plan.warmup_s,
        seconds=plan.seconds,
        max_calls=plan.max_calls,
        run_tag=f"{plan.run_tag}{SCENARIOS.index(scenario)}",
        customer_names=customer_names,
        subscriptions=subscriptions,
    )
    connections: list[int] | None = None

    def on_connected() -> None:
        nonlocal connections
        connections = servers.connections_per_server_process(server.pid, server.port)

    results = load.run_load(spec, plan.procs, on_connected)
    row = report.summarize(
        results,
        scenario=scenario,
        db=db,
        server_processes=server.processes,
        concurrency=plan.concurrency,
        tracing=tracing,
        seconds=plan.seconds,
    )
    row.connections_per_server_process = connections
    return row


def measure_clock_run(
    plan: Plan, server: RunningServer, fixtures: SubscriptionFixtures, *, db: str
) -> Row:
    clock = fixtures.clock_with_subscriptions(plan.clock_subscriptions)
    _progress(f"{CLOCK_RUN} on {db}: advancing {plan.clock_subscriptions} subscriptions")
    run = clock_run.advance(server.target, plan.metadata, clock, plan.clock_subscriptions)
    return clock_run.to_row(run, db=db, server_processes=server.processes, tracing=plan.tracing)


def measure_scenario(
    plan: Plan, server: RunningServer, fixtures: SubscriptionFixtures, scenario: str, *, db: str
) -> Row:
    """Set up what `scenario` needs on this server, then measure it."""
    names: tuple[str, ...] = ()
    subscriptions: tuple[tuple[OwnedSubscription, ...], ...] = ()
    if scenario == CLOCK_RUN:
        return measure_clock_run(plan, server, fixtures, db=db)
    if scenario == GET:
        _progress(f"creating {plan.customers} customers for {GET} on {db}")
        names = tuple(
            load.create_customers(server.target, plan.metadata, plan.customers, f"{plan.run_tag}s")
        )
    elif scenario == CREATE_SUB:
        names = fixtures.clock_customers(plan.customers)
    elif scenario == CHANGE_SUB:
        subscriptions = fixtures.owned_subscriptions(
            plan.procs, plan.change_subscriptions, plan.customers
        )
    return measure(
        plan,
        server,
        scenario,
        db=db,
        tracing=plan.tracing,
        customer_names=names,
        subscriptions=subscriptions,
    )


def run_echo(plan: Plan, workdir: Path) -> Row:
    try:
        with servers.running_server(
            "echo", servers.echo_command(), servers.clean_env({}), workdir
        ) as server:
            return measure(plan, server, ECHO, db="-", tracing=False)
    except (BenchError, LoadError) as exc:
        _progress(f"echo failed: {exc}")
        return report.failed_row(
            ECHO, "-", 1, load=(plan.procs, plan.concurrency), tracing=False, why=str(exc)
        )


def run_billing(plan: Plan, db: str, workdir: Path) -> list[Row]:
    scenarios = [s for s in plan.scenarios if s != ECHO]
    workers = plan.pg_workers if db == "postgresql" else 1
    rows: list[Row] = []
    try:
        with contextlib.ExitStack() as stack:
            if db == "sqlite":
                url = servers.sqlite_url(workdir)
            else:
                _progress(f"creating a PostgreSQL database for {db}")
                url = stack.enter_context(servers.postgresql_database(plan.pg_url))
            # Several workers share one port (SO_REUSEPORT): they need it fixed, not port 0.
            port = servers.free_port() if workers > 1 else 0
            env = servers.clean_env(
                {
                    "BILLING_DATABASE_URL": url,
                    "BILLING_LISTEN": f"{LOCALHOST}:{port}",
                    "BILLING_WORKERS": str(workers),
                    "BILLING_AUTH_HS256_SECRET": plan.secret,
                    "BILLING_AUTH_ISSUER": ISSUER,
                    "BILLING_AUTH_AUDIENCE": AUDIENCE,
                    "BILLING_AUTH_TENANT_CLAIM": TENANT_CLAIM,
                    "BILLING_TRACE_SAMPLE_RATIO": repr(plan.trace_ratio),
                    "BILLING_DATA_DIR": str(workdir),
                }
            )
            if db == "postgresql":
                servers.migrate(env)
            _progress(f"starting the billing server on {db} ({workers} process(es))")
            server = stack.enter_context(
                servers.running_server(
                    f"billing-{db}", servers.billing_command(), env, workdir, workers
                )
            )
            fixtures = SubscriptionFixtures(
                server.target, plan.metadata, plan.rule_files, lambda t: _progress(f"{db}: {t}")
            )
            for scenario in scenarios:
                rows.append(measure_scenario(plan, server, fixtures, scenario, db=db))
    except (BenchError, LoadError, OSError, grpc.RpcError) as exc:
        # Report it and go on with the next database; what ran is kept.
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _progress(f"{db} failed: {exc}")
        done = {r.scenario for r in rows}
        load_shape = (plan.procs, plan.concurrency)
        rows += [
            report.failed_row(
                s,
                db,
                workers,
                load=(1, 1) if s == CLOCK_RUN else load_shape,  # one AdvanceClock call
                tracing=plan.tracing,
                why=why,
            )
            for s in scenarios
            if s not in done
        ]
    return rows


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM: the same clean-up as Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        plan = make_plan(args)
    except BenchError as exc:
        _progress(str(exc))
        return 2
    info = report.machine()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="billing-bench-"))
    rows: list[Row] = []
    try:
        if ECHO in plan.scenarios:
            rows.append(run_echo(plan, workdir))
        if any(s != ECHO for s in plan.scenarios):
            for db in plan.dbs:
                rows += run_billing(plan, db, workdir)
    except KeyboardInterrupt:
        _progress("interrupted; every server and load process has been stopped")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report.apply_baseline(rows, ECHO)
    print(
        f"\nmachine: {info['cores']} cores ({info['cores_available']} available to this process)"
        f", Python {info['python']}, grpcio {info['grpcio']}"
    )
    print(
        f"load: {plan.procs} processes x {plan.concurrency} in flight, {plan.seconds:g}s measured"
        f" after {plan.warmup_s:g}s warm-up; latencies of successful calls; calls/s counts "
        "successful calls only\n"
    )
    print(report.format_table(rows))
    notes = report.format_notes(rows)
    if notes:
        print("\n" + notes)
    if args.json is not None:
        settings: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in {"json"}}
        settings["scenarios"] = list(plan.scenarios)
        settings["db"] = list(plan.dbs)
        settings["rules_dir"] = str(args.rules_dir)
        report.write_json(args.json, rows, settings, info)
        print(f"\nwrote {args.json}")
    return 1 if any(r.failure for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
