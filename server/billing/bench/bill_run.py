"""Bill-run benchmark on PostgreSQL (delivery off): invoices per second for one billing
cycle over many subscriptions, and the latency of FinalizeInvoice.

    python -m billing.bench.bill_run --subscriptions 100000 --workers 2 [--live-callers 8]

With `--live-callers N`, N interactive callers (3 GetCustomer : 1 CreateCustomer, each in a
closed loop, from a process of their own) run for `--live-seconds` with the server idle, then
again for the whole bill run: their p50/p95 idle and during the run show whether the run
starves the API.

Seeding bypasses gRPC (COPY straight into the tables, as the issue allows): customers on a
simulation clock, their subscriptions and each one's renewal due at the next boundary. Then
one AdvanceClock moves the clock over that boundary and the server processes share the run;
its wall time gives invoices per second. FinalizeInvoice is measured on one-off drafts from
several concurrent callers. Beside them, measured in the same run: pgbench's TPC-B-like
transaction on a scratch database (the database's own ceiling on this machine) and a bare
gRPC echo server called by the same number of callers (the floor of a call's latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import psycopg
from google.protobuf import timestamp_pb2
from sqlalchemy.engine.url import make_url
from ulid import ULID

from billing.api.auth import mint_hs256_token
from billing.bench import echo
from billing.bench.servers import (
    LOCALHOST,
    billing_command,
    clean_env,
    echo_command,
    free_port,
    migrate,
    postgresql_database,
    process_stats,
    process_tree,
    running_server,
)
from billing.bench.storage import table_report
from billing_client import bearer_metadata
from billing_client.v1 import (
    clocks_pb2,
    clocks_pb2_grpc,
    customers_pb2,
    customers_pb2_grpc,
    invoices_pb2,
    invoices_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
)

T0 = datetime(2026, 4, 1, tzinfo=UTC)
T1 = datetime(2026, 5, 1, tzinfo=UTC)
TENANT = "bench"
ITEMS = [
    {
        "price_code": None,
        "quantity": 1,
        "unit_amount": "30.00",
        "description": "Basic",
        "billed_unit_amount": "30.00",
        "negotiated": False,
    }
]


def stamp(at: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(at)
    return ts


# `--tax`: tax on, the customers spread over German consumers, Washington and Ontario
# addresses, taxed by the built-in engines with the shipped rates (eu_vat through the
# non-Union OSS, us_sales_tax with nexus in WA, canada's HST): what the bill run pays for
# deciding, computing, storing and booking tax (ADR 0026, 0033).
TAX_RULES = """kind: tax
policy: {enabled: true, rounding: line, default_tax_code: saas}
seller:
  name: Bench Inc.
  country: US
  subdivision: WA
  registrations:
    - {jurisdiction: EU-NONUNION-OSS, number: EU372000041, valid_from: 2021-07-01}
    - {jurisdiction: US-WA, number: "600000000", valid_from: 2020-01-01}
    - {jurisdiction: CA, number: "123456789RT0001", valid_from: 2020-01-01}
