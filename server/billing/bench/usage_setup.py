"""Set-up for the usage scenarios (PostgreSQL only).

The rules: three files added to the rule set the bench pushes (a metering file, metered
prices and a plan `metered_monthly` of the shape tests/test_usage_api.py uses), under their own
codes so that the files of --rules-dir keep their meaning.

StreamUsage: a clock at 2026-04-01, subscriptions on metered_monthly made through the API,
then the clock advanced to 2026-04-20 so that events of the last day are on time.

GetCurrentUsage 10M: subscriptions on metered_monthly on a clock at 2026-04-01 (through the
API while that is fast enough, the rest written directly), then the events COPYed straight
into PostgreSQL (see usage_seed), and a check through the API that they read back as seeded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
import psycopg
import yaml
from sqlalchemy.engine.url import make_url

from billing.bench import usage_ceiling
from billing.bench.servers import BenchError
from billing.bench.subscription_load import OwnedSubscription
from billing.bench.subscription_setup import SubscriptionFixtures
from billing.bench.usage_load import STREAM_CLOCK_NOW
from billing.bench.usage_seed import Seeded, seed
from billing_client.v1 import usage_pb2, usage_pb2_grpc

METERED = "plans/metered_monthly"
METERED_CODE = "metered_monthly"
CUSTOMERS_MAX = 100  # subscriptions are spread over at most this many customers
GRPC_SUBSCRIPTIONS_BUDGET_S = 120.0  # beyond this (projected), write the rest directly
GRPC_SAMPLE = 64  # subscriptions made through the API before the projection is trusted
CHECK_TIMEOUT_S = 30.0
COUNT_TIMEOUT_MS = 10_000  # one count of committed events

METERING_FILE = "bench-usage-metering.yaml"
PRICING_FILE = "bench-usage-pricing.yaml"
CATALOG_FILE = "bench-usage-catalog.yaml"
METERING = b"""kind: metering
max_lateness_hours: 240
draft_grace_hours: 24
metrics:
  - {code: api_calls, aggregation: count}
  - {code: data_gb, aggregation: sum, field: gb}
  - {code: storage_gb, aggregation: time_weighted_sum, field: gb}
"""
PRICE_CODES = ("metered_api_calls_usd", "metered_data_usd", "metered_storage_usd")
PRICING = b"""kind: pricing
prices:
  - code: metered_api_calls_usd
    name: API calls
    unit: calls
    model: graduated
    metric: api_calls
    currency: USD
    tiers:
      - {up_to: 100, unit_amount: 1.00, flat_amount: 10.00}
      - {up_to: 200, unit_amount: 0.50}
      - {up_to: null, unit_amount: 0.10}
  - code: metered_data_usd
    name: Data
    unit: GB
    model: per_unit
    metric: data_gb
    currency: USD
    unit_amount: 2.00
  - code: metered_storage_usd
    name: Storage
    unit: GB-month
    model: per_unit
    metric: storage_gb
    currency: USD
    unit_amount: 0.10
"""
CATALOG = b"""kind: catalog
products:
  - {code: bench_metered, name: Metered (billing-bench), features: [api_access]}
plans:
  - code: metered_monthly
    name: Metered
    product: bench_metered
    interval: month
    prices:
      - {currency: USD, amount: 30.00}
      - {currency: USD, price: metered_api_calls_usd}
      - {currency: USD, price: metered_data_usd}
      - {currency: USD, price: metered_storage_usd}
"""
USAGE_FILES = {METERING_FILE: METERING, PRICING_FILE: PRICING, CATALOG_FILE: CATALOG}


def with_usage_rules(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """`files` (a --rules-dir) plus the usage files. A rule set has one metering file: when
    --rules-dir has its own, the bench's metrics join it (and its lateness settings, which
    the usage scenarios' clock relies on, win). Refuses codes the bench's files would redefine."""
    clashes: list[str] = [name for name in USAGE_FILES if name in files]
    merged = dict(files)
    metering: dict[str, object] = yaml.safe_load(METERING)
    bench_metrics = {m["code"] for m in metering["metrics"]}  # type: ignore[attr-defined]
    for name, source in files.items():
        try:
            doc = yaml.safe_load(source)
        except yaml.YAMLError:
            continue  # the server will say what is wrong with it
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "metering":
            theirs = [m for m in doc.get("metrics") or [] if isinstance(m, dict)]
            same = {m["code"] for m in theirs if _same_metric(m, metering)}
            clashes += [
                f"{name} (defines metric {m.get('code')} differently)"
                for m in theirs
                if m.get("code") in bench_metrics and m.get("code") not in same
            ]
            ours = [m for m in metering["metrics"] if m["code"] not in same]  # type: ignore[attr-defined]
            joined = {**doc, **metering, "metrics": theirs + ours}
            merged[name] = yaml.safe_dump(joined, sort_keys=False).encode()
        for entry in (doc.get("plans") or []) + (doc.get("prices") or []):
            code = entry.get("code") if isinstance(entry, dict) else None
            if code == METERED_CODE or code in PRICE_CODES or code == "bench_metered":
                clashes.append(f"{name} (defines {code})")
    if clashes:
        raise BenchError(
            "the usage scenarios add their own metering, prices and plan to --rules-dir, "
            f"which clash with: {', '.join(clashes)}"
        )
    if any(name != METERING_FILE and _is_metering(source) for name, source in merged.items()):
        return {**merged, PRICING_FILE: PRICING, CATALOG_FILE: CATALOG}
    return {**merged, **USAGE_FILES}


def _same_metric(theirs: dict[str, object], metering: dict[str, object]) -> bool:
    """A metric of --rules-dir that counts exactly like the bench's metric of that code."""
    for ours in metering["metrics"]:  # type: ignore[attr-defined]
        if ours["code"] == theirs.get("code"):
            keys = ("aggregation", "field", "filters", "group_by")
            return all(ours.get(k) == theirs.get(k) for k in keys)
    return False


