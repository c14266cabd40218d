"""Usage events: batched ingestion, period reads, and their daily rollups (ADR 0013).

A batch is written with a fixed handful of statements, never a round trip per event. On
PostgreSQL the rows are COPYed into a temporary staging table like `usage_events` and moved
with one INSERT ... ON CONFLICT DO NOTHING RETURNING id; the rollup changes of the events it
inserted are summed here and written with one INSERT ... SELECT FROM unnest(...) ... ON
CONFLICT DO UPDATE in key order (so concurrent batches lock shared rows in one order and never
deadlock). On SQLite one multi-row INSERT ... ON CONFLICT DO NOTHING, then the rollup rows are
read, added to in Python (SQLite has no exact decimal arithmetic) and written back under its
single writer. Ids that were already there are then read back once, so each is answered as a
duplicate (same body) or refused.

The COPY text is written here, one string per 500 rows, not row by row through psycopg's dumpers
(which cost more than all of an event's checks); the staging table carries the events only
(the rollups need no per-event columns in PostgreSQL) and is emptied by the commit (ON COMMIT
DELETE ROWS), not by a statement of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import RowMapping, Select, and_, exists, func, or_, select, type_coerce, union_all

from billing.app.ports import BilledUsage, StoredEvent
from billing.app.turns import give_way
from billing.domain.metering import Event, MetricSpec
from billing.domain.rollups import Contribution, Group, Range, Rollup
from billing.observability.sql_spans import raw_span
from billing.store.batch import BatchedConnection
from billing.store.dialect import dialect_insert, insert_or_ignore, upsert
from billing.store.schema import usage_billed, usage_events, usage_rollups

COPY_PART_ROWS = 500  # COPY text made and sent this many rows at a time

u = usage_events
r = usage_rollups
_COLUMNS = (
    "tenant_id",
    "id",
    "subscription_id",
    "metric",
    "ts",
    "properties",
    "body_hash",
    "received_at",
    "corrects",
    "correction",
)
_EVENT_COLUMNS = (  # what an Event is made of: no tenant, no body hash
    u.c.id,
    u.c.subscription_id,
    u.c.metric,
    u.c.ts,
    u.c.properties,
    u.c.received_at,
    u.c.corrects,
    u.c.correction,
)
_ROLLUP_KEY = ["tenant_id", "subscription_id", "metric", "bucket", "spec", "group_key"]
_ROLLUP_VALUES = ["group_values", "count", "total", "peak", "peak_stale"]
_EVENTS = ", ".join(_COLUMNS)
# A per-connection staging table shaped like the events.
_CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS usage_events_staged"
    " (LIKE usage_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY_STAGED = f"COPY usage_events_staged ({_EVENTS}) FROM STDIN"
_MOVE_STAGED = (
    f"INSERT INTO usage_events ({_EVENTS}) SELECT {_EVENTS} FROM usage_events_staged"
    " ON CONFLICT DO NOTHING RETURNING id"
)
# Rows in the order given (key order): that is the order their locks are taken in.
_ADD_TO_ROLLUPS = f"""
INSERT INTO usage_rollups AS r ({", ".join(_ROLLUP_KEY)}, {", ".join(_ROLLUP_VALUES)})
SELECT %(tenant)s, u.subscription_id, u.metric, u.bucket, u.spec, u.group_key,
       u.group_values::jsonb, u.count, u.total, u.peak, false
FROM unnest(%(subscription_id)s::text[], %(metric)s::text[], %(bucket)s::timestamptz[],
            %(spec)s::text[], %(group_key)s::text[], %(group_values)s::text[],
            %(count)s::bigint[], %(total)s::numeric[], %(peak)s::numeric[])
     WITH ORDINALITY AS u(subscription_id, metric, bucket, spec, group_key, group_values,
                          count, total, peak, position)
ORDER BY u.position
ON CONFLICT ({", ".join(_ROLLUP_KEY)}) DO UPDATE SET
    count = r.count + excluded.count,
    total = r.total + excluded.total,
    peak = greatest(r.peak, excluded.peak)
