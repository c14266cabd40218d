"""Many due items' rows in one statement each: what a batch of renewals reads ahead before
its items run and writes behind once they have all run (`app/due_batch.py`).

A bill run renews thousands of subscriptions with the same handful of statements each; one
transaction per item made that a dozen round trips and a commit per invoice. Here each kind
of row is read or written for the whole batch at once, so a batch of 50 renewals costs about
as many statements as one did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import CursorResult

from billing.app.hot_cache import Changes
from billing.app.ports import BilledUsage, DueItem
from billing.app.records import OutboxEvent
from billing.domain.invoices import Invoice
from billing.domain.subscriptions import Subscription
from billing.domain.tax_ledger import TaxEntry
from billing.store.batch import BatchedConnection
from billing.store.billing import _invoice_row, _subscription_row, invoice_line_rows
from billing.store.dialect import insert_or_ignore
from billing.store.due_work import due_row
from billing.store.number_last import format_parts, formatted_number
from billing.store.records import event_row
from billing.store.schema import (
    billing_cycles,
    customer_credit,
    due_work,
    invoice_lines,
    invoices,
    outbox_events,
    pending_items,
    subscriptions,
    tax_ledger,
    usage_billed,
)
from billing.store.tax_ledger import INSERT_ENTRY, entry_row
from billing.store.usage import billed_usage

d, s, b, c = due_work, subscriptions, billing_cycles, customer_credit

# Compare-and-set of one subscription, sent for the whole batch as one executemany (psycopg
# pipelines it: one round trip); the summed row count tells whether every one was still at
# the version its item read. Every column but the tenant is written, as `update` does.
_SUBSCRIPTION_COLUMNS = [column.name for column in s.columns if column.name != "tenant_id"]
_UPDATE_SUBSCRIPTION = (
    update(s)
    .where(
        s.c.tenant_id == bindparam("p_tenant"),
        s.c.id == bindparam("p_id"),
        s.c.version == bindparam("p_expected"),
    )
    .values({name: bindparam(f"v_{name}", type_=s.c[name].type) for name in _SUBSCRIPTION_COLUMNS})
)


_PG_DIALECT: Any = postgresql.dialect()  # type: ignore[no-untyped-call]
_COLLATION = re.compile(r' COLLATE "[^"]*"')


def _pg_array_type(table: Table, name: str) -> str:
    """The column's type as an array cast: `VARCHAR(40)[]`, without the key's collation
    (ADR 0074), which a cast cannot hold; the insert gives the values the column's own."""
    element = table.c[name].type.compile(dialect=_PG_DIALECT)
    return f"{_COLLATION.sub('', element)}[]"


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _unnest(table: Table, names: Sequence[str], extra: str = "") -> str:
    """`unnest(...) AS v(names)`: a column of rows per parameter, one array each. On
    PostgreSQL a batch's rows go as a few arrays in one short statement: no multi-row
    statement text to build, send and parse for every batch."""
    # Binary parameters (%b): psycopg's text format quotes every element with a regex.
    arrays = ", ".join(f"%({name})b::{_pg_array_type(table, name)}" for name in names)
    aliases = ", ".join(f'"{name}"' for name in names)
    if extra:  # one more array, of an INTEGER column the table does not have
        arrays, aliases = f"%({extra})b::INTEGER[], {arrays}", f'"{extra}", {aliases}'
    return f"unnest({arrays}) AS v({aliases})"


def _unnest_insert(table: Table, names: Sequence[str], tail: str = "") -> str:
    columns = ", ".join(f'"{name}"' for name in names)
    return (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {_unnest(table, names)} "
        + tail
    )