def _is_metering(source: bytes) -> bool:
    try:
        doc = yaml.safe_load(source)
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and doc.get("kind") == "metering"


class CommittedEvents:
    """Events committed for some subscriptions during the measured window, counted in
    PostgreSQL at the window's start and end by a thread that `start` (called as the load
    starts) runs. StreamUsage commits each call's events batch by batch as they arrive, so
    only the database knows how many were accepted inside the window."""

    def __init__(
        self, database_url: str, subscriptions: Sequence[str], warmup_s: float, seconds: float
    ) -> None:
        self._dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._ids = [name.removeprefix("subscriptions/") for name in subscriptions]
        self._warmup_s = warmup_s
        self._seconds = seconds
        self._thread = threading.Thread(target=self._run, name="billing-bench-count", daemon=True)
        self._counts: list[tuple[float, int]] = []  # (perf_counter at the count, events)
        self._error = ""

    def start(self) -> None:
        self._thread.start()

    def result(self) -> tuple[int, float]:
        """(events committed in the window, its length in seconds)."""
        self._thread.join(self._warmup_s + self._seconds + 2 * COUNT_TIMEOUT_MS / 1000 + 10)
        if self._error or len(self._counts) != 2:
            raise BenchError(f"counting committed events failed: {self._error or 'no counts'}")
        (t0, c0), (t1, c1) = self._counts
        return c1 - c0, t1 - t0

    def _run(self) -> None:
        began = time.perf_counter()
        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"SET statement_timeout = {COUNT_TIMEOUT_MS}")
                row = conn.execute(
                    "SELECT tenant_id FROM subscriptions WHERE id = %s", (self._ids[0],)
                ).fetchone()
                if row is None:
                    raise BenchError(f"no subscription {self._ids[0]}")
                for at in (self._warmup_s, self._warmup_s + self._seconds):
                    time.sleep(max(began + at - time.perf_counter(), 0))
                    counted_at = time.perf_counter()  # the count's snapshot is taken now
                    count = conn.execute(
                        "SELECT count(*) FROM usage_events"
                        " WHERE tenant_id = %s AND subscription_id = ANY(%s)",
                        (row[0], self._ids),
                    ).fetchone()
                    self._counts.append((counted_at, int(count[0]) if count else 0))
        except (psycopg.Error, BenchError) as exc:
            self._error = str(exc).strip() or type(exc).__name__


@dataclass
class SeededUsage:
    """What GetCurrentUsage 10M reads, and the notes its row carries."""

    subscriptions: tuple[str, ...]
    notes: list[str] = field(default_factory=list)


