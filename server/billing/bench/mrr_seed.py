"""GetMrr 1M: a tenant's MRR state for N subscriptions written straight into PostgreSQL with
COPY, bypassing gRPC, as the write path (app/mrr.py `track`) would have left it.

Subscription i belongs to customer i // 2 (so half the customers hold two), is worth
1,000 + (i % 50) x 100 minor units of USD a month, and starts at START + i x SPAN / N, where
START is 365 days before the seeding and SPAN a minute short of that: the even one of a
customer's pair is its *new* movement, the odd one an *expansion*. Customers with
c % 10 == 3 expand the odd subscription by 5.00 a third of the way from its start to the
span's end; customers with c % 25 == 7 cancel both two thirds of the way (a *contraction*, then
a *churn* a second later). About 1.09 movements per subscription, spread over the whole year
up to the seeding: ~90,000 in the last 30 days at N = 1M, all of them before the seeding.

Every table GetMrr and the write path keep is written and agrees with the others: positions
(mrr_subscriptions), customers' totals, the movements, the 16 shard totals (the sum of the
positions in each shard) and each UTC day's net movement per shard (mrr_days). `Seeded`'s
total and `expected_at` are what GetMrr must answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine.url import make_url

from billing.app.mrr import shard_of
from billing.bench.servers import BenchError
from billing.domain.mrr import Movement
from billing.store.mrr import COUNTED, day_start

CURRENCY = "USD"
BACK = timedelta(days=365)
SPAN = BACK - timedelta(minutes=1)
WRITE_ROWS = 20_000  # rows per write to a COPY stream
STATEMENT_TIMEOUT = "20min"
POSITIONS = "mrr_subscriptions (tenant_id, subscription_id, customer_id, currency, mrr_minor)"
CUSTOMERS = "mrr_customers (tenant_id, customer_id, currency, mrr_minor)"
MOVEMENTS = (
    "mrr_movements (tenant_id, id, occurred_at, customer_id, subscription_id, currency, kind,"
    " delta_minor)"
)
TOTALS = "mrr_totals (tenant_id, currency, shard, mrr_minor, customers)"
DAYS = "mrr_days (tenant_id, day_start, currency, shard, delta_minor, customers_delta)"
TABLES = ("mrr_subscriptions", "mrr_customers", "mrr_movements", "mrr_totals", "mrr_days")


@dataclass(frozen=True)
class Move:
    at: datetime
    subscription: int
    kind: str
    delta: int


def subscription_id(i: int) -> str:
    return f"sub_mrrseed{i:09d}"


def customer_id(i: int) -> str:
    return f"cus_mrrseed{i // 2:09d}"


def base_minor(i: int) -> int:
    return 1_000 + (i % 50) * 100


def moves(n: int, start: datetime) -> Iterator[Move]:
    """Every movement of the seeded history, customer by customer."""
    second = timedelta(seconds=1)
    end = start + SPAN
    for first in range(0, n, 2):
        c = first // 2
        pair = [i for i in (first, first + 1) if i < n]
        at = {i: start + SPAN * i / n for i in pair}
        for i in pair:
            yield Move(at[i], i, "new" if i == first else "expansion", base_minor(i))
        last = pair[-1]
        if last == first:
            continue
        odd = base_minor(last)
        if c % 10 == 3:
            yield Move(at[last] + (end - at[last]) / 3, last, "expansion", 500)
            odd += 500
        if c % 25 == 7:
            gone = at[last] + (end - at[last]) * 2 / 3
            yield Move(gone, first, "contraction", -base_minor(first))
            yield Move(gone + second, last, "churn", -odd)


@dataclass(frozen=True)
class Seeded:
    subscriptions: int
    movements: int
    total_minor: int
    start: datetime
    seconds: float
    table_sizes: str


def final_state(n: int, start: datetime) -> tuple[dict[int, int], dict[int, int], int]:
    """(position per subscription, total per shard, movement count) after the history."""
    positions: dict[int, int] = {}
    count = 0
    for move in moves(n, start):
        positions[move.subscription] = positions.get(move.subscription, 0) + move.delta
        count += 1
    shards: dict[int, int] = {}
    for i, minor in positions.items():
        shard = shard_of(subscription_id(i))
        shards[shard] = shards.get(shard, 0) + minor
    return positions, shards, count


def expected_at(n: int, start: datetime, at: datetime) -> int:
    """MRR at `at`: the movements strictly before it."""
    return sum(m.delta for m in moves(n, start) if m.at < at)


def expected_customers_at(n: int, start: datetime, at: datetime) -> int:
    """Customers with MRR at `at` (churn's base): those whose movements before it net above 0."""
    per_customer: dict[str, int] = {}
    for m in moves(n, start):
        if m.at < at:
            key = customer_id(m.subscription)
            per_customer[key] = per_customer.get(key, 0) + m.delta
    return sum(1 for minor in per_customer.values() if minor > 0)


def seed(database_url: str, tenant: str, n: int, progress: Callable[[str], None]) -> Seeded:
    """Write the state of `n` subscriptions for `tenant`, then VACUUM (ANALYZE) the tables."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    start = (datetime.now(UTC) - BACK).replace(microsecond=0)
    began = time.monotonic()
    positions, shards, count = final_state(n, start)
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            conn.execute("SET synchronous_commit = off")  # this session only
            with conn.transaction():
                _copy(conn, POSITIONS, _positions(tenant, positions))
                progress(f"{len(positions):,} MRR positions copied")
                _copy(conn, CUSTOMERS, _customers(tenant, positions))
                _copy(conn, MOVEMENTS, _movements(tenant, n, start))
                progress(f"{count:,} MRR movements copied")
                _copy(conn, TOTALS, _totals(tenant, shards, _with_mrr(positions)))
                _copy(conn, DAYS, _days(tenant, n, start))
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            for table in TABLES:
                conn.execute(f"VACUUM (ANALYZE) {table}")
            row = conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('mrr_movements')),"
                " pg_size_pretty(pg_total_relation_size('mrr_subscriptions'))"
            ).fetchone()
    except psycopg.Error as exc:
        raise BenchError(f"seeding the MRR state failed: {exc}") from exc
    sizes = f"mrr_movements {row[0]}, mrr_subscriptions {row[1]}" if row else ""
    return Seeded(n, count, sum(shards.values()), start, time.monotonic() - began, sizes)


def _copy(conn: psycopg.Connection[Any], into: str, lines: Iterator[str]) -> None:
    with conn.cursor() as cursor, cursor.copy(f"COPY {into} FROM STDIN") as copy:
        block: list[str] = []
        for line in lines:
            block.append(line)
            if len(block) >= WRITE_ROWS:
                copy.write("".join(block))
                block.clear()
        copy.write("".join(block))


def _positions(tenant: str, positions: dict[int, int]) -> Iterator[str]:
    for i, minor in positions.items():  # tenant_id, subscription_id, customer_id, currency, mrr
        yield f"{tenant}\t{subscription_id(i)}\t{customer_id(i)}\t{CURRENCY}\t{minor}\n"


def _customers(tenant: str, positions: dict[int, int]) -> Iterator[str]:
    per_customer: dict[str, int] = {}
    for i, minor in positions.items():
        per_customer[customer_id(i)] = per_customer.get(customer_id(i), 0) + minor
    for customer, minor in per_customer.items():  # tenant_id, customer_id, currency, mrr
        yield f"{tenant}\t{customer}\t{CURRENCY}\t{minor}\n"


def _movements(tenant: str, n: int, start: datetime) -> Iterator[str]:
    # tenant_id, id, occurred_at, customer_id, subscription_id, currency, kind, delta_minor
    for k, m in enumerate(moves(n, start)):
        yield (
            f"{tenant}\tmrm_seed{k:010d}\t{m.at.isoformat()}\t{customer_id(m.subscription)}"
            f"\t{subscription_id(m.subscription)}\t{CURRENCY}\t{m.kind}\t{m.delta}\n"
        )


def _with_mrr(positions: dict[int, int]) -> int:
    per_customer: dict[str, int] = {}
    for i, minor in positions.items():
        per_customer[customer_id(i)] = per_customer.get(customer_id(i), 0) + minor
    return sum(1 for minor in per_customer.values() if minor > 0)


def _totals(tenant: str, shards: dict[int, int], customers: int) -> Iterator[str]:
    # tenant_id, currency, shard, mrr_minor, customers (all counted in shard 0)
    for shard, minor in sorted(shards.items()):
        yield f"{tenant}\t{CURRENCY}\t{shard}\t{minor}\t{customers if shard == 0 else 0}\n"
    if 0 not in shards:
        yield f"{tenant}\t{CURRENCY}\t0\t0\t{customers}\n"


def _days(tenant: str, n: int, start: datetime) -> Iterator[str]:
    sums: dict[tuple[datetime, int], tuple[int, int]] = {}
    for m in moves(n, start):
        key = (day_start(m.at), shard_of(subscription_id(m.subscription)))
        minor, customers = sums.get(key, (0, 0))
        sums[key] = (minor + m.delta, customers + COUNTED.get(Movement(m.kind), 0))
    # tenant, day_start, currency, shard, net MRR, net customers
    for (day, shard), (minor, customers) in sorted(sums.items()):
        yield f"{tenant}\t{day.isoformat()}\t{CURRENCY}\t{shard}\t{minor}\t{customers}\n"
