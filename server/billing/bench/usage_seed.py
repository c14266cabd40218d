"""GetCurrentUsage 10M: rows written straight into PostgreSQL with COPY, bypassing gRPC.

Subscriptions: copies of one the server made through the API (`template`), so every column
and JSON shape is the server's own (see store/schema.py `subscriptions` and store/billing.py
`_subscription_row`): tenant, items (the base fee), time zone, clock and rule set are the
template's; id and customer are new; plan metered_monthly, USD, active, monthly, period
2026-04-01..2026-05-01 UTC are checked on the template and written explicitly. They have no
invoice or due work of their own, which GetCurrentUsage does not read.

Events: event n belongs to subscription n % S and, for that subscription's k-th event
(k = n // S), to metric k % 3 of api_calls, data_gb, storage_gb; its time is n / N of the way
through April 2026, so rows arrive in time order interleaved over subscriptions, as live
ingestion would write them, and each subscription's events spread over its open period.
body_hash is the SHA-256 of the id (the server hashes the body; only a re-sent event reads it).

Rollups: after the events, one INSERT ... SELECT ... GROUP BY writes the rows ingestion would
have kept (store/usage.py): per subscription, metric and UTC day, under each metric's
definition as usage_setup.METERING gives it (SPECS).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy.engine.url import make_url

from billing.app.ids import new_id
from billing.bench.servers import BenchError
from billing.domain.metering import MetricSpec
from billing.domain.rollups import BUCKET, EPOCH, definition, valued_field
from billing.store.schema import subscriptions as subscriptions_table
from billing.store.usage import group_key

APRIL = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
SPAN_S = int((MAY - APRIL).total_seconds())
METERED_CODE = "metered_monthly"
METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("api_calls", ("{}",)),
    ("data_gb", ('{"gb": "0.5"}', '{"gb": "1"}', '{"gb": "2.25"}')),
    ("storage_gb", ('{"gb": "10"}', '{"gb": "20"}', '{"gb": "40"}')),
)
SPECS = {  # as usage_setup.METERING defines the metrics
    "api_calls": MetricSpec("api_calls", "count"),
    "data_gb": MetricSpec("data_gb", "sum", "gb"),
    "storage_gb": MetricSpec("storage_gb", "time_weighted_sum", "gb"),
}
EVENT_COLUMNS = "tenant_id, id, subscription_id, metric, ts, properties, body_hash, received_at"
CHUNK_ROWS = 500_000  # one COPY, one transaction
WRITE_ROWS = 10_000  # rows per write to the COPY stream
SEED_TIMEOUT_S = 3600.0  # the whole seeding, checked between writes
STATEMENT_TIMEOUT = "20min"  # one COPY chunk, VACUUM (ANALYZE), a count


@dataclass(frozen=True)
class Seeded:
    subscription_ids: tuple[str, ...]  # event n belongs to subscription_ids[n % S]
    inserted_subscriptions: int
    subscription_seconds: float
    events: int
    event_seconds: float
    rollup_seconds: float
    rollup_rows: int
    analyze_seconds: float
    total_size_text: str
    heap_size_text: str
    index_size_text: str
    table_rows: int

    def expected_counts(self, position: int) -> dict[str, int]:
        """Events per metric that the subscription at `position` was seeded with."""
        s = len(self.subscription_ids)
        per_sub = (self.events - 1 - position) // s + 1 if position < self.events else 0
        return {metric: (per_sub - j + 2) // 3 for j, (metric, _) in enumerate(METRICS)}


def seed(
    database_url: str,
    *,
    template: str,
    customers: Sequence[str],
    subscription_ids: Sequence[str],
    subscriptions: int,
    events: int,
    progress: Callable[[str], None],
) -> Seeded:
    """Write subscriptions up to `subscriptions` (cloning `template`), then `events` events
    over all of them, then VACUUM (ANALYZE). `customers` and ids are bare (`cus_...`)."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + SEED_TIMEOUT_S
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            conn.execute("SET synchronous_commit = off")  # this session only
            start = time.monotonic()
            tenant, extra = _insert_subscriptions(
                conn,
                template.removeprefix("subscriptions/"),
                customers,
                subscriptions - len(subscription_ids),
            )
            sub_seconds = time.monotonic() - start
            ids = (*subscription_ids, *extra)
            start = time.monotonic()
            _copy_events(conn, tenant, ids, events, deadline, progress)
            event_seconds = time.monotonic() - start
            progress("writing the usage rollups")
            start = time.monotonic()
            rollup_rows = _roll_up(conn, tenant, ids)
            rollup_seconds = time.monotonic() - start
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            conn.execute("SET maintenance_work_mem = '256MB'")  # this session only
            progress("VACUUM (ANALYZE) usage_events, ANALYZE subscriptions")
            start = time.monotonic()
            # VACUUM too: hint bits and the visibility map set now, not by the first reads or
            # by autovacuum in the middle of the measured window.
            conn.execute("VACUUM (ANALYZE) usage_events")
            conn.execute("VACUUM (ANALYZE) usage_rollups")
            conn.execute("ANALYZE subscriptions")
            analyze_seconds = time.monotonic() - start
            sizes = conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('usage_events')),"
                " pg_size_pretty(pg_relation_size('usage_events')),"
                " pg_size_pretty(pg_indexes_size('usage_events')),"
                " (SELECT count(*) FROM usage_events)"
            ).fetchone()
    except psycopg.Error as exc:
        raise BenchError(f"seeding PostgreSQL failed: {exc}") from exc
    if sizes is None:
        raise BenchError("seeding PostgreSQL failed: no table size")
    return Seeded(
        ids,
        len(extra),
        sub_seconds,
        events,
        event_seconds,
        rollup_seconds,
        rollup_rows,
        analyze_seconds,
        str(sizes[0]),
        str(sizes[1]),
        str(sizes[2]),
        int(sizes[3]),
    )


