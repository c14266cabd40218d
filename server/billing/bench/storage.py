"""Bytes on disk per row on PostgreSQL: the figures behind docs/scaling.md's sizing.

    python -m billing.bench.storage --events 1000000

writes that many usage events into a fresh, migrated database with the usage seed bench's
metrics, properties (`{}` or one), SHA-256 body hashes and times through a month, ids as long
as the server's (tenant, subscription) and a caller's UUID event id (36 characters, random, as
a client's would be: the seed's sequential ids would flatter the primary key), then
`VACUUM ANALYZE`s and prints the table's heap and each index per row. `bill_run
--table-sizes` prints every table's bytes per subscription after its run (`table_report`).
"""

from __future__ import annotations

import argparse
import sys
import time

import psycopg

from billing.bench.servers import clean_env, migrate, postgresql_database

SUBSCRIPTIONS = 10_000
# Done in SQL, so the rows cost no Python: the same columns and sizes as usage_seed's COPY.
EVENTS_SQL = """
INSERT INTO usage_events
  (tenant_id, id, subscription_id, metric, ts, properties, body_hash, received_at)
SELECT 't_0123456789abcdef', md5(n::text)::uuid::text,
       'sub_01J' || lpad(upper(to_hex(n % {s})), 23, '0'),
       (ARRAY['api_calls', 'data_gb', 'storage_gb'])[(n / {s}) % 3 + 1],
       timestamptz '2026-04-01' + (n::float8 / {n}) * interval '30 days',
       (ARRAY['{{}}', '{{"gb": "0.5"}}', '{{"gb": "10"}}'])[(n / {s}) % 3 + 1]::jsonb,
       sha256(n::text::bytea),
       timestamptz '2026-04-01' + (n::float8 / {n}) * interval '30 days'
FROM generate_series(0, {n} - 1) AS n
"""
TABLES_SQL = """
SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), pg_indexes_size(c.oid),
       pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
WHERE s.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'
ORDER BY pg_total_relation_size(c.oid) DESC
"""
INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid)
FROM pg_index i WHERE i.indrelid = %s::regclass ORDER BY 1
"""


def table_report(dsn: str, per: int, unit: str, *, top: int = 12) -> str:
    """Every table's size on disk (heap + indexes + TOAST) divided by `per`, largest first."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        rows = conn.execute(TABLES_SQL).fetchall()
    total = sum(r[4] for r in rows)
    lines = [f"on disk: {total / per:,.0f} B per {unit} in all ({total / 2**20:,.1f} MiB)"]
    for name, tuples, heap, indexes, whole in rows[:top]:
        lines.append(
            f"  {name}: {whole / per:,.0f} B per {unit} "
            f"(heap {heap / per:,.0f}, indexes {indexes / per:,.0f}; {max(tuples, 0):,} rows)"
        )
    return "\n".join(lines)


def usage_event_bytes(dsn: str, events: int) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        started = time.perf_counter()
        conn.execute(EVENTS_SQL.format(n=int(events), s=SUBSCRIPTIONS).encode())
        seconds = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE usage_events")
        heap, indexes, whole = conn.execute(
            "SELECT pg_relation_size('usage_events'), pg_indexes_size('usage_events'),"
            " pg_total_relation_size('usage_events')"
        ).fetchone() or (0, 0, 0)
        each = conn.execute(INDEXES_SQL, ("usage_events",)).fetchall()
    lines = [
        f"usage_events: {events:,} rows written in {seconds:.1f} s (one INSERT ... SELECT); "
        f"{whole / events:,.0f} B per event on disk: heap {heap / events:,.0f}, "
        f"indexes {indexes / events:,.0f}"
    ]
    lines += [f"  {name}: {size / events:,.0f} B per event" for name, size in each]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    with postgresql_database(args.pg_url) as url:
        migrate(clean_env({"BILLING_DATABASE_URL": url}))
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        print(usage_event_bytes(dsn, args.events))
    return 0


if __name__ == "__main__":
    sys.exit(main())
