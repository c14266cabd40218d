"""billing.bench.storage, the measurement behind docs/scaling.md's sizing: the usage events it
writes are rows the real schema accepts, and the bytes it reports are PostgreSQL's own sizes
divided by the rows."""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg

from billing.bench.storage import table_report, usage_event_bytes
from conftest import Database

EVENTS = 3_000


def test_usage_event_bytes_are_postgresql_sizes_per_row(
    make_database: Callable[[str], Database],
) -> None:
    dsn = make_database("postgresql").sync_url.replace("postgresql+psycopg://", "postgresql://")
    report = usage_event_bytes(dsn, EVENTS)
    with psycopg.connect(dsn) as conn:
        rows, subscriptions, metrics, total = conn.execute(
            "SELECT count(*), count(DISTINCT subscription_id), count(DISTINCT metric),"
            " pg_total_relation_size('usage_events') FROM usage_events"
        ).fetchone() or (0, 0, 0, 0)
    assert (rows, subscriptions, metrics) == (EVENTS, EVENTS, 1)  # < 10,000: one metric round
    head = report.splitlines()[0]
    assert head.startswith(f"usage_events: {EVENTS:,} rows written in ")
    assert f"{total / EVENTS:,.0f} B per event on disk" in head
    indexes = sorted(line.split(":")[0].strip() for line in report.splitlines()[1:])
    assert indexes == [
        "ix_usage_events_tenant_id_corrects",
        "ix_usage_events_tenant_id_subscription_id_metric_ts",
        "pk_usage_events",
    ]

    tables = table_report(dsn, EVENTS, "event").splitlines()
    assert re.fullmatch(r"on disk: [\d,]+ B per event in all \([\d.,]+ MiB\)", tables[0])
    assert tables[1].startswith(f"  usage_events: {total / EVENTS:,.0f} B per event")
    assert tables[1].endswith(f"; {EVENTS:,} rows)")