"""


@lru_cache(maxsize=4096)
def group_key(group: Group | None) -> str:
    """The key of a group's rows, bounded whatever its values; "" for events the metric's
    filters leave out."""
    if group is None:
        return ""
    return hashlib.sha256(json.dumps(list(group)).encode()).hexdigest()[:32]


@dataclass(frozen=True, order=True)
class _Key:
    subscription_id: str
    metric: str
    bucket: datetime
    spec: str
    group_key: str


@dataclass(frozen=True)
class _Change:
    """What to add to one rollup row."""

    group: Group | None
    count: int
    total: Decimal | None
    peak: Decimal | None  # a value added: the max is at least this
    unpeak: Decimal | None = None  # a value taken away: the max is unknown if it was this

    def plus(self, other: _Change) -> _Change:
        return _Change(
            self.group,
            self.count + other.count,
            _add(self.total, other.total),
            _greatest(self.peak, other.peak),
        )


@dataclass(frozen=True)
class _Stored:
    count: int
    total: Decimal | None
    peak: Decimal | None
    peak_stale: bool


def _add(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a + b  # as SQL's + treats NULL


def _greatest(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else max(a, b)  # as SQL's greatest()


def _merge(stored: _Stored | None, change: _Change) -> _Stored:
    """The SQLite twin of the PostgreSQL upserts."""
    if stored is None:
        return _Stored(change.count, change.total, change.peak, change.unpeak is not None)
    lost_peak = change.unpeak is not None and (stored.peak is None or change.unpeak >= stored.peak)
    return _Stored(
        stored.count + change.count,
        _add(stored.total, change.total),
        _greatest(stored.peak, change.peak),
        stored.peak_stale or lost_peak,
    )


def _key(subscription_id: str, metric: str, c: Contribution) -> _Key:
    return _Key(subscription_id, metric, c.bucket, c.definition, group_key(c.group))


def _added(c: Contribution) -> _Change:
    return _Change(c.group, 1, c.value, c.value)


def _removed(c: Contribution) -> _Change:
    value = None if c.value is None else -c.value
    return _Change(c.group, -1, value, None, c.value)


def _row(tenant_id: str, e: StoredEvent) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": e.id,
        "subscription_id": e.subscription_id,
        "metric": e.metric,
        "ts": e.timestamp,
        "properties": dict(e.properties),
        "body_hash": e.body_hash,
        "received_at": e.received_at,
        "corrects": e.corrects,
        "correction": e.correction,
    }


# COPY text format: a backslash, tab, newline or carriage return in a value is escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _text(value: str) -> str:
    """A text value as COPY reads it (printable text without a backslash needs nothing)."""
    return value if value.isprintable() and "\\" not in value else value.translate(_COPY_ESCAPES)


def _copy_text(tenant_id: str, events: Sequence[StoredEvent]) -> str:
    """The events as rows of `usage_events_staged` (the columns of _COLUMNS), COPY text."""
    tenant = _text(tenant_id)
    lines: list[str] = []
    isoformats: dict[datetime, str] = {}  # received_at and buckets repeat within a batch
    for e in events:
        received = e.received_at
        if received is None:
            received_text = _NULL
        else:
            received_text = isoformats.get(received) or isoformats.setdefault(
                received, received.isoformat()
            )
        properties = _text(json.dumps(dict(e.properties))) if e.properties else "{}"
        corrects = _NULL if e.corrects is None else _text(e.corrects)
        correction = _NULL if e.correction is None else _text(e.correction)
        lines.append(
            f"{tenant}\t{_text(e.id)}\t{_text(e.subscription_id)}\t{_text(e.metric)}"
            f"\t{e.timestamp_text or e.timestamp.isoformat()}\t{properties}"
            f"\t\\\\x{e.body_hash.hex()}"
            f"\t{received_text}\t{corrects}\t{correction}\n"
        )
    return "".join(lines)


def _rollup_changes(events: Sequence[StoredEvent], inserted: set[str]) -> dict[_Key, _Change]:
    """What the inserted events add to their rollup rows, summed per row. Runs for every
    event: summed over plain tuples first, one _Key and _Change made per row after."""
    return _changes(_summed({}, events, inserted))


async def _rollup_changes_sliced(
    events: Sequence[StoredEvent], inserted: set[str]
) -> dict[_Key, _Change]:
    """The same, giving way to other calls every COPY_PART_ROWS events (pure CPU)."""
    sums: dict[tuple[str, str, int], list[Any]] = {}
    for first in range(0, len(events), COPY_PART_ROWS):
        _summed(sums, events[first : first + COPY_PART_ROWS], inserted)
        await give_way()
    return _changes(sums)


def _summed(
    sums: dict[tuple[str, str, int], list[Any]], events: Sequence[StoredEvent], inserted: set[str]
) -> dict[tuple[str, str, int], list[Any]]:
    # By the contribution object (a day's plain contribution is one object shared by its
    # events); equal ones made apart meet again in _changes, under one _Key.
    for e in events:
        c = e.rollup
        if c is None or e.id not in inserted:
            continue
        found = sums.get((e.subscription_id, e.metric, id(c)))
        if found is None:
            sums[(e.subscription_id, e.metric, id(c))] = [c, 1, c.value, c.value]
        else:
            found[1] += 1
            found[2] = _add(found[2], c.value)
            found[3] = _greatest(found[3], c.value)
    return sums


def _changes(sums: Mapping[tuple[str, str, int], list[Any]]) -> dict[_Key, _Change]:
    changes: dict[_Key, _Change] = {}
    for (subscription_id, metric, _), (c, count, total, peak) in sums.items():
        key = _key(subscription_id, metric, c)
        change = _Change(c.group, count, total, peak)
        found_change = changes.get(key)
        changes[key] = change if found_change is None else found_change.plus(change)
    return changes


def _rollup_arrays(tenant_id: str, changes: Mapping[_Key, _Change]) -> dict[str, Any]:
    """The parameters of _ADD_TO_ROLLUPS: one array per column, rows in key order, each
    written as an array literal (psycopg would dump every element on its own: ~5% of a
    stream's server CPU)."""
    ordered = sorted(changes.items())
    return {
        "tenant": tenant_id,
        "subscription_id": _texts([k.subscription_id for k, _ in ordered]),
        "metric": _texts([k.metric for k, _ in ordered]),
        "bucket": _texts([k.bucket.isoformat() for k, _ in ordered]),
        "spec": _texts([k.spec for k, _ in ordered]),
        "group_key": _texts([k.group_key for k, _ in ordered]),
        "group_values": _texts(
            [None if c.group is None else json.dumps(list(c.group)) for _, c in ordered]
        ),
        "count": _numbers([c.count for _, c in ordered]),
        "total": _numbers([c.total for _, c in ordered]),
        "peak": _numbers([c.peak for _, c in ordered]),
    }


def _texts(values: Sequence[str | None]) -> str:
    """A PostgreSQL array literal of text, every element quoted."""
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"


def _quoted(value: str) -> str:
    """An array element in double quotes: `\\` and `"` escaped by a backslash."""
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def _numbers(values: Sequence[int | Decimal | None]) -> str:
    """A PostgreSQL array literal of numbers (a Decimal as str() writes it: numeric reads
    its exponent form too)."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _event(row: Any) -> Event:
    return Event(
        row.id,
        row.subscription_id,
        row.metric,
        row.ts,
        dict(row.properties),
        corrects=row.corrects,
        correction=row.correction,
        received_at=row.received_at,
    )


def _rollup(row: RowMapping) -> Rollup:
    group = None if row["group_key"] == "" else tuple(row["group_values"])
    return Rollup(
        row["bucket"],
        row["spec"],
        group,
        row["count"],
        row["total"],
        row["peak"],
        bool(row["peak_stale"]),
    )


def billed_usage(row: Any) -> BilledUsage:
    """A `usage_billed` row as what the renewal reads."""
    return BilledUsage(
        row.price_code,
        row.period_start,
        row.period_end,
        row.quantity,
        row.amount_minor,
        row.invoice_id,
        row.billed_at,
    )


class SqlUsage:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn
        self._staged = False  # this transaction has used the staging table

    @property
    def _postgres(self) -> bool:
        return self._conn.dialect.name == "postgresql"

    async def insert_batch(self, tenant_id: str, events: Sequence[StoredEvent]) -> set[str]:
        """Insert what is new; returns the ids that were inserted."""
        if not events:
            return set()
        if self._postgres:
            return await self._copy_insert(tenant_id, events)
        result = await self._conn.execute(
            insert_or_ignore("sqlite", u, ["tenant_id", "id"]).returning(u.c.id),
            [_row(tenant_id, e) for e in events],
        )
        inserted = {row.id for row in result}
        await self._merge_in_python(tenant_id, _rollup_changes(events, inserted))
        return inserted

    async def _copy_insert(self, tenant_id: str, events: Sequence[StoredEvent]) -> set[str]:
        raw = await self._conn.get_raw_connection()
        pg: Any = raw.driver_connection
        # One span for the staging, the COPY and the move (ADR 0060).
        with raw_span(self._conn.raw.sync_engine, [_COPY_STAGED], "COPY"):
            return await self._copy_insert_on(pg, tenant_id, events)

    async def _copy_insert_on(
        self, pg: Any, tenant_id: str, events: Sequence[StoredEvent]
    ) -> set[str]:
        async with pg.cursor() as cursor:
            # Every time (a catalog lookup): made in a transaction that rolled back, it is gone.
            await cursor.execute(_CREATE_STAGING)
            if self._staged:
                # A second batch in one transaction: the commit has not emptied it yet.
                await cursor.execute("DELETE FROM usage_events_staged")
            self._staged = True
            async with cursor.copy(_COPY_STAGED) as copy:
                for first in range(0, len(events), COPY_PART_ROWS):
                    await copy.write(_copy_text(tenant_id, events[first : first + COPY_PART_ROWS]))
                    await give_way()  # making the text is pure CPU: let other calls in
            await cursor.execute(_MOVE_STAGED)
            inserted = {row[0] for row in await cursor.fetchall()}
            await give_way()  # a batch's ids read: other calls go before its rollups
            changes = await _rollup_changes_sliced(events, inserted)
            if changes:
                await cursor.execute(_ADD_TO_ROLLUPS, _rollup_arrays(tenant_id, changes))
        return inserted

    async def body_hashes(self, tenant_id: str, ids: Sequence[str]) -> dict[str, bytes]:
        if not ids:
            return {}
        rows = await self._conn.execute(
            select(u.c.id, u.c.body_hash).where(u.c.tenant_id == tenant_id, u.c.id.in_(ids))
        )
        return {row.id: bytes(row.body_hash) for row in rows}

    async def get(self, tenant_id: str, event_id: str, lock: bool = False) -> Event | None:
        query = select(u).where(u.c.tenant_id == tenant_id, u.c.id == event_id)
        row = (await self._conn.execute(query.with_for_update() if lock else query)).first()
        return _event(row) if row is not None else None

    async def corrections_of(self, tenant_id: str, event_id: str) -> list[Event]:
        rows = await self._conn.execute(
            select(u).where(u.c.tenant_id == tenant_id, u.c.corrects == event_id)
        )
        return [_event(row) for row in rows]

    async def in_period(
        self,
        tenant_id: str,
        subscription_id: str,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
    ) -> list[Event]:
        """The period's events with every correction of them (whenever it was received)."""
        return await self._events(tenant_id, subscription_id, metrics, [(start, end)])

    async def in_ranges(
        self, tenant_id: str, subscription_id: str, metric: str, ranges: Sequence[Range]
    ) -> list[Event]:
        return await self._events(tenant_id, subscription_id, [metric], ranges)

    async def _events(
        self,
        tenant_id: str,
        subscription_id: str,
        metrics: Sequence[str],
        ranges: Sequence[Range],
    ) -> list[Event]:
        if not ranges:
            return []
        # A correction carries its original's subscription, metric and timestamp, so the
        # same ranges find the originals and every correction of them, in one statement.
        rows = await self._conn.execute(
            select(*_EVENT_COLUMNS).where(
                u.c.tenant_id == tenant_id,
                u.c.subscription_id == subscription_id,
                u.c.metric.in_(metrics),
                or_(*(and_(u.c.ts >= start, u.c.ts < end) for start, end in ranges)),
            )
        )
        return [_event(row) for row in rows]

    async def latest_before(
        self,
        tenant_id: str,
        subscription_id: str,
        specs: Sequence[MetricSpec],
        before: datetime,
    ) -> list[Event]:
        if not specs:
            return []
        # One statement for every metric: per metric and group, the latest event before
        # `before` as corrected. A void is final, so a voided event is skipped; an amended one
        # is read with its latest amendment's properties, which also decide its group and
        # whether the filters take it.
        ranked = union_all(*(_latest_of(tenant_id, subscription_id, s, before) for s in specs))
        found = ranked.subquery()
        rows = await self._conn.execute(select(found).where(found.c.rank == 1))
        return [
            Event(
                row.id,
                row.subscription_id,
                row.metric,
                row.ts,
                _properties(row.properties),
                received_at=row.received_at,
            )
            for row in rows
        ]

    async def rollups(
        self, tenant_id: str, subscription_id: str, metric: str, buckets: Range
    ) -> list[Rollup]:
        first, last = buckets
        if first >= last:
            return []
        rows = await self._conn.execute(
            select(r).where(
                r.c.tenant_id == tenant_id,
                r.c.subscription_id == subscription_id,
                r.c.metric == metric,
                r.c.bucket >= first,
                r.c.bucket < last,
            )
        )
        return [_rollup(row) for row in rows.mappings()]

    async def adjust_rollup(
        self,
        tenant_id: str,
        subscription_id: str,
        metric: str,
        removed: Contribution | None,
        added: Contribution | None,
    ) -> None:
        changes = [
            (_key(subscription_id, metric, c), change(c))
            for c, change in ((removed, _removed), (added, _added))
            if c is not None
        ]
        # Key order, as batches lock rows; the removal first when both hit one row.
        for key, change in sorted(changes, key=lambda kc: kc[0]):
            if self._postgres:
                await self._upsert_change(tenant_id, key, change)
            else:
                await self._merge_in_python(tenant_id, {key: change})

    async def _upsert_change(self, tenant_id: str, key: _Key, change: _Change) -> None:
        insert = dialect_insert("postgresql", r)
        lost_peak = (
            or_(r.c.peak.is_(None), r.c.peak <= change.unpeak)
            if change.unpeak is not None
            else None
        )
        await self._conn.execute(
            insert.values(
                _values(tenant_id, key, change.group, _merge(None, change))
            ).on_conflict_do_update(
                index_elements=_ROLLUP_KEY,
                set_={
                    "count": r.c.count + insert.excluded.count,
                    "total": r.c.total + insert.excluded.total,
                    "peak": func.greatest(r.c.peak, insert.excluded.peak),
                    "peak_stale": r.c.peak_stale
                    if lost_peak is None
                    else or_(r.c.peak_stale, lost_peak),
                },
            )
        )

    async def _merge_in_python(self, tenant_id: str, changes: Mapping[_Key, _Change]) -> None:
        """Read the rows, add, write them back: exact, and safe under SQLite's one writer."""
        if not changes:
            return
        stored = await self._stored(tenant_id, changes)
        rows = [
            _values(tenant_id, key, change.group, _merge(stored.get(key), change))
            for key, change in sorted(changes.items())
        ]
        await self._conn.execute(
            upsert(self._conn.dialect.name, r, _ROLLUP_KEY, _ROLLUP_VALUES), rows
        )

    async def _stored(self, tenant_id: str, keys: Iterable[_Key]) -> dict[_Key, _Stored]:
        wanted = set(keys)
        rows = await self._conn.execute(
            select(r).where(
                r.c.tenant_id == tenant_id,
                r.c.subscription_id.in_({k.subscription_id for k in wanted}),
                r.c.bucket.in_({k.bucket for k in wanted}),
            )
        )
        found: dict[_Key, _Stored] = {}
        for row in rows.mappings():
            key = _Key(
                row["subscription_id"], row["metric"], row["bucket"], row["spec"], row["group_key"]
            )
            if key in wanted:
                found[key] = _Stored(
                    row["count"], row["total"], row["peak"], bool(row["peak_stale"])
                )
        return found

    async def billed(self, tenant_id: str, subscription_id: str) -> list[BilledUsage]:
        b = usage_billed
        rows = await self._conn.execute(
            select(b).where(b.c.tenant_id == tenant_id, b.c.subscription_id == subscription_id)
        )
        return [billed_usage(row) for row in rows]

    async def record_billed(
        self, tenant_id: str, subscription_id: str, billed: BilledUsage
    ) -> None:
        await self._conn.execute(
            upsert(
                self._conn.dialect.name,
                usage_billed,
                ["tenant_id", "subscription_id", "period_start", "price_code"],
                ["period_end", "quantity", "amount_minor", "invoice_id", "billed_at"],
            ),
            {
                "tenant_id": tenant_id,
                "subscription_id": subscription_id,
                "period_start": billed.period_start,
                "price_code": billed.price_code,
                "period_end": billed.period_end,
                "quantity": billed.quantity,
                "amount_minor": billed.amount_minor,
                "invoice_id": billed.invoice_id,
                "billed_at": billed.billed_at,
            },
        )


def _latest_of(
    tenant_id: str, subscription_id: str, spec: MetricSpec, before: datetime
) -> Select[Any]:
    """The metric's events before `before`, as corrected and filtered, ranked latest first
    within each group (rank 1: the level the next period starts at)."""
    c = usage_events.alias("c")
    corrections_of_u = and_(c.c.tenant_id == u.c.tenant_id, c.c.corrects == u.c.id)
    amended = (
        select(c.c.properties)
        .where(corrections_of_u, c.c.correction == "amend")
        .order_by(c.c.received_at.desc(), c.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    properties = type_coerce(func.coalesce(amended, u.c.properties), u.c.properties.type)

    def value(name: str) -> Any:  # a missing property reads as "", as the domain reads it
        return func.coalesce(properties[name].as_string(), "")

    return select(
        u.c.id,
        u.c.subscription_id,
        u.c.metric,
        u.c.ts,
        properties.label("properties"),
        u.c.received_at,
        func.row_number()
        .over(
            partition_by=[value(name) for name in spec.group_by] or None,
            order_by=(u.c.ts.desc(), u.c.id.desc()),
        )
        .label("rank"),
    ).where(
        u.c.tenant_id == tenant_id,
        u.c.subscription_id == subscription_id,
        u.c.metric == spec.code,
        u.c.ts < before,
        u.c.corrects.is_(None),
        ~exists().where(corrections_of_u, c.c.correction == "void"),
        *(value(name) == wanted for name, wanted in (spec.filters or {}).items()),
    )


def _properties(raw: Any) -> dict[str, str]:
    # Through a union the JSON type can be lost on SQLite: the text is then parsed here.
    return dict(json.loads(raw) if isinstance(raw, str) else raw)


def _values(tenant_id: str, key: _Key, group: Group | None, row: _Stored) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "subscription_id": key.subscription_id,
        "metric": key.metric,
        "bucket": key.bucket,
        "spec": key.spec,
        "group_key": key.group_key,
        "group_values": None if group is None else list(group),
        "count": row.count,
        "total": row.total,
        "peak": row.peak,
        "peak_stale": row.peak_stale,
    }