"""
# The shipped files the run's tax comes from, beside TAX_RULES (which takes the shipped
# tax.yaml's place and keeps its tax codes).
TAX_RATE_FILES = ("tax_eu.yaml", "tax_americas.yaml")


def tax_files(rules_dir: Path) -> dict[str, bytes]:
    shipped = (rules_dir / "tax.yaml").read_bytes()
    codes = shipped[shipped.index(b"\ntax_codes:") :]
    files = {name: (rules_dir / name).read_bytes() for name in TAX_RATE_FILES}
    return files | {"tax.yaml": TAX_RULES.encode() + codes}


TAX_ADDRESSES = (
    {"region_code": "DE", "postal_code": "10115", "locality": "Berlin"},
    {"region_code": "US", "administrative_area": "WA", "postal_code": "98101"},
    {"region_code": "CA", "administrative_area": "ON", "postal_code": "M5V 2T6"},
)


def seed(dsn: str, clock_id: str, rule_set: str, count: int, *, tax: bool = False) -> float:
    """COPY `count` customers, subscriptions and renewal items; returns seconds taken. With
    `tax`, the customers have addresses in the TAX_RULES jurisdictions, in turn."""
    started = time.perf_counter()
    empty = json.dumps({})
    addresses = [json.dumps(a) for a in TAX_ADDRESSES] if tax else [empty]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        customers: list[tuple[object, ...]] = []
        subs: list[tuple[object, ...]] = []
        due: list[tuple[object, ...]] = []
        for n in range(count):
            cus, sub = f"cus_{ULID()}", f"sub_{ULID()}"
            customers.append(
                (
                    TENANT,
                    cus,
                    "Bench",
                    "",
                    "USD",
                    "UTC",
                    "en-US",
                    addresses[n % len(addresses)],
                    "[]",
                    empty,
                    1,
                    T0,
                    T0,
                    clock_id,
                )
            )
            subs.append(
                (
                    TENANT,
                    sub,
                    cus,
                    "basic_monthly",
                    "USD",
                    "active",
                    json.dumps(ITEMS),
                    T0,
                    "month",
                    1,
                    "UTC",
                    T0,
                    T1,
                    False,
                    True,
                    clock_id,
                    rule_set,
                    1,
                    T0,
                )
            )
            due.append((TENANT, f"due_{ULID()}", "renew", sub, clock_id, T1, "", 0))
        with cur.copy(
            "COPY customers (tenant_id, id, display_name, email, currency_code, "
            "time_zone, locale, billing_address, tax_ids, metadata, version, "
            "create_time, update_time, clock_id) FROM STDIN"
        ) as copy:
            for row in customers:
                copy.write_row(row)
        with cur.copy(
            "COPY subscriptions (tenant_id, id, customer_id, plan_code, currency, "
            "status, items, anchor, interval, interval_count, time_zone, "
            "period_start, period_end, cancel_at_period_end, auto_renew, clock_id, "
            "rule_set, version, created_at) FROM STDIN"
        ) as copy:
            for row in subs:
                copy.write_row(row)
        with cur.copy(
            "COPY due_work (tenant_id, id, kind, subscription_id, clock_id, due_at, "
            "payload, attempts) FROM STDIN"
        ) as copy:
            for row in due:
                copy.write_row(row)
        conn.commit()
        cur.execute("ANALYZE")
    return time.perf_counter() - started


def request_id() -> str:
    """Random, and never taken for a card number by the edge's check: 16 random hex digits
    are all decimal and pass Luhn about once in 18,000 (a run of a few thousand calls then
    failed now and then); behind "0x" every run of digits follows letters after a digit,
    which the check reads as part of an id."""
    return "0x" + secrets.token_hex(8)


async def finalize_latencies(target: str, token: str, drafts: int, callers: int) -> list[float]:
    metadata = bearer_metadata(token)
    async with grpc.aio.insecure_channel(target) as channel:
        customers = customers_pb2_grpc.CustomerServiceStub(channel)
        invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
        customer = await customers.CreateCustomer(
            customers_pb2.CreateCustomerRequest(
                customer=customers_pb2.Customer(display_name="Drafts", currency_code="USD"),
                request_id=request_id(),
            ),
            metadata=metadata,
        )
        names = []
        for _ in range(drafts):
            draft = await invoices.CreateInvoice(
                invoices_pb2.CreateInvoiceRequest(customer=customer.name, request_id=request_id()),
                metadata=metadata,
            )
            await invoices.AddInvoiceLine(
                invoices_pb2.AddInvoiceLineRequest(
                    invoice=draft.name,
                    description="Setup",
                    unit_amount="99.00",
                    request_id=request_id(),
                ),
                metadata=metadata,
            )
            names.append(draft.name)
        latencies: list[float] = []

        async def caller(mine: list[str]) -> None:
            for name in mine:
                began = time.perf_counter()
                await invoices.FinalizeInvoice(
                    invoices_pb2.FinalizeInvoiceRequest(name=name, request_id=request_id()),
                    metadata=metadata,
                )
                latencies.append((time.perf_counter() - began) * 1000)

        await asyncio.gather(*(caller(names[i::callers]) for i in range(callers)))
        return latencies


LIVE_MIX = 4  # of every 4 calls of a live caller, 3 are GetCustomer and 1 CreateCustomer


async def _live_callers(target: str, token: str, callers: int, stop: Any) -> list[float]:
    """Milliseconds per call of `callers` closed-loop interactive callers until `stop` is set."""
    metadata = bearer_metadata(token)
    async with grpc.aio.insecure_channel(target) as channel:
        customers = customers_pb2_grpc.CustomerServiceStub(channel)
        made = await customers.CreateCustomer(
            customers_pb2.CreateCustomerRequest(
                customer=customers_pb2.Customer(display_name="Live", currency_code="USD"),
                request_id=request_id(),
            ),
            metadata=metadata,
        )
        latencies: list[float] = []

        async def caller(offset: int) -> None:
            n = offset
            while not stop.is_set():
                began = time.perf_counter()
                if n % LIVE_MIX == LIVE_MIX - 1:
                    await customers.CreateCustomer(
                        customers_pb2.CreateCustomerRequest(
                            customer=customers_pb2.Customer(
                                display_name="Live", currency_code="USD"
                            ),
                            request_id=request_id(),
                        ),
                        metadata=metadata,
                    )
                else:
                    await customers.GetCustomer(
                        customers_pb2.GetCustomerRequest(name=made.name), metadata=metadata
                    )
                latencies.append((time.perf_counter() - began) * 1000)
                n += 1

        await asyncio.gather(*(caller(i) for i in range(callers)))
        return latencies


def _live_process(target: str, token: str, callers: int, stop: Any, out: Any) -> None:
    out.put(asyncio.run(_live_callers(target, token, callers, stop)))


class LiveCallers:
    """The interactive callers in a process of their own (the bench's own work must not slow
    them): start(), then stop() returns their latencies."""

    def __init__(self, target: str, token: str, callers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._out: Any = context.Queue()
        self._process = context.Process(
            target=_live_process, args=(target, token, callers, self._stop, self._out)
        )

    def start(self) -> None:
        self._process.start()

    def stop(self) -> list[float]:
        self._stop.set()
        latencies: list[float] = self._out.get(timeout=60)
        self._process.join(timeout=10)
        return latencies


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_root: int) -> tuple[float, float]:
    """CPU seconds used so far by the server processes and by PostgreSQL's processes on this
    machine (its backends live as long as their pooled connections)."""
    servers = set(process_tree(server_root))
    used = [0.0, 0.0]
    for pid, name, fields in process_stats():
        seconds = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
        if pid in servers:
            used[0] += seconds
        elif name == "postgres":
            used[1] += seconds
    return used[0], used[1]


def pgbench_tps(server_url: str, clients: int, seconds: int) -> float | None:
    """Transactions per second of pgbench's built-in TPC-B-like script (five statements)
    in a scratch database; None when pgbench is not installed."""
    if shutil.which("pgbench") is None:
        return None
    with postgresql_database(server_url) as url:
        u = make_url(url)
        where = ["-h", u.host or LOCALHOST, "-p", str(u.port or 5432), "-U", u.username or ""]
        where.append(u.database or "")
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "1", *where],
            check=True,
            capture_output=True,
        )
        run = subprocess.run(
            ["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), *where],
            check=True,
            capture_output=True,
            text=True,
        )
    found = re.search(r"tps = ([0-9.]+)", run.stdout)
    return float(found.group(1)) if found else None


async def echo_latencies(target: str, calls: int, callers: int) -> list[float]:
    """Milliseconds per call to the bare echo server, `callers` at a time."""
    async with grpc.aio.insecure_channel(target) as channel:
        method = channel.unary_unary(echo.PATH)
        latencies: list[float] = []

        async def caller(count: int) -> None:
            for _ in range(count):
                began = time.perf_counter()
                await method(b"x" * 64)
                latencies.append((time.perf_counter() - began) * 1000)

        await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))
        return latencies


def percentiles(latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"


def live_report(
    callers: int, idle: list[float], idle_s: float, during: list[float], during_s: float
) -> str:
    ratio = statistics.quantiles(during, n=100)[94] / statistics.quantiles(idle, n=100)[94]
    return (
        f"live callers ({callers}, 3 GetCustomer : 1 CreateCustomer): "
        f"idle {len(idle) / idle_s:,.0f} calls/s, {percentiles(idle)}; during the run "
        f"{len(during) / during_s:,.0f} calls/s, {percentiles(during)}; p95 {ratio:.1f}x idle"
    )


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--drafts", type=int, default=500)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rules-dir", type=Path, default=Path("rules"))
    parser.add_argument(
        "--live-callers",
        type=int,
        default=0,
        help="interactive callers (3 GetCustomer : 1 CreateCustomer) idle, then during the run",
    )
    parser.add_argument("--live-seconds", type=float, default=10.0, help="idle measurement")
    parser.add_argument(
        "--tax",
        action="store_true",
        help="tax on: DE, US-WA, CA-ON customers (shipped engines, rates)",
    )
    parser.add_argument(
        "--table-sizes",
        action="store_true",
        help="after the run, VACUUM ANALYZE and print each table's bytes per subscription",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a BILLING_* setting for the servers, e.g. BILLING_DUE_WORK_CONCURRENCY=2",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # A SIGTERM unwinds like Ctrl-C, so the servers it started are stopped and the scratch
    # database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    secret = secrets.token_urlsafe(32)
    token = mint_hs256_token(
        secret,
        tenant_id=TENANT,
        subject="bench",
        issuer="billing-dev",
        audience="billing",
        lifetime_s=24 * 3600,
    )
    files = {p.name: p.read_bytes() for p in sorted(args.rules_dir.glob("*.yaml"))}
    # Delivery off: no delivery items at all, so the run measures billing alone.
    files["invoicing.yaml"] = files.get("invoicing.yaml", b"kind: invoicing\n") + (
        b"\nemail_invoices: false\n"
    )
    if args.tax:
        files = {n: f for n, f in files.items() if b"kind: tax" not in f}
        files |= tax_files(args.rules_dir)
    with postgresql_database(args.pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = clean_env(
            {
                "BILLING_DATABASE_URL": url,
                "BILLING_AUTH_HS256_SECRET": secret,
                "BILLING_LISTEN": f"{LOCALHOST}:{port}",
                "BILLING_WORKERS": str(args.workers),
                "BILLING_RULES_DIR": "",
                **dict(setting.split("=", 1) for setting in args.server_env),
            }
        )
        migrate(env)
        with running_server("billing", billing_command(), env, Path(tmp), args.workers) as srv:
            metadata = bearer_metadata(token)
            with grpc.insecure_channel(srv.target) as channel:
                pushed = rules_pb2_grpc.RuleServiceStub(channel).PushRuleSet(
                    rules_pb2.PushRuleSetRequest(files=files, request_id="rules"), metadata=metadata
                )
                clock = clocks_pb2_grpc.ClockServiceStub(channel).CreateClock(
                    clocks_pb2.CreateClockRequest(
                        clock=clocks_pb2.Clock(now=stamp(T0)), request_id="clock"
                    ),
                    metadata=metadata,
                )
                dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
                seconds = seed(
                    dsn,
                    clock.name.split("/")[1],
                    pushed.content_hash,
                    args.subscriptions,
                    tax=args.tax,
                )
                print(
                    f"seeded {args.subscriptions:,} subscriptions in {seconds:.1f} s; "
                    f"{args.workers} server processes, {' '.join(args.server_env) or 'defaults'}"
                    f"; tax {'on (DE, US-WA, CA-ON)' if args.tax else 'off'}"
                )
                live = None
                if args.live_callers:
                    idle = LiveCallers(srv.target, token, args.live_callers)
                    idle.start()
                    time.sleep(args.live_seconds)
                    idle_latencies = idle.stop()
                    live = LiveCallers(srv.target, token, args.live_callers)
                    live.start()
                    time.sleep(1.0)  # the callers' process is up and calling
                cpu_before = cpu_seconds(srv.pid)
                began = time.perf_counter()
                last = None
                for progress in clocks_pb2_grpc.ClockServiceStub(channel).AdvanceClock(
                    clocks_pb2.AdvanceClockRequest(name=clock.name, to=stamp(T1), request_id="run"),
                    metadata=metadata,
                    timeout=3 * 3600,
                ):
                    last = progress
                elapsed = time.perf_counter() - began
                cpu_after = cpu_seconds(srv.pid)
                during = live.stop() if live is not None else []
            ok = last is not None and last.finished and last.done == args.subscriptions
            print(
                f"bill run: {args.subscriptions:,} invoices in {elapsed:.1f} s = "
                f"{args.subscriptions / elapsed:,.0f} invoices/s on {args.workers} server "
                f"processes ({'complete' if ok else f'INCOMPLETE: {last}'}); CPU per invoice: "
                f"servers {(cpu_after[0] - cpu_before[0]) * 1000 / args.subscriptions:.2f} ms, "
                f"PostgreSQL {(cpu_after[1] - cpu_before[1]) * 1000 / args.subscriptions:.2f} ms"
                + (" (the live callers' calls included)" if args.live_callers else "")
            )
            if args.table_sizes:  # before the drafts below add invoices of their own
                print(table_report(dsn, args.subscriptions, "subscription (one renewal each)"))
            if args.live_callers:
                print(
                    live_report(
                        args.live_callers, idle_latencies, args.live_seconds, during, elapsed
                    )
                )
            latencies = asyncio.run(
                finalize_latencies(srv.target, token, args.drafts, args.callers)
            )
            print(
                f"FinalizeInvoice: {len(latencies)} calls from {args.callers} callers: "
                f"{percentiles(latencies)}"
            )
    print_baselines(args)
    return 0 if ok else 1


def print_baselines(args: argparse.Namespace) -> None:
    """A bare echo's latency and pgbench's rate, measured right after the run."""
    with tempfile.TemporaryDirectory() as tmp:
        with running_server("echo", echo_command(), clean_env({}), Path(tmp)) as srv:
            baseline = asyncio.run(echo_latencies(srv.target, args.drafts, args.callers))
        print(
            f"baseline echo: {len(baseline)} calls from {args.callers} callers: "
            f"{percentiles(baseline)}"
        )
    tps = pgbench_tps(args.pg_url, clients=2 * args.workers, seconds=15)
    print(
        "baseline pgbench (TPC-B-like, 5 statements a transaction, "
        f"{2 * args.workers} clients): "
        + (f"{tps:,.0f} transactions/s" if tps is not None else "pgbench not installed")
    )


if __name__ == "__main__":
    sys.exit(main())