def _insert_subscriptions(
    conn: psycopg.Connection[Any], template_id: str, customers: Sequence[str], count: int
) -> tuple[str, list[str]]:
    """`count` clones of subscription `template_id`; its tenant and the new ids."""
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute("SELECT * FROM subscriptions WHERE id = %s", (template_id,)).fetchone()
    if row is None:
        raise BenchError(f"template subscription {template_id} not found in the database")
    columns = [c.name for c in subscriptions_table.columns]
    if set(row) != set(columns):
        raise BenchError(f"subscriptions has columns {sorted(row)}, expected {sorted(columns)}")
    expected = {
        "plan_code": METERED_CODE,
        "currency": "USD",
        "status": "active",
        "interval": "month",
        "interval_count": 1,
        "anchor": APRIL,
        "period_start": APRIL,
        "period_end": MAY,
        "trial_end": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "paused_at": None,
        "pending_change": None,
        "discount": None,
    }
    differs = {k: row[k] for k, v in expected.items() if row[k] != v}
    if differs:
        raise BenchError(f"template subscription {template_id} is not as expected: {differs}")
    ids: list[str] = []
    with (
        conn.transaction(),
        conn.cursor() as cursor,
        cursor.copy(f"COPY subscriptions ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for i in range(count):
            sub_id = new_id("sub")
            new = {**row, **expected, "id": sub_id, "customer_id": customers[i % len(customers)]}
            copy.write_row([_adapt(new[c]) for c in columns])
            ids.append(sub_id)
    return str(row["tenant_id"]), ids


def _roll_up(conn: psycopg.Connection[Any], tenant: str, ids: Sequence[str]) -> int:
    """The rollup rows of the events seeded for `ids`, as ingestion keeps them; how many.
    (Other scenarios' subscriptions of the tenant have theirs already.)"""
    cases = []
    for code, spec in SPECS.items():
        field = valued_field(spec)
        value = "NULL" if field is None else f"(properties->>'{field}')::numeric"
        cases.append((code, definition(spec), value))
    spec_case = " ".join(f"WHEN '{code}' THEN '{defined}'" for code, defined, _ in cases)
    value_case = " ".join(f"WHEN '{code}' THEN {value}" for code, _, value in cases)
    bucket = f"date_bin('{int(BUCKET.total_seconds())} seconds', ts, '{EPOCH.isoformat()}')"
    with conn.transaction():
        conn.execute("SET LOCAL work_mem = '256MB'")  # one grouping of every event
        cursor = conn.execute(
            "INSERT INTO usage_rollups (tenant_id, subscription_id, metric, bucket, spec,"
            " group_key, group_values, count, total, peak, peak_stale)"
            " SELECT tenant_id, subscription_id, metric, bucket, spec, %s, '[]'::jsonb,"
            " count(*), sum(value), max(value), false FROM ("
            f"  SELECT tenant_id, subscription_id, metric, {bucket} AS bucket,"
            f"   CASE metric {spec_case} END AS spec, CASE metric {value_case} END AS value"
            "  FROM usage_events WHERE tenant_id = %s AND subscription_id = ANY(%s)"
            "   AND corrects IS NULL) e"
            " GROUP BY tenant_id, subscription_id, metric, bucket, spec",
            (group_key(()), tenant, list(ids)),
        )
        return cursor.rowcount


def _adapt(value: object) -> object:
    return Jsonb(value) if isinstance(value, dict | list) else value


def _copy_events(
    conn: psycopg.Connection[Any],
    tenant: str,
    ids: Sequence[str],
    total: int,
    deadline: float,
    progress: Callable[[str], None],
) -> None:
    start = time.monotonic()
    for first in range(0, total, CHUNK_ROWS):
        last = min(first + CHUNK_ROWS, total)
        with (
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy(f"COPY usage_events ({EVENT_COLUMNS}) FROM STDIN") as copy,
        ):
            for text in _event_text(tenant, ids, first, last, total):
                if time.monotonic() > deadline:
                    raise BenchError(f"seeding took more than {SEED_TIMEOUT_S:.0f} s; stopped")
                copy.write(text)
        elapsed = time.monotonic() - start
        progress(f"seeded {last:,} of {total:,} events in {elapsed:.0f} s")


def _event_text(
    tenant: str, ids: Sequence[str], first: int, last: int, total: int
) -> Iterator[str]:
    """Rows first..last-1 in COPY text format, WRITE_ROWS at a time."""
    s = len(ids)
    month = f"{APRIL:%Y-%m}-"
    sha256 = hashlib.sha256
    for block in range(first, last, WRITE_ROWS):
        lines: list[str] = []
        for n in range(block, min(block + WRITE_ROWS, last)):
            metric, properties = METRICS[(n // s) % len(METRICS)]
            day, second = divmod(n * SPAN_S // total, 86_400)
            at = (
                f"{month}{day + 1:02d} {second // 3600:02d}:{second // 60 % 60:02d}"
                f":{second % 60:02d}+00"
            )
            event_id = f"seed-{n:09d}"
            digest = sha256(event_id.encode()).hexdigest()
            lines.append(
                f"{tenant}\t{event_id}\t{ids[n % s]}\t{metric}\t{at}"
                f"\t{properties[n // 7 % len(properties)]}\t\\\\x{digest}\t{at}\n"
            )
        yield "".join(lines)