class UsageFixtures:
    """What the usage scenarios need on one PostgreSQL-backed server."""

    def __init__(
        self,
        subscriptions: SubscriptionFixtures,
        target: str,
        metadata: tuple[tuple[str, str], ...],
        database_url: str,
        progress: Callable[[str], None],
    ) -> None:
        self._subs = subscriptions
        self._target = target
        self._metadata = metadata
        self._database_url = database_url
        self._progress = progress
        self._stream_ids: list[str] = []  # StreamUsage's subscriptions, bare ids

    @property
    def database_url(self) -> str:
        return self._database_url

    def committed_events(
        self, subscriptions: Sequence[str], warmup_s: float, seconds: float
    ) -> CommittedEvents:
        return CommittedEvents(self._database_url, subscriptions, warmup_s, seconds)

    def stream_subscriptions(
        self, processes: int, per_process: int
    ) -> tuple[tuple[OwnedSubscription, ...], ...]:
        """`processes` disjoint sets of `per_process` metered subscriptions on a clock at
        2026-04-01, the clock then advanced to 2026-04-20."""
        self._subs.push_rules()
        count = processes * per_process
        self._progress(f"creating a clock and {count} metered subscriptions for StreamUsage")
        clock = self._subs.create_clock("billing-bench StreamUsage")
        customers = self._subs.create_customers(clock, min(count, CUSTOMERS_MAX))
        subs = self._subs.create_subscriptions(customers, count, plan=METERED)
        self._progress(f"advancing the StreamUsage clock to {STREAM_CLOCK_NOW:%Y-%m-%d}")
        self._subs.advance_clock(clock, STREAM_CLOCK_NOW)
        self._stream_ids = [s.name.removeprefix("subscriptions/") for s in subs]
        return tuple(tuple(subs[i * per_process : (i + 1) * per_process]) for i in range(processes))

    def ceiling(self, events: int) -> usage_ceiling.Ceiling:
        """The bare COPY + dedupe ceiling for `events` events of StreamUsage's shape."""
        if not self._stream_ids:
            raise BenchError("the ceiling needs StreamUsage's subscriptions: run it first")
        return usage_ceiling.measure(
            self._database_url,
            self._stream_ids,
            events,
            day_start=STREAM_CLOCK_NOW - timedelta(days=1),
            now=STREAM_CLOCK_NOW,
        )

    def seeded_usage(self, events: int, subscriptions: int) -> SeededUsage:
        """`subscriptions` metered subscriptions whose open period holds `events` events."""
        self._subs.push_rules()
        clock = self._subs.create_clock("billing-bench GetCurrentUsage")
        customers = self._subs.create_customers(clock, min(subscriptions, CUSTOMERS_MAX))
        self._progress(
            f"creating {subscriptions:,} metered subscriptions (through the API while that"
            f" projects to under {GRPC_SUBSCRIPTIONS_BUDGET_S:.0f} s)"
        )
        start = time.monotonic()
        made = self._subscriptions_through_api(customers, subscriptions)
        api_s = time.monotonic() - start
        seeded = seed(
            self._database_url,
            template=made[0],
            customers=[c.removeprefix("customers/") for c in customers],
            subscription_ids=[s.removeprefix("subscriptions/") for s in made],
            subscriptions=subscriptions,
            events=events,
            progress=self._progress,
        )
        names = tuple(f"subscriptions/{sid}" for sid in seeded.subscription_ids)
        self._check(names, seeded)
        return SeededUsage(
            names,
            [
                f"{len(made):,} subscriptions created through the API in {api_s:.1f} s"
                f", {seeded.inserted_subscriptions:,} inserted directly"
                f" in {seeded.subscription_seconds:.1f} s (COPY)",
                f"seeded {seeded.events:,} events ({seeded.events // subscriptions:,} per"
                f" subscription, 3 metrics, over April 2026) by COPY in"
                f" {seeded.event_seconds:.1f} s ({seeded.events / seeded.event_seconds:,.0f}"
                f" rows/s); {seeded.rollup_rows:,} rollup rows in {seeded.rollup_seconds:.1f} s;"
                f" VACUUM (ANALYZE) {seeded.analyze_seconds:.1f} s",
                f"usage_events: {seeded.total_size_text} total"
                f" ({seeded.heap_size_text} table + {seeded.index_size_text} indexes),"
                f" {seeded.table_rows:,} rows",
            ],
        )

    def _subscriptions_through_api(self, customers: tuple[str, ...], count: int) -> list[str]:
        """Subscriptions made through the API, batch by batch, while the whole would take
        under GRPC_SUBSCRIPTIONS_BUDGET_S at the rate seen so far; their names."""
        made: list[str] = []
        start = time.monotonic()
        batch = 32
        while len(made) < count:
            n = min(batch, count - len(made))
            made += [s.name for s in self._subs.create_subscriptions(customers, n, plan=METERED)]
            elapsed = time.monotonic() - start
            projected = elapsed / len(made) * count
            if len(made) >= GRPC_SAMPLE and projected > GRPC_SUBSCRIPTIONS_BUDGET_S:
                self._progress(
                    f"{len(made)} subscriptions through the API in {elapsed:.1f} s: all"
                    f" {count:,} would take ~{projected:.0f} s; writing the rest directly"
                )
                break
        return made

    def _check(self, names: tuple[str, ...], seeded: Seeded) -> None:
        """Read the last subscription's usage through the API and compare with the seed."""
        position = len(names) - 1
        expected = seeded.expected_counts(position)
        try:
            with grpc.insecure_channel(self._target) as channel:
                current = usage_pb2_grpc.UsageServiceStub(channel).GetCurrentUsage(
                    usage_pb2.GetCurrentUsageRequest(subscription=names[position]),
                    metadata=self._metadata,
                    timeout=CHECK_TIMEOUT_S,
                )
        except grpc.RpcError as exc:
            code = exc.code().name if isinstance(exc, grpc.Call) else type(exc).__name__
            raise BenchError(f"reading back the seeded usage failed: {code}: {exc}") from exc
        got = {m.metric: m.quantity for m in current.metrics}
        if got.get("api_calls") != str(expected["api_calls"]) or set(got) != set(expected):
            raise BenchError(
                f"the seeded usage of {names[position]} reads back as {got}, expected the"
                f" metrics {sorted(expected)} with api_calls {expected['api_calls']}"
            )
        self._progress(f"checked {names[position]}: {got}")
