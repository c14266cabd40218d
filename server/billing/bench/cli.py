"""`billing-bench`: start the servers, run each scenario, print the table.

billing-bench                          # every scenario but "GetCurrentUsage 10M", both databases
billing-bench --db sqlite --seconds 5  # one database, shorter window
billing-bench --scenarios "echo,ChangeSubscription,clock 24 months" --clock-subscriptions 50
billing-bench --db postgresql --scenarios "StreamUsage,GetCurrentUsage 10M"  # PostgreSQL only
billing-bench --trace-ratio 1 --json bench.json
billing-bench --db postgresql --scenarios CreateSubscription --rate half  # p95 at half of max
billing-bench --db postgresql --scenarios GetCustomer --rate 1500         # open loop, 1,500/s
billing-bench --db postgresql --scenarios echo,PayInvoice --rate half     # the sandbox gateway
billing-bench --db postgresql --scenarios "echo,GetEntitlements,GetEntitlements redis"  # Redis
billing-bench --db postgresql --scenarios "echo h2load,GetCustomer h2load" --procs 16 \\
    --concurrency 4                   # load from h2load: 16 connections x 4 streams
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import grpc

from billing.bench import (
    clock_run,
    echo,
    h2load,
    load,
    mrr_bench,
    pay_invoice_load,
    quote_tax_load,
    report,
    servers,
    usage_ceiling,
)
from billing.bench.load import (
    CALL_TIMEOUT_S,
    CHANGE_SUB,
    CLOCK_RUN,
    CREATE_SUB,
    CURRENT_USAGE,
    CURRENT_USAGE_CALL_TIMEOUT_S,
    ECHO,
    ECHO_H2LOAD,
    ENTITLEMENTS,
    ENTITLEMENTS_REDIS,
    GET,
    GET_H2LOAD,
    GET_REDIS,
    H2LOAD_SCENARIOS,
    MRR_SCENARIOS,
    PAY_INVOICE,
    POSTGRESQL_ONLY,
    QUOTE_TAX,
    REDIS_SCENARIOS,
    SCENARIOS,
    STREAM_CALL_TIMEOUT_S,
    STREAM_USAGE,
    LoadError,
    LoadSpec,
)
from billing.bench.options import (
    AUDIENCE,
    CLOSED_LOOP_ONLY,
    HALF,
    ISSUER,
    TENANT_CLAIM,
    Plan,
    make_plan,
    parse_args,
)
from billing.bench.otlp_sink import OtlpSink
from billing.bench.report import Row
from billing.bench.servers import LOCALHOST, BenchError, RunningServer
from billing.bench.subscription_load import OwnedSubscription
from billing.bench.subscription_setup import SubscriptionFixtures
from billing.bench.usage_load import CHUNK_EVENTS, CHUNKS_PER_CALL
from billing.bench.usage_setup import UsageFixtures
from billing.observability.metrics import split_host_port, worker_listen
from billing_client.v1 import customers_pb2

# SO_REUSEPORT hands each new connection to a server process at random: 4 connections over 2
# processes are 2 + 2 only 3 times in 8, and 0 + 4 leaves one process idle (StreamUsage then
# measured 18k events/s instead of 28k). The load processes reconnect until the spread is
# even, as a load balancer would spread them; the row says how many tries it took.
BALANCE_ATTEMPTS = 12
ECHOES = (ECHO, ECHO_H2LOAD)  # measured on the echo server


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
    subscription_names: tuple[str, ...] = (),
    concurrency: int | None = None,
    call_timeout_s: float = CALL_TIMEOUT_S,
    on_start: Callable[[], None] | None = None,
    rate: float | None = None,
    metadata: tuple[tuple[str, str], ...] | None = None,
    invoice_names: tuple[tuple[str, ...], ...] = (),
) -> Row:
    """One closed-loop measurement, or open loop at `rate` calls/s (all processes), as the
    plan's tenant or the one `metadata` names."""
    paced = "" if rate is None else f" at {rate:,.1f} calls/s (open loop)"
    _progress(f"{scenario} on {db}{paced}: {plan.warmup_s:g}s warm-up, {plan.seconds:g}s measured")
    in_flight = plan.concurrency if concurrency is None else concurrency
    if rate is not None:
        in_flight = plan.max_in_flight
    spec = LoadSpec(
        scenario=scenario,
        target=server.target,
        # the echo server ignores it; sent so headers weigh the same
        metadata=plan.metadata if metadata is None else metadata,
        concurrency=in_flight,
        warmup_s=plan.warmup_s,
        seconds=plan.seconds,
        max_calls=plan.max_calls,
        run_tag=f"{plan.run_tag}{SCENARIOS.index(scenario)}",
        customer_names=customer_names,
        subscriptions=subscriptions,
        subscription_names=subscription_names,
        invoice_names=invoice_names,
        call_timeout_s=call_timeout_s,
        rate_per_s=None if rate is None else rate / plan.procs,
    )
    connections: list[int] | None = None
    tries = 0

    def on_connected(attempt: int) -> bool:
        nonlocal connections, tries
        tries = attempt + 1
        connections = servers.connections_per_server_process(server.pid, server.port)
        if not even(connections) and attempt + 1 < BALANCE_ATTEMPTS:
            return False
        if on_start is not None:
            on_start()
        return True

    results = load.run_load(spec, plan.procs, on_connected, BALANCE_ATTEMPTS)
    row = report.summarize(
        results,
        scenario=scenario,
        db=db,
        server_processes=server.processes,
        concurrency=in_flight,
        tracing=tracing,
        seconds=plan.seconds,
        offered_per_s=rate,
    )
    row.connections_per_server_process = connections
    row.connect_attempts = tries
    return row


