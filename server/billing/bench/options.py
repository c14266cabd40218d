"""`billing-bench` options: the command line, and the plan a run follows."""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from billing.api.auth import mint_hs256_token
from billing.bench import h2load
from billing.bench.load import (
    CHANGE_SUB,
    CLOCK_RUN,
    CREATE_SUB,
    CURRENT_USAGE,
    ENTITLEMENTS,
    ENTITLEMENTS_REDIS,
    H2LOAD_SCENARIOS,
    MRR_SCENARIOS,
    PAY_INVOICE,
    POSTGRESQL_ONLY,
    QUOTE_TAX,
    SCENARIOS,
    STREAM_USAGE,
)
from billing.bench.servers import LOCALHOST, free_port
from billing.bench.subscription_setup import read_rule_files
from billing.bench.usage_setup import with_usage_rules
from billing.config import Settings
from billing_client import bearer_metadata

DATABASES = ("sqlite", "postgresql")
DEFAULT_PG_URL = f"postgresql+psycopg://postgres@{LOCALHOST}:5432/test"
DEFAULT_REDIS_URL = f"redis://{LOCALHOST}:6379/0"
ISSUER = "billing-dev"
AUDIENCE = "billing"
TENANT_CLAIM = "tenant_id"
TOKEN_LIFETIME_S = 6 * 3600
# These push --rules-dir.
SUBSCRIPTION_SCENARIOS = (CREATE_SUB, CHANGE_SUB, CLOCK_RUN, ENTITLEMENTS, ENTITLEMENTS_REDIS)
USAGE_SCENARIOS = (STREAM_USAGE, CURRENT_USAGE)  # these push --rules-dir plus the usage rules
# Seeding 10M rows takes minutes: that scenario runs only when named; so do h2load's, which
# need a program Python does not bring.
DEFAULT_SCENARIOS = tuple(
    s for s in SCENARIOS if s not in (CURRENT_USAGE, *MRR_SCENARIOS, *H2LOAD_SCENARIOS)
)
HALF = "half"  # --rate half: closed loop first, then open loop at half the rate it reached
# Open loop does not apply: one timed run, and calls of 10,000 events counted in the database.
CLOSED_LOOP_ONLY = (CLOCK_RUN, STREAM_USAGE, *H2LOAD_SCENARIOS)


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
    pay_invoices: int  # open invoices made for PayInvoice (each call pays one)
    change_subscriptions: int  # per load process
    clock_subscriptions: int
    stream_subscriptions: int  # per load process
    stream_concurrency: int  # StreamUsage calls in flight per load process
    usage_events: int
    usage_subscriptions: int
    rule_files: dict[str, bytes]
    pg_url: str
    pg_workers: int
    trace_ratio: float
    run_tag: str
    secret: str
    metadata: tuple[tuple[str, str], ...]
    rate: float | str | None = None  # calls/s over all load processes, HALF, or closed loop
    trace_compare: bool = False  # each database twice: tracing off, then at trace_ratio
    otlp_endpoint: str = ""  # the bench's OTLP sink, where traced servers export
    max_in_flight: int = 64  # open loop: calls in flight per load process at most
    mrr_subscriptions: int = 1_000_000  # GetMrr 1M: subscriptions whose MRR state is seeded
    metrics_listen: str = ""  # BILLING_METRICS_LISTEN of the servers ("" = off; ADR 0061)
    redis_url: str = DEFAULT_REDIS_URL  # BILLING_REDIS_URL of the "... redis" scenarios' server
    analyze_every_s: float = 2.0  # ANALYZE period where the server has no autovacuum (0: never)

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


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _rate(text: str) -> float | str:
    if text == HALF:
        return HALF
    try:
        return _positive_float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of calls/s, or {HALF!r}") from None


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
        default=DEFAULT_SCENARIOS,
        help=f"comma-separated: {','.join(SCENARIOS)} (default all but"
        f" {', '.join(repr(s) for s in SCENARIOS if s not in DEFAULT_SCENARIOS)};"
        f" {' and '.join(repr(s) for s in POSTGRESQL_ONLY)} run on PostgreSQL only;"
        " the h2load ones send from one h2load thread, --procs connections x --concurrency"
        " streams)",
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
        "--rate",
        type=_rate,
        help="open loop: send N calls/s (all load processes together) on a fixed schedule,"
        " whether or not earlier calls ended, latency counted from each call's scheduled"
        f" time; {HALF!r}: measure closed loop first, then at half the calls/s it reached"
        f" (both rows). Not for {' and '.join(repr(s) for s in CLOSED_LOOP_ONLY)}",
    )
    parser.add_argument(
        "--max-in-flight",
        type=_positive_int,
        default=64,
        help="open loop: calls in flight per load process at most (a call due beyond it waits"
        " for a slot, the wait counted in its latency)",
    )
    parser.add_argument(
        "--max-calls",
        type=_positive_int,
        default=2_000_000,
        help="upper bound on calls per load process and scenario",
    )
    parser.add_argument(
        "--customers",
        type=_positive_int,
        default=500,
        help="customers GetCustomer reads, and CreateSubscription subscribes (on a clock)",
    )
    parser.add_argument(
        "--pay-invoices",
        type=_positive_int,
        default=4000,
        help="open invoices made for PayInvoice; each call pays one, so at least the calls"
        " of its runs (with --rate half: the closed loop's, then half as many)",
    )
    parser.add_argument(
        "--change-subscriptions",
        type=_positive_int,
        default=200,
        help="subscriptions each load process owns and changes in ChangeSubscription"
        " (at least --concurrency)",
    )
    parser.add_argument(
        "--clock-subscriptions",
        type=_positive_int,
        default=100,
        help=f"subscriptions on the clock that {CLOCK_RUN!r} advances by 24 months",
    )
    parser.add_argument(
        "--stream-subscriptions",
        type=_positive_int,
        default=50,
        help=f"metered subscriptions each load process sends {STREAM_USAGE} events for",
    )
    parser.add_argument(
        "--stream-concurrency",
        type=_positive_int,
        default=2,
        help=f"{STREAM_USAGE} calls (10,000 events each) in flight per load process",
    )
    parser.add_argument(
        "--usage-events",
        type=_positive_int,
        default=10_000_000,
        help=f"usage events seeded (COPY, straight into PostgreSQL) for {CURRENT_USAGE!r}",
    )
    parser.add_argument(
        "--usage-subscriptions",
        type=_positive_int,
        default=10_000,
        help=f"metered subscriptions the {CURRENT_USAGE!r} events are spread over",
    )
    parser.add_argument(
        "--rules-dir",
        type=Path,
        default=Path("rules"),
        help="rule files pushed for the subscription scenarios (default ./rules)",
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server to use")
    parser.add_argument(
        "--pg-workers", type=_positive_int, default=2, help="server processes on PostgreSQL"
    )
    parser.add_argument(
        "--analyze-every",
        type=_non_negative_float,
        default=2.0,
        help="on a PostgreSQL server without autovacuum (this machine's CI configuration),"
        " ANALYZE the bench's database every N seconds, as autovacuum keeps a production"
        " server's statistics (0: never, the empty tables' guesses throughout)",
    )
    parser.add_argument(
        "--trace-ratio", type=_ratio, default=0.0, help="BILLING_TRACE_SAMPLE_RATIO (0: off)"
    )
    parser.add_argument(
        "--mrr-subscriptions",
        type=_positive_int,
        default=1_000_000,
        help="subscriptions whose MRR state the GetMrr scenarios seed (COPY)",
    )
    parser.add_argument(
        "--trace-compare",
        action="store_true",
        help="each database twice, tracing off then on at --trace-ratio (default: the"
        " server's default ratio), exporting over OTLP to a sink the bench runs (ADR 0060)",
    )
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="BILLING_REDIS_URL of the second server the '... redis' scenarios run on (ADR 0066)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--metrics-listen",
        default="",
        help="BILLING_METRICS_LISTEN of the billing servers, to scrape during the run"
        " (worker i on port + i; default off)",
    )
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if CHANGE_SUB in args.scenarios and args.change_subscriptions < args.concurrency:
        parser.error("--change-subscriptions must be at least --concurrency")
    if (
        args.rate is not None
        and CHANGE_SUB in args.scenarios
        and args.change_subscriptions < args.max_in_flight
    ):
        parser.error("--change-subscriptions must be at least --max-in-flight with --rate")
    if CURRENT_USAGE in args.scenarios and args.usage_events < args.usage_subscriptions:
        parser.error("--usage-events must be at least --usage-subscriptions")
    if any(s in H2LOAD_SCENARIOS for s in args.scenarios) and not h2load.available():
        parser.error(h2load.INSTALL_HINT)
    return args


