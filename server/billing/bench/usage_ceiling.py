"""The bare ingestion ceiling StreamUsage is compared with, measured in the same run.

From one process (this one) on one connection, the same number of events as StreamUsage
committed in its window, of the same shape (tenant, StreamUsage's subscriptions, metric,
timestamps of the last day, `{}` properties, a 32-byte body hash, ids as long as the load's),
go the way the server's batches go, with nothing else around them: per batch of the server's
size (app.usage.STREAM_CHUNK_EVENTS) one transaction that COPYs the rows into a temporary
staging table like `usage_events` and moves them with one INSERT ... SELECT ... ON CONFLICT
DO NOTHING into a table made LIKE usage_events INCLUDING ALL (same columns, primary key and
indexes, logged). The COPY text is made before the clock starts: the ceiling is the
database's, not this process's Python. No gRPC, no checks, no rollups, no RETURNING.

The machine is shared and a few seconds of it are noisy: the ceiling is the best of ROUNDS
rounds, each into a new table (the stricter baseline for StreamUsage to be compared with).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine.url import make_url

from billing.app.usage import STREAM_CHUNK_EVENTS
from billing.bench.servers import BenchError

CEILING = "bare COPY + dedupe"
ROUNDS = 3
EVENTS_MIN = 100_000  # a shorter run would time mostly its first batches
EVENTS_MAX = 5_000_000  # the COPY text is held in memory
STATEMENT_TIMEOUT = "5min"
COLUMNS = "tenant_id, id, subscription_id, metric, ts, properties, body_hash, received_at"


@dataclass(frozen=True)
class Ceiling:
    events: int
    inserted: int
    seconds: float
    batch: int
    rounds: int = 1
    round_rates: tuple[float, ...] = ()  # events/s of each round, in order (the best is used)

    @property
    def events_per_s(self) -> float:
        return self.inserted / self.seconds if self.seconds > 0 else 0.0


def _dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _batches(
    tenant_id: str,
    subscription_ids: Sequence[str],
    events: int,
    batch: int,
    day_start: datetime,
    now: datetime,
) -> list[str]:
    """The COPY text of each batch (StreamUsage's shape: see usage_load.stream_usage_call)."""
    tag = secrets.token_hex(4)
    received = now.isoformat()
    start_s = int(day_start.timestamp())
    texts: list[str] = []
    for first in range(0, events, batch):
        lines = []
        for n in range(first, min(first + batch, events)):
            at = datetime.fromtimestamp(start_s + n * 7 % 86_400, day_start.tzinfo).isoformat()
            event_id = f"bench-{tag}-ceil-{n // 10_000:08d}-{n % 10_000:05d}"
            digest = hashlib.sha256(event_id.encode()).hexdigest()
            lines.append(
                f"{tenant_id}\t{event_id}\t{subscription_ids[n % len(subscription_ids)]}"
                f"\tapi_calls\t{at}\t{{}}\t\\\\x{digest}\t{received}\n"
            )
        texts.append("".join(lines))
    return texts


def measure(
    database_url: str,
    subscription_ids: Sequence[str],
    events: int,
    *,
    day_start: datetime,
    now: datetime,
    batch: int = STREAM_CHUNK_EVENTS,
) -> Ceiling:
    """Ingest `events` events the bare way into a scratch table (dropped after); the time."""
    events = min(events, EVENTS_MAX)
    table = f"bench_ceiling_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(_dsn(database_url), connect_timeout=5) as conn:
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            row = conn.execute(
                "SELECT tenant_id FROM subscriptions WHERE id = %s", (subscription_ids[0],)
            ).fetchone()
            if row is None:
                raise BenchError(f"no subscription {subscription_ids[0]}")
            texts = _batches(str(row[0]), subscription_ids, events, batch, day_start, now)
            conn.execute(
                "CREATE TEMP TABLE ceiling_staging (LIKE usage_events INCLUDING DEFAULTS)"
                " ON COMMIT DELETE ROWS"
            )
            conn.commit()
            best: tuple[int, float] | None = None
            rates: list[float] = []
            for _ in range(ROUNDS):
                conn.execute(f"CREATE TABLE {table} (LIKE usage_events INCLUDING ALL)")
                conn.commit()
                try:
                    inserted, seconds = _ingest(conn, table, texts)
                finally:
                    conn.rollback()
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                    conn.commit()
                rates.append(inserted / seconds if seconds > 0 else 0.0)
                if best is None or rates[-1] > max(rates[:-1]):
                    best = (inserted, seconds)
    except psycopg.Error as exc:
        raise BenchError(f"the {CEILING} ceiling failed: {exc}") from exc
    assert best is not None
    return Ceiling(events, best[0], best[1], batch, ROUNDS, tuple(rates))


def _ingest(conn: psycopg.Connection[Any], table: str, texts: Sequence[str]) -> tuple[int, float]:
    inserted = 0
    start = time.perf_counter()
    for text in texts:
        with conn.transaction(), conn.cursor() as cursor:
            with cursor.copy(f"COPY ceiling_staging ({COLUMNS}) FROM STDIN") as copy:
                copy.write(text)
            cursor.execute(
                f"INSERT INTO {table} SELECT * FROM ceiling_staging ON CONFLICT DO NOTHING"
            )
            inserted += cursor.rowcount
    return inserted, time.perf_counter() - start