def even(connections: list[int] | None) -> bool:
    """Whether the server processes got (within one) the same number of load connections."""
    return connections is None or max(connections, default=0) - min(connections, default=0) <= 1


def measure_rates(plan: Plan, scenario: str, run: Callable[[float | None], Row]) -> list[Row]:
    """`run(rate)` as --rate asks: closed loop (rate None), open loop at --rate, or both,
    the second at half the rate the first reached."""
    if plan.rate is None or scenario in CLOSED_LOOP_ONLY:
        return [run(None)]
    if plan.rate != HALF:
        return [run(float(plan.rate))]
    closed = run(None)
    if closed.failure or closed.calls_per_s <= 0:
        return [closed]
    return [closed, run(closed.calls_per_s / 2)]


def measure_clock_run(
    plan: Plan, server: RunningServer, fixtures: SubscriptionFixtures, *, db: str
) -> Row:
    clock = fixtures.clock_with_subscriptions(plan.clock_subscriptions)
    _progress(f"{CLOCK_RUN} on {db}: advancing {plan.clock_subscriptions} subscriptions")
    run = clock_run.advance(server.target, plan.metadata, clock, plan.clock_subscriptions)
    return clock_run.to_row(run, db=db, server_processes=server.processes, tracing=plan.tracing)


def measure_stream_usage(
    plan: Plan, server: RunningServer, usage: UsageFixtures, db: str
) -> list[Row]:
    """StreamUsage, then the bare ingestion ceiling for as many events."""
    subscriptions = usage.stream_subscriptions(plan.procs, plan.stream_subscriptions)
    counter = usage.committed_events(
        [s.name for owned in subscriptions for s in owned], plan.warmup_s, plan.seconds
    )
    row = measure(
        plan,
        server,
        STREAM_USAGE,
        db=db,
        tracing=plan.tracing,
        subscriptions=subscriptions,
        concurrency=plan.stream_concurrency,
        call_timeout_s=STREAM_CALL_TIMEOUT_S,
        on_start=counter.start,
    )
    events, seconds = counter.result()
    row.calls_per_s = events / seconds if seconds > 0 else 0.0
    row.rate_unit = "events"
    row.note = (
        f"calls/s = accepted events/s: {events:,} events committed in PostgreSQL in the"
        f" {seconds:.2f} s window (counted at its start and end: all load processes together);"
        f" latencies of the {row.calls} calls of {CHUNKS_PER_CALL} x {CHUNK_EVENTS} events in"
        " progress during the window (load kept up until the last of them ended), which"
        f" accepted {row.accepted_events or 0:,} events; errors count events (a failed call: all"
        " of its events)"
    )
    return [row, measure_usage_ceiling(usage, events, db)]