def _columns(
    table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """The rows as one list per column, JSON columns as JSON text."""
    columns: dict[str, list[Any]] = {}
    for name in names:
        values = [row[name] for row in rows]
        if _is_json(table, name):
            values = [None if v is None else json.dumps(v) for v in values]
        columns[name] = values
    return columns


_INVOICE_NAMES = [column.name for column in invoices.columns]
_NUMBERED_NAMES = [
    name for name in _INVOICE_NAMES if name not in {"number", "number_format", "number_year"}
]
_LINE_NAMES = [column.name for column in invoice_lines.columns]
_DUE_NAMES = [
    "tenant_id",
    "id",
    "kind",
    "subscription_id",
    "clock_id",
    "due_at",
    "payload",
    "attempts",
]
_PG_INSERT_INVOICES = _unnest_insert(invoices, _INVOICE_NAMES)
_PG_INSERT_LINES = _unnest_insert(invoice_lines, _LINE_NAMES)
_PG_SCHEDULE = _unnest_insert(
    due_work, _DUE_NAMES, "ON CONFLICT (tenant_id, subscription_id, kind, due_at) DO NOTHING"
)
# Numbered as they are inserted: the counter row bumped by the batch's count and each invoice
# given base + its ordinal, formatted as domain.invoices.format_number does ({seq} or
# {seq:0Nd}: zero-padded to N, never cut). The counter stays locked from this statement to
# the commit, so it is the batch's last statement.
_NUMBERED_COLUMNS = ", ".join(f'"{name}"' for name in _NUMBERED_NAMES)
_NUMBERED_VALUES = ", ".join(f'v."{name}"' for name in _NUMBERED_NAMES)
_NUMBERED_ROWS = _unnest(invoices, _NUMBERED_NAMES).replace(
    ") AS v(", ") WITH ORDINALITY AS v(", 1
)[:-1]  # and the ordinal, below
_PG_INSERT_NUMBERED = (
    "WITH c AS ("
    " INSERT INTO number_counters AS n (tenant_id, series, year, last)"
    " VALUES (%(p_tenant)s, 'invoice', %(p_year)s, %(p_count)s)"
    " ON CONFLICT (tenant_id, series, year) DO UPDATE SET last = n.last + %(p_count)s"
    " RETURNING last - %(p_count)s AS base)"
    f" INSERT INTO invoices ({_NUMBERED_COLUMNS}, number)"
    f" SELECT {_NUMBERED_VALUES},"
    f" {formatted_number('(c.base + v.ord)')}"
    f" FROM {_NUMBERED_ROWS}, ord), c"
)

_EVENT_NAMES = ["tenant_id", "id", "event_type", "resource_name", "payload", "occurred_at", "shard"]
_PG_INSERT_EVENTS = _unnest_insert(outbox_events, _EVENT_NAMES)
_LEDGER_NAMES = [column.name for column in tax_ledger.columns]
_PG_INSERT_LEDGER = _unnest_insert(tax_ledger, _LEDGER_NAMES)
_CYCLE_NAMES = ["tenant_id", "subscription_id", "cycle_start", "invoice_id"]
_PG_CLAIM_CYCLES = _unnest_insert(
    billing_cycles,
    _CYCLE_NAMES,
    "ON CONFLICT (tenant_id, subscription_id, cycle_start) DO NOTHING RETURNING subscription_id",
)
_PG_UPDATE_SUBSCRIPTIONS = (
    "UPDATE subscriptions AS s SET "
    + ", ".join(f'"{name}" = v."{name}"' for name in _SUBSCRIPTION_COLUMNS if name != "id")
    + f" FROM {_unnest(s, _SUBSCRIPTION_COLUMNS, extra='p_expected')}"
    + " WHERE s.tenant_id = %(p_tenant)s AND s.id = v.id AND s.version = v.p_expected"
    + " RETURNING s.id"
)

_PG_TAKEN_CYCLES = (
    "SELECT b.subscription_id, b.cycle_start FROM "
    + _unnest(billing_cycles, ["subscription_id", "cycle_start"])
    + " JOIN billing_cycles AS b ON b.tenant_id = %(tenant_id)s"
    " AND b.subscription_id = v.subscription_id AND b.cycle_start = v.cycle_start"
)


class SqlDueBatch:
    def __init__(self, conn: BatchedConnection, changes: Changes | None = None) -> None:
        self._conn = conn  # its deferred writes go first, as for every read and write here
        self._changes = Changes() if changes is None else changes  # for the hot cache
        self._pg = conn.dialect.name == "postgresql"
        self.added_events: list[OutboxEvent] = []  # told to the store's observer after commit

    async def _driver(self, sql: str, params: Mapping[str, Any]) -> CursorResult[Any]:
        """A statement as psycopg takes it (the arrays of `unnest`), after the deferred."""
        await self._conn.flush()
        return await self._conn.raw.exec_driver_sql(sql, params)

    @property
    def numbers_at_commit(self) -> bool:
        """Whether an invoice marked with its number format is numbered by the database as
        the transaction commits (PostgreSQL, migration 0010)."""
        return self._conn.dialect.name == "postgresql"

    async def complete(self, items: Sequence[DueItem], owner: str, at: datetime) -> set[str]:
        """Mark done the items whose lease is still `owner`'s; returns their ids."""
        ids = [item.id for item in items]
        rows = await self._conn.execute(
            update(d)
            .where(
                d.c.tenant_id == items[0].tenant_id,
                d.c.id.in_(ids),
                d.c.lease_owner == owner,
                d.c.done_at.is_(None),
            )
            .values(done_at=at, lease_owner=None, lease_until=None)
            .returning(d.c.id)
        )
        return {row.id for row in rows}

    async def taken_cycles(
        self, tenant_id: str, cycles: Iterable[tuple[str, datetime]]
    ) -> set[tuple[str, datetime]]:
        """Which of these (subscription, cycle start) rows exist already."""
        wanted = set(cycles)
        if not wanted:
            return set()
        if self._pg:
            # Each pair looked up by the primary key. As two IN lists, PostgreSQL (its
            # statistics behind a growing table) took the key's first and last columns and
            # filtered every subscription of that cycle start: 100 ms a batch half way
            # through a 100,000-subscription run, and more as it grew.
            pairs = sorted(wanted)
            found = await self._driver(
                _PG_TAKEN_CYCLES,
                {
                    "tenant_id": tenant_id,
                    "subscription_id": [sub for sub, _ in pairs],
                    "cycle_start": [start for _, start in pairs],
                },
            )
            return {(row.subscription_id, row.cycle_start) for row in found} & wanted
        rows = await self._conn.execute(
            select(b.c.subscription_id, b.c.cycle_start).where(
                b.c.tenant_id == tenant_id,
                b.c.subscription_id.in_(sorted({sub for sub, _ in wanted})),
                b.c.cycle_start.in_(sorted({start for _, start in wanted})),
            )
        )
        return {(row.subscription_id, row.cycle_start) for row in rows} & wanted

    async def with_pending_items(self, tenant_id: str, subscription_ids: Sequence[str]) -> set[str]:
        """The subscriptions among these with uninvoiced pending items."""
        p = pending_items
        rows = await self._conn.execute(
            select(p.c.subscription_id)
            .distinct()
            .where(
                p.c.tenant_id == tenant_id,
                p.c.subscription_id.in_(list(subscription_ids)),
                p.c.invoice_id.is_(None),
            )
        )
        return {row.subscription_id for row in rows}

    async def billed_usage(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> dict[str, list[BilledUsage]]:
        """Each subscription's billed usage periods (none: an empty list)."""
        u = usage_billed
        found: dict[str, list[BilledUsage]] = {sub: [] for sub in subscription_ids}
        rows = await self._conn.execute(
            select(u).where(
                u.c.tenant_id == tenant_id, u.c.subscription_id.in_(list(subscription_ids))
            )
        )
        for row in rows:
            found[row.subscription_id].append(billed_usage(row))
        return found

    async def credit_balances(
        self, tenant_id: str, accounts: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Balances of these (customer, currency) accounts, locked for the transaction as
        each finalized invoice reads them (in key order, so batches never deadlock on them);
        an account without a row has 0."""
        wanted = sorted(set(accounts))
        found = dict.fromkeys(wanted, 0)
        if not wanted:
            return found
        rows = await self._conn.execute(
            select(c.c.customer_id, c.c.currency, c.c.balance_minor)
            .where(
                c.c.tenant_id == tenant_id,
                tuple_(c.c.customer_id, c.c.currency).in_(wanted),
            )
            .order_by(c.c.customer_id, c.c.currency)
            .with_for_update()
        )
        for row in rows:
            found[(row.customer_id, row.currency)] = int(row.balance_minor)
        return found

    async def claim_cycles(
        self, tenant_id: str, cycles: Sequence[tuple[str, datetime, str]]
    ) -> bool:
        """Insert these (subscription, cycle start, invoice) rows; True only if every one was
        new (another writer's row makes the whole batch run again, item by item)."""
        if not cycles:
            return True
        if self._pg:
            inserted = await self._driver(
                _PG_CLAIM_CYCLES,
                {
                    "tenant_id": [tenant_id] * len(cycles),
                    "subscription_id": [sub for sub, _, _ in cycles],
                    "cycle_start": [start for _, start, _ in cycles],
                    "invoice_id": [invoice for _, _, invoice in cycles],
                },
            )
            return len(inserted.all()) == len(cycles)
        rows = await self._conn.execute(
            insert_or_ignore(
                self._conn.dialect.name, b, ["tenant_id", "subscription_id", "cycle_start"]
            ).returning(b.c.subscription_id),
            [
                {
                    "tenant_id": tenant_id,
                    "subscription_id": sub,
                    "cycle_start": start,
                    "invoice_id": invoice_id,
                }
                for sub, start, invoice_id in cycles
            ],
        )
        return len(rows.all()) == len(cycles)

    async def update_subscriptions(
        self, tenant_id: str, updates: Sequence[tuple[Subscription, int]]
    ) -> bool:
        """Compare-and-set each (subscription, expected version); True only if all were set."""
        if not updates:
            return True
        for sub, _ in updates:
            self._changes.customer(tenant_id, sub.customer_id)
            self._changes.subscription(tenant_id, sub.id)
        if self._pg:
            rows = [_subscription_row(sub) for sub, _ in updates]
            params: dict[str, Any] = _columns(s, _SUBSCRIPTION_COLUMNS, rows)
            params.update(p_tenant=tenant_id, p_expected=[expected for _, expected in updates])
            updated = await self._driver(_PG_UPDATE_SUBSCRIPTIONS, params)
            return len(updated.all()) == len(updates)
        result = await self._conn.execute(
            _UPDATE_SUBSCRIPTION,
            [
                {
                    "p_tenant": tenant_id,
                    "p_id": sub.id,
                    "p_expected": expected,
                    **{f"v_{name}": value for name, value in _subscription_row(sub).items()},
                }
                for sub, expected in updates
            ],
        )
        return result.rowcount == len(updates)

    async def insert_invoices(
        self, tenant_id: str, rows: Sequence[tuple[Invoice, str | None, int | None]]
    ) -> None:
        """Insert (invoice, number format, number year) rows and their lines. On PostgreSQL
        the invoices with a number format are numbered in the same statement, which locks
        the counter row to the commit: make it the transaction's last."""
        if not rows:
            return
        if self._pg:
            # Lines first: the numbered invoices are the last statement (see above).
            line_rows = [r for invoice, _, _ in rows for r in invoice_line_rows(tenant_id, invoice)]
            if line_rows:
                await self._driver(
                    _PG_INSERT_LINES, _columns(invoice_lines, _LINE_NAMES, line_rows)
                )
            plain = [invoice for invoice, number_format, _ in rows if number_format is None]
            if plain:
                invoice_rows = [
                    {"tenant_id": tenant_id, "id": invoice.id, **_invoice_row(invoice)}
                    for invoice in plain
                ]
                for row in invoice_rows:
                    row.update(number_format=None, number_year=None)
                await self._driver(
                    _PG_INSERT_INVOICES, _columns(invoices, _INVOICE_NAMES, invoice_rows)
                )
            series: dict[tuple[int, str], list[Invoice]] = {}
            for invoice, number_format, number_year in rows:
                if number_format is not None and number_year is not None:
                    series.setdefault((number_year, number_format), []).append(invoice)
            for (year, number_format), numbered in sorted(series.items()):
                await self._insert_numbered(tenant_id, year, number_format, numbered)
            return
        await self._conn.execute(
            invoices.insert(),
            [
                {
                    "tenant_id": tenant_id,
                    "id": invoice.id,
                    **_invoice_row(invoice),
                    "number_format": number_format,
                    "number_year": number_year,
                }
                for invoice, number_format, number_year in rows
            ],
        )
        lines = [row for invoice, _, _ in rows for row in invoice_line_rows(tenant_id, invoice)]
        if lines:
            await self._conn.execute(invoice_lines.insert(), lines)

    async def schedule(self, items: Sequence[DueItem]) -> None:
        """Add the items, each unless its (subscription, kind, due time) is already there."""
        if not items:
            return
        if self._pg:
            due_rows = [due_row(item) for item in items]
            await self._driver(_PG_SCHEDULE, _columns(d, _DUE_NAMES, due_rows))
            return
        await self._conn.execute(
            insert_or_ignore(
                self._conn.dialect.name, d, ["tenant_id", "subscription_id", "kind", "due_at"]
            ),
            [due_row(item) for item in items],
        )

    async def _insert_numbered(
        self, tenant_id: str, year: int, number_format: str, numbered: Sequence[Invoice]
    ) -> None:
        parts = format_parts(number_format)
        invoice_rows = [
            {"tenant_id": tenant_id, "id": invoice.id, **_invoice_row(invoice)}
            for invoice in numbered
        ]
        params: dict[str, Any] = _columns(invoices, _NUMBERED_NAMES, invoice_rows)
        params.update(
            p_tenant=tenant_id,
            p_year=year,
            p_count=len(numbered),
            **parts,
        )
        await self._driver(_PG_INSERT_NUMBERED, params)

    async def add_events(self, events: Sequence[OutboxEvent]) -> None:
        """The batch's outbox events, in one statement."""
        if not events:
            return
        rows = [event_row(event) for event in events]
        self.added_events.extend(events)
        if self._pg:
            await self._driver(_PG_INSERT_EVENTS, _columns(outbox_events, _EVENT_NAMES, rows))
        else:
            await self._conn.execute(outbox_events.insert(), rows)

    async def add_tax_entries(self, tenant_id: str, entries: Sequence[TaxEntry]) -> None:
        """The batch's tax ledger rows: on PostgreSQL one statement of arrays (as a deferred
        write they were one INSERT per row, each quoted and parsed on its own); elsewhere
        deferred, as the ledger repository writes them."""
        if not entries:
            return
        rows = [entry_row(tenant_id, entry) for entry in entries]
        if self._pg:
            await self._driver(_PG_INSERT_LEDGER, _columns(tax_ledger, _LEDGER_NAMES, rows))
        else:
            self._conn.defer(INSERT_ENTRY, rows)
