"""`billing-bench`: start the servers, run each scenario, print the table.

billing-bench                          # echo, CreateCustomer, GetCustomer on both databases
billing-bench --db sqlite --seconds 5  # one database, shorter window
billing-bench --trace-ratio 1 --json bench.json
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import grpc

from billing.api.auth import mint_hs256_token
from billing.bench import load, report, servers
from billing.bench.load import ECHO, GET, SCENARIOS, LoadError, LoadSpec
from billing.bench.report import Row
from billing.bench.servers import LOCALHOST, BenchError, RunningServer
from billing_client import bearer_metadata

DATABASES = ("sqlite", "postgresql")
DEFAULT_PG_URL = f"postgresql+psycopg://postgres@{LOCALHOST}:5432/test"
ISSUER = "billing-dev"
AUDIENCE = "billing"
TENANT_CLAIM = "tenant_id"
TOKEN_LIFETIME_S = 6 * 3600


@dataclass(frozen=True)
class Plan:
    scenarios: tuple[str, ...]
    dbs: tuple[str, ...]
    procs: int
    concurrency: int
    seconds: float
    warmup_s: float
    max_calls: int
    customers: int
    pg_url: str
    pg_workers: int
    trace_ratio: float
    run_tag: str
    secret: str
    metadata: tuple[tuple[str, str], ...]

    @property
    def tracing(self) -> bool:
        return self.trace_ratio > 0


def _choices(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [c for c in chosen if c not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
        return chosen

    return parse


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="billing-bench",
        description="Benchmark the billing server against a bare gRPC echo server. "
        "Starts every server itself, on 127.0.0.1 only.",
    )
    parser.add_argument(
        "--db",
        type=_choices(DATABASES),
        default=DATABASES,
        help="comma-separated: sqlite,postgresql (default both)",
    )
    parser.add_argument(
        "--scenarios",
        type=_choices(SCENARIOS),
        default=SCENARIOS,
        help=f"comma-separated: {','.join(SCENARIOS)} (default all)",
    )
    parser.add_argument("--procs", type=_positive_int, default=4, help="load processes")
    parser.add_argument(
        "--concurrency", type=_positive_int, default=16, help="in-flight calls per load process"
    )
    parser.add_argument(
        "--seconds", type=_positive_float, default=10.0, help="measured window per scenario"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded load before it")
    parser.add_argument(
        "--max-calls",
        type=_positive_int,
        default=2_000_000,
        help="upper bound on calls per load process and scenario",
    )
    parser.add_argument(
        "--customers", type=_positive_int, default=500, help="customers GetCustomer reads"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server to use")
    parser.add_argument(
        "--pg-workers", type=_positive_int, default=2, help="server processes on PostgreSQL"
    )
    parser.add_argument(
        "--trace-ratio", type=_ratio, default=0.0, help="BILLING_TRACE_SAMPLE_RATIO (0: off)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    secret = secrets.token_urlsafe(32)
    run_tag = secrets.token_hex(4)
    token = mint_hs256_token(
        secret,
        tenant_id=f"bench_{run_tag}",
        subject="billing-bench",
        issuer=ISSUER,
        audience=AUDIENCE,
        tenant_claim=TENANT_CLAIM,
        lifetime_s=TOKEN_LIFETIME_S,
    )
    return Plan(
        scenarios=args.scenarios,
        dbs=args.db,
        procs=args.procs,
        concurrency=args.concurrency,
        seconds=args.seconds,
        warmup_s=args.warmup,
        max_calls=args.max_calls,
        customers=args.customers,
        pg_url=args.pg_url,
        pg_workers=args.pg_workers,
        trace_ratio=args.trace_ratio,
        run_tag=run_tag,
        secret=secret,
        metadata=bearer_metadata(token),
    )


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
        run_tag=f"{plan.run_tag}{scenario[:1].lower()}",
        customer_names=customer_names,
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
            for scenario in scenarios:
                names: tuple[str, ...] = ()
                if scenario == GET:
                    _progress(f"creating {plan.customers} customers for {GET} on {db}")
                    names = tuple(
                        load.create_customers(
                            server.target, plan.metadata, plan.customers, f"{plan.run_tag}s"
                        )
                    )
                rows.append(
                    measure(
                        plan, server, scenario, db=db, tracing=plan.tracing, customer_names=names
                    )
                )
    except (BenchError, LoadError, OSError, grpc.RpcError) as exc:
        # Report it and go on with the next database; what ran is kept.
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _progress(f"{db} failed: {exc}")
        done = {r.scenario for r in rows}
        load_shape = (plan.procs, plan.concurrency)
        rows += [
            report.failed_row(s, db, workers, load=load_shape, tracing=plan.tracing, why=why)
            for s in scenarios
            if s not in done
        ]
    return rows


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM: the same clean-up as Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
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
        report.write_json(args.json, rows, settings, info)
        print(f"\nwrote {args.json}")
    return 1 if any(r.failure for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