def measure_current_usage(
    plan: Plan, server: RunningServer, usage: UsageFixtures, db: str
) -> list[Row]:
    seeded = usage.seeded_usage(plan.usage_events, plan.usage_subscriptions)

    def run(rate: float | None) -> Row:
        row = measure(
            plan,
            server,
            CURRENT_USAGE,
            db=db,
            tracing=plan.tracing,
            subscription_names=seeded.subscriptions,
            call_timeout_s=CURRENT_USAGE_CALL_TIMEOUT_S,
            rate=rate,
        )
        row.note = "; ".join(
            [
                f"each call reads a random one of {len(seeded.subscriptions):,} subscriptions"
                f" (deadline {CURRENT_USAGE_CALL_TIMEOUT_S:g} s)",
                *seeded.notes,
            ]
        )
        return row

    return measure_rates(plan, CURRENT_USAGE, run)


def measure_scenario(
    plan: Plan,
    server: RunningServer,
    fixtures: SubscriptionFixtures,
    usage: UsageFixtures | None,
    scenario: str,
    *,
    db: str,
) -> list[Row]:
    """Set up what `scenario` needs on this server, then measure it (twice with --rate
    half: closed loop, then open loop at half the rate reached)."""
    if scenario == CLOCK_RUN:
        return [measure_clock_run(plan, server, fixtures, db=db)]
    if scenario in POSTGRESQL_ONLY:
        if usage is None:
            raise BenchError(f"{scenario} needs PostgreSQL")
        if scenario in MRR_SCENARIOS:
            return mrr_bench.measure_mrr(plan, server, usage.database_url, scenario, db, measure)
        if scenario == STREAM_USAGE:
            return measure_stream_usage(plan, server, usage, db)
        return measure_current_usage(plan, server, usage, db)
    if scenario == GET_H2LOAD:
        _progress(f"creating a customer for {GET_H2LOAD} on {db}")
        (name,) = load.create_customers(server.target, plan.metadata, 1, f"{plan.run_tag}h")
        request = customers_pb2.GetCustomerRequest(name=name)
        return [measure_h2load(plan, server, GET_H2LOAD, request.SerializeToString(), db=db)]
    if scenario == QUOTE_TAX:
        return measure_quote_tax(plan, server, db)
    if scenario == PAY_INVOICE:
        return measure_pay_invoice(plan, server, db)
    names: tuple[str, ...] = ()
    if scenario in (ENTITLEMENTS, ENTITLEMENTS_REDIS):
        names = fixtures.entitled_customers(plan.customers)
    elif scenario in (GET, GET_REDIS):
        _progress(f"creating {plan.customers} customers for {GET} on {db}")
        names = tuple(
            load.create_customers(server.target, plan.metadata, plan.customers, f"{plan.run_tag}s")
        )
    elif scenario == CREATE_SUB:
        names = fixtures.clock_customers(plan.customers)

    def run(rate: float | None) -> Row:
        subscriptions: tuple[tuple[OwnedSubscription, ...], ...] = ()
        if scenario == CHANGE_SUB:
            # Their etags move on with every change: a second run needs subscriptions of its own.
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
            rate=rate,
        )

    return measure_rates(plan, scenario, run)


# What each h2load scenario calls (its request is the same for every call).
H2LOAD_PATHS = {ECHO_H2LOAD: echo.PATH, GET_H2LOAD: "/billing.v1.CustomerService/GetCustomer"}