def _rule_files(args: argparse.Namespace) -> dict[str, bytes]:
    pushing = (*SUBSCRIPTION_SCENARIOS, *USAGE_SCENARIOS, QUOTE_TAX, PAY_INVOICE)
    if not any(s in pushing for s in args.scenarios):
        return {}
    files = read_rule_files(args.rules_dir)
    # One rule set for every scenario of the run: the usage files only add codes of their own.
    if any(s in USAGE_SCENARIOS for s in args.scenarios) and "postgresql" in args.db:
        files = with_usage_rules(files)
    return files


def _metrics_for_h2load(scenarios: Sequence[str]) -> str:
    """h2load cannot see gRPC statuses: its scenarios read the server's count of them from
    the metrics endpoints, turned on here when --metrics-listen did not."""
    if not any(s in H2LOAD_SCENARIOS for s in scenarios):
        return ""
    return f"{LOCALHOST}:{free_port()}"


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
        pay_invoices=args.pay_invoices,
        change_subscriptions=args.change_subscriptions,
        clock_subscriptions=args.clock_subscriptions,
        stream_subscriptions=args.stream_subscriptions,
        stream_concurrency=args.stream_concurrency,
        usage_events=args.usage_events,
        usage_subscriptions=args.usage_subscriptions,
        rule_files=_rule_files(args),
        pg_url=args.pg_url,
        pg_workers=args.pg_workers,
        trace_ratio=args.trace_ratio
        or (Settings().trace_sample_ratio if args.trace_compare else 0),
        trace_compare=args.trace_compare,
        run_tag=run_tag,
        secret=secret,
        metadata=bearer_metadata(token),
        rate=args.rate,
        max_in_flight=args.max_in_flight,
        mrr_subscriptions=args.mrr_subscriptions,
        metrics_listen=args.metrics_listen or _metrics_for_h2load(args.scenarios),
        redis_url=args.redis_url,
        analyze_every_s=args.analyze_every,
    )