def measure_h2load(
    plan: Plan, server: RunningServer, scenario: str, message: bytes, *, db: str
) -> Row:
    """One closed-loop measurement with h2load sending `message`: --procs connections x
    --concurrency streams. On the billing server, the calls are counted by the gRPC status
    its metrics endpoints report (all OK, or the row shows the others as errors)."""
    _progress(f"{scenario} on {db}: {plan.warmup_s:g}s warm-up, {plan.seconds:g}s measured")
    path = H2LOAD_PATHS[scenario]
    metrics_ports = _metrics_ports(plan, server) if db != "-" else []
    method = path.lstrip("/")
    before = h2load.handled_codes(metrics_ports, method, LOCALHOST)
    spread: list[int] | None = None

    def see_spread() -> None:
        nonlocal spread
        spread = servers.connections_per_server_process(server.pid, server.port)

    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = h2load.run(
        server.target,
        path,
        message,
        plan.metadata,
        connections=plan.procs,
        streams=plan.concurrency,
        warmup_s=plan.warmup_s,
        seconds=plan.seconds,
        during=see_spread if server.processes > 1 else None,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    codes = h2load.handled_codes(metrics_ports, method, LOCALHOST) - before
    # CANCELLED: the calls in flight when h2load stopped and reset their streams.
    not_ok = {code: n for code, n in codes.items() if code not in ("OK", "CANCELLED")}
    row = report.latency_row(
        scenario,
        db,
        server.processes,
        load=(plan.procs, plan.concurrency),
        seconds=result.seconds,
        latencies_us=result.latencies_us,
        errors=result.failed + sum(not_ok.values()),
    )
    row.error_codes = {**not_ok, **({"HTTP": result.failed} if result.failed else {})}
    row.connections_per_server_process = spread
    if db == "-":
        statuses = "the echo's replies are not compared (h2load counts bytes only)"
    elif metrics_ports:
        statuses = f"gRPC statuses from the server's metrics, warm-up included: {dict(codes)}"
    else:
        statuses = "gRPC statuses NOT checked (--metrics-listen with port 0)"
    row.note = (
        f"one h2load thread, {plan.procs} connections x {plan.concurrency}"
        f" streams, {load_cpu_s / (plan.warmup_s + plan.seconds):.2f} cores of load CPU;"
        f" {statuses}"
    )
    return row


def _metrics_ports(plan: Plan, server: RunningServer) -> list[int]:
    """The serving processes' metrics ports, as the server gives them out (ADR 0061)."""
    if not plan.metrics_listen or split_host_port(plan.metrics_listen)[1] == 0:
        return []  # off, or each process on a port of its own choosing: unknown here
    return [
        split_host_port(worker_listen(plan.metrics_listen, i))[1] for i in range(server.processes)
    ]


def measure_quote_tax(plan: Plan, server: RunningServer, db: str) -> list[Row]:
    """QuoteTax on a tenant of its own whose rules are the run's with tax on."""
    _progress(f"{QUOTE_TAX} on {db}: pushing the rule set with tax on for its own tenant")
    metadata = quote_tax_load.set_up_tenant(
        server.target,
        plan.secret,
        tenant_id=f"bench_{plan.run_tag}_tax",
        issuer=ISSUER,
        audience=AUDIENCE,
        tenant_claim=TENANT_CLAIM,
        rule_files=plan.rule_files,
        timeout_s=CALL_TIMEOUT_S,
    )

    def run(rate: float | None) -> Row:
        row = measure(
            plan, server, QUOTE_TAX, db=db, tracing=plan.tracing, rate=rate, metadata=metadata
        )
        row.note = (
            f"a cart of {len(quote_tax_load.LINES)} lines (one tax-inclusive) per call, buyers"
            f" round-robin over {len(quote_tax_load.BUYERS)} (DE and FR consumers and businesses);"
            " read-only"
        )
        return row

    return measure_rates(plan, QUOTE_TAX, run)


def measure_pay_invoice(plan: Plan, server: RunningServer, db: str) -> list[Row]:
    """PayInvoice on a tenant of its own, each call paying one open invoice once."""
    metadata = pay_invoice_load.set_up(
        server.target,
        plan.secret,
        tenant_id=f"bench_{plan.run_tag}_pay",
        issuer=ISSUER,
        audience=AUDIENCE,
        tenant_claim=TENANT_CLAIM,
        rule_files=plan.rule_files,
        invoices=plan.pay_invoices,
        progress=lambda t: _progress(f"{db}: {t}"),
    )

    def run(rate: float | None) -> Row:
        invoices = pay_invoice_load.open_invoices(server.target, metadata)
        row = measure(
            plan,
            server,
            PAY_INVOICE,
            db=db,
            tracing=plan.tracing,
            rate=rate,
            metadata=metadata,
            invoice_names=pay_invoice_load.share(invoices, plan.procs),
        )
        row.note = (
            f"each call pays a whole open invoice (30.00 USD) once through the sandbox gateway"
            f" (tok_visa; its SQLite ledger shared by the server processes), {len(invoices):,}"
            " open invoices before the run"
        )
        return row

    return measure_rates(plan, PAY_INVOICE, run)


def measure_usage_ceiling(usage: UsageFixtures, committed: int, db: str) -> Row:
    """The bare COPY + dedupe ceiling, for as many events as StreamUsage committed."""
    events = max(committed, usage_ceiling.EVENTS_MIN)
    _progress(f"{usage_ceiling.CEILING} on {db}: {events:,} events from one process")
    try:
        c = usage.ceiling(events)
    except BenchError as exc:
        _progress(f"{usage_ceiling.CEILING} failed: {exc}")
        return report.failed_row(
            usage_ceiling.CEILING, db, 1, load=(1, 1), tracing=False, why=str(exc)
        )
    row = report.timed_row(
        usage_ceiling.CEILING, db, rate=c.events_per_s, seconds=c.seconds, calls=c.inserted
    )
    row.rate_unit = "events"
    row.note = (
        f"calls/s = events/s: {c.inserted:,} of {c.events:,} events COPYed and moved by"
        f" INSERT ... SELECT ... ON CONFLICT DO NOTHING in {c.seconds:.2f} s (the best of"
        f" {c.rounds} rounds: {', '.join(f'{r:,.0f}' for r in c.round_rates)} events/s),"
        f" {c.batch:,} per transaction (the server's batch), from one"
        " process on one connection, into a table LIKE usage_events INCLUDING ALL; no gRPC,"
        " no checks, no rollups"
    )
    return row


def run_echo(plan: Plan, workdir: Path) -> list[Row]:
    try:
        with servers.running_server(
            "echo", servers.echo_command(), servers.clean_env({}), workdir
        ) as server:
            rows: list[Row] = []
            if ECHO in plan.scenarios:
                rows += measure_rates(
                    plan,
                    ECHO,
                    lambda rate: measure(plan, server, ECHO, db="-", tracing=False, rate=rate),
                )
            if any(s in MRR_SCENARIOS for s in plan.scenarios):  # their one-caller rows' base
                rows.append(mrr_bench.one_caller(plan, server, ECHO, "-", False, measure))
            if ECHO_H2LOAD in plan.scenarios:
                message = load.create_request(plan.run_tag, 0, 0).SerializeToString()
                rows.append(measure_h2load(plan, server, ECHO_H2LOAD, message, db="-"))
            return rows
    except (BenchError, LoadError, h2load.H2LoadError) as exc:
        _progress(f"echo failed: {exc}")
        return [
            report.failed_row(
                ECHO, "-", 1, load=(plan.procs, plan.concurrency), tracing=False, why=str(exc)
            )
        ]


def _load_shape(plan: Plan, scenario: str) -> tuple[int, int]:
    if scenario == CLOCK_RUN:
        return (1, 1)  # one AdvanceClock call
    if scenario == STREAM_USAGE:
        return (plan.procs, plan.stream_concurrency)
    return (plan.procs, plan.concurrency)


def run_billing(plan: Plan, db: str, workdir: Path) -> list[Row]:
    """The rows of every scenario but echo on `db`, in the order they were asked for."""
    scenarios = [s for s in plan.scenarios if s not in ECHOES]
    workers = plan.pg_workers if db == "postgresql" else 1
    rows: list[Row] = []
    if db != "postgresql":
        rows += [
            report.skipped_row(
                s,
                db,
                workers,
                load=_load_shape(plan, s),
                tracing=plan.tracing,
                why="PostgreSQL only: they measure its COPY ingestion path, or read rows"
                " seeded with COPY (10M events, 1M subscriptions' MRR)",
            )
            for s in scenarios
            if s in POSTGRESQL_ONLY
        ]
        scenarios = [s for s in scenarios if s not in POSTGRESQL_ONLY]
    if scenarios:
        rows += _run_on_server(plan, db, workdir, scenarios, workers)
    # Stable: a scenario's rows (closed then open loop, StreamUsage then its ceiling) in order.
    return sorted(rows, key=lambda r: plan.scenarios.index(_asked_as(r.scenario)))


def _redis_server(
    plan: Plan, env: dict[str, str], db: str, workdir: Path, workers: int
) -> contextlib.AbstractContextManager[RunningServer]:
    """A second server on the same database with BILLING_REDIS_URL (ADR 0066): the cache,
    and the rate limit's bucket shared in Redis. The first stays up, idle."""
    _progress(f"starting a billing server with Redis at {plan.redis_url} on {db}")
    port = servers.free_port() if workers > 1 else 0
    redis_env = {
        **env,
        "BILLING_REDIS_URL": plan.redis_url,
        "BILLING_LISTEN": f"{LOCALHOST}:{port}",
        "BILLING_METRICS_LISTEN": "",
    }
    return servers.running_server(
        f"billing-{db}-redis", servers.billing_command(), redis_env, workdir, workers
    )


def _note_breaker(rows: list[Row], server: RunningServer) -> None:
    """How often the server's Redis breaker opened so far (its log's warnings): a run whose
    Redis was bypassed measured the database instead, and says so."""
    text = server.log_path.read_text(errors="replace")
    opened = text.count("Redis bypassed for")
    for row in rows:
        row.note = "; ".join(
            n for n in (row.note, f"the Redis breaker opened {opened} time(s) since the start") if n
        )


def _asked_as(scenario: str) -> str:
    return STREAM_USAGE if scenario == usage_ceiling.CEILING else scenario


def _run_on_server(
    plan: Plan, db: str, workdir: Path, scenarios: list[str], workers: int
) -> list[Row]:
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
                    # Traced: exported over OTLP to the bench's sink, as to a collector.
                    "BILLING_TRACE_EXPORTER": "otlp" if plan.tracing else "none",
                    "BILLING_OTLP_ENDPOINT": plan.otlp_endpoint,
                    "BILLING_DATA_DIR": str(workdir),
                    # The sandbox gateway's books, shared by the server processes (ADR 0036).
                    "BILLING_GATEWAY_ENDPOINTS": f"sandbox={workdir / f'sandbox-{db}.db'}",
                    "BILLING_METRICS_LISTEN": plan.metrics_listen,
                }
            )
            if db == "postgresql":
                servers.migrate(env)
                if plan.analyze_every_s and servers.autovacuum_off(plan.pg_url):
                    stack.enter_context(servers.analyzed_meanwhile(url, plan.analyze_every_s))
            _progress(f"starting the billing server on {db} ({workers} process(es))")
            server = stack.enter_context(
                servers.running_server(
                    f"billing-{db}", servers.billing_command(), env, workdir, workers
                )
            )
            fixtures = SubscriptionFixtures(
                server.target, plan.metadata, plan.rule_files, lambda t: _progress(f"{db}: {t}")
            )
            usage = (
                UsageFixtures(
                    fixtures,
                    server.target,
                    plan.metadata,
                    url,
                    lambda t: _progress(f"{db}: {t}"),
                )
                if db == "postgresql"
                else None
            )
            redis_server: RunningServer | None = None
            for scenario in scenarios:
                if scenario in REDIS_SCENARIOS and redis_server is None:
                    redis_server = stack.enter_context(
                        _redis_server(plan, env, db, workdir, workers)
                    )
                on = redis_server if scenario in REDIS_SCENARIOS else server
                assert on is not None
                measured = measure_scenario(plan, on, fixtures, usage, scenario, db=db)
                if on is redis_server:
                    _note_breaker(measured, on)
                rows += measured
    except (BenchError, LoadError, OSError, grpc.RpcError, h2load.H2LoadError) as exc:
        # Report it and go on with the next database; what ran is kept.
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _progress(f"{db} failed: {exc}")
        done = {r.scenario for r in rows}
        rows += [
            report.failed_row(
                s,
                db,
                workers,
                load=_load_shape(plan, s),
                tracing=plan.tracing,
                why=why,
            )
            for s in scenarios
            if s not in done
        ]
    return rows


def _pass_dir(workdir: Path, plan: Plan) -> Path:
    if not plan.trace_compare or not plan.tracing:
        return workdir
    traced = workdir / "traced"
    traced.mkdir(exist_ok=True)
    return traced


def _statistics_note(plan: Plan) -> str:
    """What the PostgreSQL rows were planned on, where the server has no autovacuum (a
    paragraph of the report's head, or nothing)."""
    if "postgresql" not in plan.dbs or not servers.autovacuum_off(plan.pg_url):
        return ""
    if plan.analyze_every_s:
        return (
            "PostgreSQL: autovacuum is off on this server; the bench ANALYZEd its database"
            f" every {plan.analyze_every_s:g}s in its stead (--analyze-every)\n\n"
        )
    return (
        "PostgreSQL: autovacuum is off on this server and nothing ANALYZEd the bench's"
        " database: its statistics stayed the empty tables' (--analyze-every 0)\n\n"
    )


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
    sink = OtlpSink() if plan.tracing else None
    if sink is not None:
        plan = dataclasses.replace(plan, otlp_endpoint=sink.endpoint)
    # --trace-compare: each database untraced, then traced, in this one run (ADR 0060).
    passes = [dataclasses.replace(plan, trace_ratio=0.0), plan] if plan.trace_compare else [plan]
    try:
        if any(s in ECHOES for s in plan.scenarios):
            rows += run_echo(plan, workdir)
        if any(s not in ECHOES for s in plan.scenarios):
            for db in plan.dbs:
                for each in passes:
                    # Its own directory: the server's port file and SQLite database.
                    rows += run_billing(each, db, _pass_dir(workdir, each))
    except KeyboardInterrupt:
        _progress("interrupted; every server and load process has been stopped")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if sink is not None:
            sink.stop()
            _progress(f"the OTLP sink received {sink.spans} spans")
    # Each load generator's rows against its own echo.
    report.apply_baseline([r for r in rows if r.scenario not in H2LOAD_SCENARIOS], ECHO)
    report.apply_baseline([r for r in rows if r.scenario in H2LOAD_SCENARIOS], ECHO_H2LOAD)
    report.apply_ceiling(rows, STREAM_USAGE, usage_ceiling.CEILING)
    print(
        f"\nmachine: {info['cores']} cores ({info['cores_available']} available to this process)"
        f", Python {info['python']}, grpcio {info['grpcio']}"
    )
    print(
        f"load: {plan.procs} processes x {plan.concurrency} in flight, {plan.seconds:g}s measured"
        f" after {plan.warmup_s:g}s warm-up; latencies of successful calls; calls/s counts "
        "successful calls only\n"
    )
    print(_statistics_note(plan), end="")
    print(report.format_table(rows))
    if sink is not None:
        print(
            f"\ntraced at ratio {plan.trace_ratio:g}, exported over OTLP/gRPC to the bench's"
            f" sink: {sink.spans} spans received"
        )
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
