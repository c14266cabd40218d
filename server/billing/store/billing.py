"""Rows of subscriptions, invoices, pending items, billing cycles, credit and clocks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from billing.app.hot_cache import Changes
from billing.app.ports import LastNumber, NumberStamps
from billing.app.ports import SimulationClock as ClockRow
from billing.domain.invoices import CreditNote, Invoice, InvoiceHead, InvoiceStatus
from billing.domain.money import Money
from billing.domain.subscriptions import (
    MeteredSubscription,
    PendingChange,
    Settlement,
    Status,
    Subscription,
    item_from_dict,
    item_to_dict,
    line_from_dict,
    line_to_dict,
    phase_from_dict,
    phase_to_dict,
)
from billing.domain.tax_ledger import tax_amount_from_dict, tax_amount_to_dict
from billing.store.batch import BatchedConnection
from billing.store.dialect import dialect_insert, insert_or_ignore, upsert
from billing.store.number_last import (
    NUMBER_LAST,
    format_parts,
    numbered_insert,
    numbered_insert_params,
    stamp_params,
)
from billing.store.schema import (
    billing_cycles,
    clocks,
    credit_notes,
    customer_credit,
    customers,
    invoice_lines,
    invoices,
    number_counters,
    pending_items,
    subscriptions,
)

s = subscriptions
_GET_SUBSCRIPTION = select(s).where(s.c.tenant_id == bindparam("t"), s.c.id == bindparam("id"))
GET_SUBSCRIPTION_LOCKED = _GET_SUBSCRIPTION.with_for_update()
_SUBSCRIPTION_COLUMNS = tuple(c.name for c in s.columns)
# Blind writes are deferred (store/batch.py) and compiled once per shape: module constants.
_INSERT_SUBSCRIPTION = insert(s)
_INSERT_INVOICE = insert(invoices)
_INSERT_LINE = insert(invoice_lines)
_INSERT_PENDING = insert(pending_items)
_INSERT_CYCLE = insert(billing_cycles)
# Read on every call of their use case: built once, parameters bound at execution (building
# a statement per call cost more CPU than sending it).
_UPDATE_SUBSCRIPTION = update(subscriptions).where(
    subscriptions.c.tenant_id == bindparam("b_tenant"),
    subscriptions.c.id == bindparam("b_id"),
    subscriptions.c.version == bindparam("b_version"),
)
_GET_INVOICE = select(invoices).where(
    invoices.c.tenant_id == bindparam("t"), invoices.c.id == bindparam("id")
)
GET_INVOICE_LOCKED = _GET_INVOICE.with_for_update()
_INVOICE_COLUMNS = tuple(c.name for c in invoices.columns)
_LINE_COLUMNS = tuple(c.name for c in invoice_lines.columns)
_HEAD_COLUMNS = (
    invoices.c.id,
    invoices.c.customer_id,
    invoices.c.subscription_id,
    invoices.c.currency,
    invoices.c.status,
    invoices.c.amount_due_minor,
    invoices.c.paid_minor,
    invoices.c.number,
)
_GET_HEAD = select(*_HEAD_COLUMNS).where(
    invoices.c.tenant_id == bindparam("t"), invoices.c.id == bindparam("id")
)
_GET_HEAD_LOCKED = _GET_HEAD.with_for_update()
_SET_NUMBER = (
    update(invoices)
    .where(invoices.c.tenant_id == bindparam("b_tenant"), invoices.c.id == bindparam("b_id"))
    .values(number=bindparam("b_number"))
)
# A draft this transaction holds locked, rewritten (its columns bound by name, as in
# `replace`); deferred: the lock leaves nothing for a compare-and-set to find.
_REPLACE_LOCKED_DRAFT = update(invoices).where(
    invoices.c.tenant_id == bindparam("b_tenant"),
    invoices.c.id == bindparam("b_id"),
    invoices.c.version == bindparam("b_version"),
)
_DELETE_LINES = delete(invoice_lines).where(
    invoice_lines.c.tenant_id == bindparam("b_tenant"),
    invoice_lines.c.invoice_id == bindparam("b_invoice"),
)
GET_LINES = (
    select(invoice_lines)
    .where(
        invoice_lines.c.tenant_id == bindparam("t"), invoice_lines.c.invoice_id == bindparam("id")
    )
    .order_by(invoice_lines.c.line_no)
)
_LINES_OF = (
    select(invoice_lines)
    .where(
        invoice_lines.c.tenant_id == bindparam("t"),
        invoice_lines.c.invoice_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(invoice_lines.c.invoice_id, invoice_lines.c.line_no)
)
_LIST_FILTERS = ("customer", "subscription", "after", "ending_after")


def _filters_of(shape: tuple[bool, ...]) -> tuple[str, ...]:
    return tuple(name for name, used in zip(_LIST_FILTERS, shape, strict=True) if used)


def _list_invoices(shape: tuple[bool, ...]) -> Select[Any]:
    """The invoice listing with the filters `shape` says are given (one statement per shape)."""
    query = (
        select(invoices)
        .where(invoices.c.tenant_id == bindparam("t"))
        .order_by(invoices.c.id)
        .limit(bindparam("limit"))
    )
    conditions = {
        "customer": invoices.c.customer_id == bindparam("customer"),
        "subscription": invoices.c.subscription_id == bindparam("subscription"),
        "after": invoices.c.id > bindparam("after"),
        "ending_after": invoices.c.period_end > bindparam("ending_after"),
    }
    for name in _filters_of(shape):
        query = query.where(conditions[name])
    return query


_LIST_INVOICES: dict[tuple[bool, ...], Select[Any]] = {}
_PEEK_PENDING = (
    select(pending_items.c.line)
    .where(
        pending_items.c.tenant_id == bindparam("t"),
        pending_items.c.subscription_id == bindparam("sub"),
        pending_items.c.invoice_id.is_(None),
    )
    .order_by(pending_items.c.id)
)
CREDIT_BALANCE = (
    select(customer_credit.c.balance_minor)
    .where(
        customer_credit.c.tenant_id == bindparam("t"),
        customer_credit.c.customer_id == bindparam("customer"),
        customer_credit.c.currency == bindparam("currency"),
    )
    .with_for_update()  # the invoice that reads it also writes it
)
_SET_CREDIT = {
    name: upsert(name, customer_credit, ["tenant_id", "customer_id", "currency"], ["balance_minor"])
    for name in ("postgresql", "sqlite")
}
_GET_CLOCK = select(clocks).where(
    clocks.c.tenant_id == bindparam("t"), clocks.c.id == bindparam("id")
)
_GET_CLOCK_LOCKED = _GET_CLOCK.with_for_update()
# The unlocked read on the lean path (`fetch`); `clock_of` also finds it through the row that
# points at it, for the reads ahead of a write (ADR 0069).
_CLOCK_COLUMNS = (clocks.c.id, clocks.c.display_name, clocks.c.now, clocks.c.created_at)


def clock_of(clock_id: Any) -> Select[Any]:
    """The tenant's clock whose id `clock_id` gives: a parameter, or a scalar subquery
    through the row that points at it."""
    return select(*_CLOCK_COLUMNS).where(
        clocks.c.tenant_id == bindparam("t"), clocks.c.id == clock_id
    )


CLOCK = clock_of(bindparam("id"))
_CLAIM_CYCLE = {
    name: insert_or_ignore(
        name, billing_cycles, ["tenant_id", "subscription_id", "cycle_start"]
    ).returning(billing_cycles.c.cycle_start)
    for name in ("postgresql", "sqlite")
}
_MARK_NUMBER_AT_COMMIT = (
    update(invoices)
    .where(invoices.c.tenant_id == bindparam("t"), invoices.c.id == bindparam("invoice_id"))
    .values(number_format=bindparam("number_format"), number_year=bindparam("number_year"))
)


def _subscription_row(sub: Subscription) -> dict[str, Any]:
    change = sub.pending_change
    return {
        "id": sub.id,
        "customer_id": sub.customer_id,
        "plan_code": sub.plan_code,
        "currency": sub.currency,
        "status": sub.status.value,
        "items": [item_to_dict(i) for i in sub.items],
        "anchor": sub.anchor,
        "interval": sub.interval,
        "interval_count": sub.interval_count,
        "time_zone": sub.time_zone,
        "period_start": sub.period_start,
        "period_end": sub.period_end,
        "trial_end": sub.trial_end,
        "cancel_at": sub.cancel_at,
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": sub.canceled_at,
        "paused_at": sub.paused_at,
        "pending_change": None
        if change is None
        else {
            "plan_code": change.plan_code,
            "items": [item_to_dict(i) for i in change.items],
            "effective_at": change.effective_at.isoformat(),
        },
        "term_end": sub.term_end,
        "auto_renew": sub.auto_renew,
        "phases": [phase_to_dict(p) for p in sub.phases],
        "discount": {"coupon": sub.coupon_code, "left": sub.coupon_periods_left}
        if sub.coupon_code
        else None,
        "clock_id": sub.clock_id,
        "anchor_day": sub.anchor_day,
        "first_stub": sub.first_stub,
        "base_subscription_id": sub.base_subscription_id,
        "rule_set": sub.rule_set,
        "version": sub.version,
        "created_at": sub.created_at,
    }


def utc_row(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A row of `fetch` by column name: as psycopg loads it on PostgreSQL (timestamps in the
    session's zone), or as SQLAlchemy does elsewhere (already UTC); its timestamps in UTC
    either way, as `UTCDateTime` gives them."""
    return {
        name: value.astimezone(UTC) if isinstance(value, datetime) else value
        for name, value in zip(columns, values, strict=True)
    }


_METERED_COLUMNS = (
    s.c.id,
    s.c.status,
    s.c.canceled_at,
    s.c.plan_code,
    s.c.currency,
    s.c.period_start,
    s.c.clock_id,
)


def _subscription(row: RowMapping | dict[str, Any]) -> Subscription:
    change = row["pending_change"]
    return Subscription(
        id=row["id"],
        customer_id=row["customer_id"],
        plan_code=row["plan_code"],
        currency=row["currency"],
        status=Status(row["status"]),
        items=tuple(item_from_dict(i) for i in row["items"]),
        anchor=row["anchor"],
        interval=row["interval"],
        interval_count=row["interval_count"],
        time_zone=row["time_zone"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        created_at=row["created_at"],
        version=row["version"],
        rule_set=row["rule_set"],
        clock_id=row["clock_id"],
        trial_end=row["trial_end"],
        cancel_at=row["cancel_at"],
        cancel_at_period_end=row["cancel_at_period_end"],
        canceled_at=row["canceled_at"],
        paused_at=row["paused_at"],
        pending_change=None
        if change is None
        else PendingChange(
            change["plan_code"],
            tuple(item_from_dict(i) for i in change["items"]),
            datetime.fromisoformat(change["effective_at"]),
        ),
        term_end=row["term_end"],
        auto_renew=row["auto_renew"],
        phases=tuple(phase_from_dict(p) for p in row["phases"] or ()),
        coupon_code=(row["discount"] or {}).get("coupon"),
        coupon_periods_left=(row["discount"] or {}).get("left"),
        anchor_day=row["anchor_day"],
        first_stub=row["first_stub"],
        base_subscription_id=row["base_subscription_id"],
    )


class SqlSubscriptions:
    def __init__(self, conn: BatchedConnection, changes: Changes | None = None) -> None:
        self._conn = conn
        # Every write here changes what the customer's entitlements are computed from.
        self._changes = Changes() if changes is None else changes

    async def insert(self, tenant_id: str, sub: Subscription) -> None:
        self._changes.customer(tenant_id, sub.customer_id)
        self._changes.subscription(tenant_id, sub.id)
        self._conn.defer(_INSERT_SUBSCRIPTION, {"tenant_id": tenant_id, **_subscription_row(sub)})

    async def get(
        self, tenant_id: str, subscription_id: str, *, lock: bool = False
    ) -> Subscription | None:
        statement = GET_SUBSCRIPTION_LOCKED if lock else _GET_SUBSCRIPTION
        rows = await self._conn.fetch(statement, {"t": tenant_id, "id": subscription_id})
        if not rows:
            return None
        return _subscription(utc_row(_SUBSCRIPTION_COLUMNS, rows[0]))

    async def get_many(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> dict[str, Subscription]:
        if not subscription_ids:
            return {}
        rows = await self._conn.execute(
            select(s).where(s.c.tenant_id == tenant_id, s.c.id.in_(list(subscription_ids)))
        )
        return {row["id"]: _subscription(row) for row in rows.mappings()}

    async def metered_many(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> dict[str, MeteredSubscription]:
        if not subscription_ids:
            return {}
        rows = await self._conn.execute(
            select(*_METERED_COLUMNS).where(
                s.c.tenant_id == tenant_id, s.c.id.in_(list(subscription_ids))
            )
        )
        return {
            row.id: MeteredSubscription(
                row.id,
                Status(row.status),
                row.canceled_at,
                row.plan_code,
                row.currency,
                row.period_start,
                row.clock_id,
            )
            for row in rows
        }

    async def list_after(
        self, tenant_id: str, customer_id: str | None, after_id: str | None, limit: int
    ) -> list[Subscription]:
        query = select(s).where(s.c.tenant_id == tenant_id).order_by(s.c.id).limit(limit)
        if customer_id is not None:
            query = query.where(s.c.customer_id == customer_id)
        if after_id is not None:
            query = query.where(s.c.id > after_id)
        return [_subscription(row) for row in (await self._conn.execute(query)).mappings()]

    async def update(self, tenant_id: str, sub: Subscription, expected_version: int) -> bool:
        row = _subscription_row(sub)
        del row["id"]
        params = {**row, "b_tenant": tenant_id, "b_id": sub.id, "b_version": expected_version}
        self._changes.customer(tenant_id, sub.customer_id)
        self._changes.subscription(tenant_id, sub.id)
        result = await self._conn.execute(_UPDATE_SUBSCRIPTION, params)
        return result.rowcount == 1

    async def update_locked(self, tenant_id: str, sub: Subscription, expected_version: int) -> None:
        row = _subscription_row(sub)
        del row["id"]
        params = {**row, "b_tenant": tenant_id, "b_id": sub.id, "b_version": expected_version}
        self._changes.customer(tenant_id, sub.customer_id)
        self._changes.subscription(tenant_id, sub.id)
        self._conn.defer(_UPDATE_SUBSCRIPTION, params)


i, il = invoices, invoice_lines


def _invoice(
    row: RowMapping | dict[str, Any], lines: Sequence[RowMapping | dict[str, Any]]
) -> Invoice:
    return Invoice(
        id=row["id"],
        customer_id=row["customer_id"],
        subscription_id=row["subscription_id"],
        currency=row["currency"],
        status=InvoiceStatus(row["status"]),
        billing_reason=row["billing_reason"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        lines=tuple(
            line_from_dict(
                {
                    "description": ln["description"],
                    "price_code": ln["price_code"],
                    "quantity": ln["quantity"],
                    "unit_amount": ln["unit_amount"],
                    "unrounded": ln["unrounded_amount"],
                    "amount_minor": ln["amount_minor"],
                    "period_start": ln["period_start"].isoformat(),
                    "period_end": ln["period_end"].isoformat(),
                    "proration": ln["proration"],
                    "factor": ln["proration_factor"],
                    "kind": ln["kind"],
                    "derivation": ln["derivation"],
                }
            )
            for ln in lines
        ),
        settlement=Settlement(
            row["total_minor"],
            row["credit_applied_minor"],
            row["amount_due_minor"],
            0,  # the balance after is not kept on the invoice; the credit table holds it
        ),
        rule_set=row["rule_set"],
        created_at=row["created_at"],
        finalized_at=row["finalized_at"],
        version=row["version"],
        number=row["number"],
        memo=row["memo"] or "",
        paid_at=row["paid_at"],
        voided_at=row["voided_at"],
        uncollectible_at=row["uncollectible_at"],
        payment_reference=row["payment_reference"] or "",
        credited_minor=row["credited_minor"] or 0,
        due_at=row["due_at"],
        coupon_code=row["coupon_code"],
        paid_minor=row["paid_minor"] or 0,
    )


def _invoice_row(invoice: Invoice) -> dict[str, Any]:
    """The invoice's columns but its keys (the numbering-at-commit ones left alone)."""
    st = invoice.settlement
    return {
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "currency": invoice.currency,
        "status": invoice.status.value,
        "billing_reason": invoice.billing_reason,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "total_minor": st.total_minor,
        "credit_applied_minor": st.credit_applied_minor,
        "amount_due_minor": st.amount_due_minor,
        "rule_set": invoice.rule_set,
        "created_at": invoice.created_at,
        "finalized_at": invoice.finalized_at,
        "version": invoice.version,
        "number": invoice.number,
        "memo": invoice.memo or None,
        "paid_at": invoice.paid_at,
        "voided_at": invoice.voided_at,
        "uncollectible_at": invoice.uncollectible_at,
        "payment_reference": invoice.payment_reference or None,
        "credited_minor": invoice.credited_minor,
        "due_at": invoice.due_at,
        "coupon_code": invoice.coupon_code,
        "paid_minor": invoice.paid_minor,
    }


def invoice_line_rows(tenant_id: str, invoice: Invoice) -> list[dict[str, Any]]:
    """The invoice's lines as `invoice_lines` rows, numbered from 1."""
    return [
        {
            "tenant_id": tenant_id,
            "invoice_id": invoice.id,
            "line_no": n,
            "description": line.description,
            "price_code": line.price_code,
            "quantity": str(line.quantity),
            "unit_amount": str(line.unit_amount),
            "unrounded_amount": str(line.unrounded),
            "amount_minor": line.amount_minor,
            "period_start": line.period_start,
            "period_end": line.period_end,
            "proration": line.proration,
            "proration_factor": line.factor,
            "rule_set": invoice.rule_set,
            "kind": line.kind,
            "derivation": dict(line.derivation) if line.derivation else None,
        }
        for n, line in enumerate(invoice.lines, start=1)
    ]


class SqlInvoices:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, invoice: Invoice) -> None:
        row = {"tenant_id": tenant_id, "id": invoice.id, **_invoice_row(invoice)}
        # Unmarked; `SqlNumbering.number_at_commit` marks the row while it still waits, so
        # every insert has the same shape (merged by the batch, ADR 0068).
        self._conn.defer(_INSERT_INVOICE, {**row, "number_format": None, "number_year": None})
        await self._insert_lines(tenant_id, invoice)

    async def _insert_lines(self, tenant_id: str, invoice: Invoice) -> None:
        if invoice.lines:
            # One multi-row insert, not a round trip per line.
            self._conn.defer(_INSERT_LINE, invoice_line_rows(tenant_id, invoice))

    async def update_status(
        self,
        tenant_id: str,
        invoice: Invoice,
        expected_version: int,
        expected_status: InvoiceStatus,
    ) -> bool:
        """Write a finalized invoice's lifecycle fields (status, dates, reference, credit),
        compare-and-set on version and status. Lines and amounts never change after
        finalization. On PostgreSQL a concurrent setter waits for this row and then finds
        the version moved on: exactly one of them writes."""
        result = await self._conn.execute(
            update(i)
            .where(
                i.c.tenant_id == tenant_id,
                i.c.id == invoice.id,
                i.c.version == expected_version,
                i.c.status == expected_status.value,
            )
            .values(
                status=invoice.status.value,
                paid_at=invoice.paid_at,
                voided_at=invoice.voided_at,
                uncollectible_at=invoice.uncollectible_at,
                payment_reference=invoice.payment_reference or None,
                credited_minor=invoice.credited_minor,
                amount_due_minor=invoice.settlement.amount_due_minor,
                paid_minor=invoice.paid_minor,
                version=invoice.version,
            )
        )
        return result.rowcount == 1

    async def set_number(self, tenant_id: str, invoice_id: str, number: str) -> None:
        # Deferred: inline numbering holds the tenant's counter row until the commit, so this
        # write travels with the batch and the COMMIT instead of a round trip of its own.
        self._conn.defer(
            _SET_NUMBER, {"b_tenant": tenant_id, "b_id": invoice_id, "b_number": number}
        )

    async def consolidation_draft(
        self, tenant_id: str, customer_id: str, currency: str, period_start: datetime
    ) -> Invoice | None:
        """The customer's shared renewal draft for this instant, locked for the caller.
        The customer's row is locked first, so of two concurrent renewals of one customer
        exactly one finds no draft and makes it; the other waits and then finds it."""
        await self._conn.execute(
            select(customers.c.id)
            .where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
            .with_for_update()
        )
        row = (
            await self._conn.execute(
                select(i.c.id)
                .where(
                    i.c.tenant_id == tenant_id,
                    i.c.customer_id == customer_id,
                    i.c.currency == currency,
                    i.c.period_start == period_start,
                    i.c.subscription_id.is_(None),
                    i.c.status == InvoiceStatus.DRAFT.value,
                    i.c.billing_reason == "subscription_cycle",
                )
                .with_for_update()
            )
        ).first()
        return await self.get(tenant_id, row.id) if row is not None else None

    async def delete(self, tenant_id: str, invoice_id: str) -> None:
        await self._conn.execute(
            delete(il).where(il.c.tenant_id == tenant_id, il.c.invoice_id == invoice_id)
        )
        await self._conn.execute(delete(i).where(i.c.tenant_id == tenant_id, i.c.id == invoice_id))

    async def replace_locked(self, tenant_id: str, invoice: Invoice, expected_version: int) -> None:
        where = {"b_tenant": tenant_id, "b_id": invoice.id, "b_version": expected_version}
        self._conn.defer(_REPLACE_LOCKED_DRAFT, {**_invoice_row(invoice), **where})
        await self._replace_lines(tenant_id, invoice)

    async def _replace_lines(self, tenant_id: str, invoice: Invoice) -> None:
        self._conn.defer(_DELETE_LINES, {"b_tenant": tenant_id, "b_invoice": invoice.id})
        await self._insert_lines(tenant_id, invoice)

    async def replace(
        self, tenant_id: str, invoice: Invoice, expected_version: int | None = None
    ) -> bool:
        """Rewrite a draft (its lines, totals, status: finalizing is one too), compare-and-set:
        only while the stored row is still a draft (at `expected_version` if given). The row
        is updated in place, never deleted and inserted again, so a concurrent writer waits
        for it and then finds it changed, instead of deleting the other's result."""
        row = _invoice_row(invoice)
        query = update(i).where(
            i.c.tenant_id == tenant_id,
            i.c.id == invoice.id,
            i.c.status == InvoiceStatus.DRAFT.value,
        )
        if expected_version is not None:
            query = query.where(i.c.version == expected_version)
        else:
            row["version"] = i.c.version + 1  # whoever holds the old version must fail
        if (await self._conn.execute(query.values(**row))).rowcount != 1:
            return False
        await self._replace_lines(tenant_id, invoice)
        return True

    async def get(self, tenant_id: str, invoice_id: str, *, lock: bool = False) -> Invoice | None:
        names = {"t": tenant_id, "id": invoice_id}
        query = GET_INVOICE_LOCKED if lock else _GET_INVOICE
        rows = await self._conn.fetch(query, names)
        if not rows:
            return None
        lines = await self._conn.fetch(GET_LINES, names)
        return _invoice(
            utc_row(_INVOICE_COLUMNS, rows[0]), [utc_row(_LINE_COLUMNS, ln) for ln in lines]
        )

    async def head(
        self, tenant_id: str, invoice_id: str, *, lock: bool = False
    ) -> InvoiceHead | None:
        query = _GET_HEAD_LOCKED if lock else _GET_HEAD
        row = (await self._conn.execute(query, {"t": tenant_id, "id": invoice_id})).first()
        if row is None:
            return None
        return InvoiceHead(
            id=row.id,
            customer_id=row.customer_id,
            subscription_id=row.subscription_id,
            currency=row.currency,
            status=InvoiceStatus(row.status),
            amount_due_minor=row.amount_due_minor,
            paid_minor=row.paid_minor,
            number=row.number,
        )

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        subscription_id: str | None,
        after_id: str | None,
        limit: int,
        *,
        ending_after: datetime | None = None,
    ) -> list[Invoice]:
        params = {
            "t": tenant_id,
            "customer": customer_id,
            "subscription": subscription_id,
            "after": after_id,
            "ending_after": ending_after,
            "limit": limit,
        }
        shape = tuple(params[name] is not None for name in _LIST_FILTERS)
        query = _LIST_INVOICES.get(shape)
        if query is None:
            query = _LIST_INVOICES[shape] = _list_invoices(shape)
        used = {name: params[name] for name in ("t", "limit", *_filters_of(shape))}
        rows = (await self._conn.execute(query, used)).mappings().all()
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        lines = (await self._conn.execute(_LINES_OF, {"t": tenant_id, "ids": ids})).mappings().all()
        by_invoice: dict[str, list[RowMapping]] = {}
        for line in lines:
            by_invoice.setdefault(line["invoice_id"], []).append(line)
        return [_invoice(row, by_invoice.get(row["id"], [])) for row in rows]


p = pending_items


class SqlPendingItems:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def add(
        self,
        tenant_id: str,
        *,
        item_id: str,
        subscription_id: str,
        line: Any,
        rule_set: str,
        created_at: datetime,
    ) -> None:
        self._conn.defer(
            _INSERT_PENDING,
            {
                "tenant_id": tenant_id,
                "id": item_id,
                "subscription_id": subscription_id,
                "line": line_to_dict(line),
                "rule_set": rule_set,
                "created_at": created_at,
            },
        )

    async def peek(self, tenant_id: str, subscription_id: str) -> list[Any]:
        rows = (
            await self._conn.execute(_PEEK_PENDING, {"t": tenant_id, "sub": subscription_id})
        ).all()
        return [line_from_dict(r.line) for r in rows]

    async def take(self, tenant_id: str, subscription_id: str, invoice_id: str) -> list[Any]:
        """The subscription's uninvoiced items, in creation order, now marked invoiced."""
        rows = (
            await self._conn.execute(
                select(p.c.id, p.c.line)
                .where(
                    p.c.tenant_id == tenant_id,
                    p.c.subscription_id == subscription_id,
                    p.c.invoice_id.is_(None),
                )
                .order_by(p.c.id)
            )
        ).all()
        if rows:
            await self._conn.execute(
                update(p)
                .where(p.c.tenant_id == tenant_id, p.c.id.in_([r.id for r in rows]))
                .values(invoice_id=invoice_id)
            )
        return [line_from_dict(r.line) for r in rows]


class SqlBillingCycles:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def claim(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> bool:
        """Insert the cycle's row; True only for the caller that inserted it."""
        result = await self._conn.execute(
            _CLAIM_CYCLE[self._conn.dialect.name],
            {
                "tenant_id": tenant_id,
                "subscription_id": subscription_id,
                "cycle_start": cycle_start,
                "invoice_id": invoice_id,
            },
        )
        return result.first() is not None

    async def record_first(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> None:
        self._conn.defer(
            _INSERT_CYCLE,
            {
                "tenant_id": tenant_id,
                "subscription_id": subscription_id,
                "cycle_start": cycle_start,
                "invoice_id": invoice_id,
            },
        )

    async def record_invoice(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> None:
        b = billing_cycles
        await self._conn.execute(
            update(b)
            .where(
                b.c.tenant_id == tenant_id,
                b.c.subscription_id == subscription_id,
                b.c.cycle_start == cycle_start,
            )
            .values(invoice_id=invoice_id)
        )


class SqlCredit:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def balance(self, tenant_id: str, customer_id: str, currency: str) -> int:
        params = {"t": tenant_id, "customer": customer_id, "currency": currency}
        rows = await self._conn.fetch(CREDIT_BALANCE, params)
        return int(rows[0][0]) if rows else 0

    async def set_balance(
        self, tenant_id: str, customer_id: str, currency: str, balance_minor: int
    ) -> None:
        self._conn.defer(
            _SET_CREDIT[self._conn.dialect.name],
            {
                "tenant_id": tenant_id,
                "customer_id": customer_id,
                "currency": currency,
                "balance_minor": balance_minor,
            },
        )


k = clocks


class SqlClocks:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, clock: ClockRow) -> None:
        await self._conn.execute(
            insert(k),
            {
                "tenant_id": tenant_id,
                "id": clock.id,
                "display_name": clock.display_name,
                "now": clock.now,
                "created_at": clock.created_at,
            },
        )

    async def get(
        self, tenant_id: str, clock_id: str, *, for_update: bool = False
    ) -> ClockRow | None:
        if not for_update:
            rows = await self._conn.fetch(CLOCK, {"t": tenant_id, "id": clock_id})
            if not rows:
                return None
            id_, display_name, now, created_at = rows[0]
            return ClockRow(id_, display_name, now.astimezone(UTC), created_at.astimezone(UTC))
        row = (
            (await self._conn.execute(_GET_CLOCK_LOCKED, {"t": tenant_id, "id": clock_id}))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return ClockRow(row["id"], row["display_name"], row["now"], row["created_at"])

    async def set_now(self, tenant_id: str, clock_id: str, now: datetime) -> None:
        await self._conn.execute(
            update(k).where(k.c.tenant_id == tenant_id, k.c.id == clock_id).values(now=now)
        )


class SqlNumbering:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def next(self, tenant_id: str, series: str, year: int) -> int:
        """The next number of the series for the year. The counter row stays locked until
        the transaction ends, so numbers are handed out in commit order, without gaps.
        The transaction's deferred writes then travel with its COMMIT, one round trip."""
        n = number_counters
        insert_ = dialect_insert(self._conn.dialect.name, n)
        statement = insert_.values(tenant_id=tenant_id, series=series, year=year, last=1)
        statement = statement.on_conflict_do_update(
            index_elements=[n.c.tenant_id, n.c.series, n.c.year], set_={"last": n.c.last + 1}
        ).returning(n.c.last)
        return int((await self._conn.execute(statement)).scalar_one())

    async def number_last(
        self, tenant_id: str, invoice_id: str, year: int, number_format: str, stamps: NumberStamps
    ) -> LastNumber | None:
        """PostgreSQL: one statement at the end of the batch, sent with the COMMIT, numbers
        the invoice, writes the audit record and stamps the stored result
        (store/number_last.py). SQLite has one writer at
        a time: nothing to gain, so the caller numbers inline."""
        if self._conn.dialect.name != "postgresql":
            return None
        numbered = LastNumber()

        def receive(rows: list[tuple[Any, ...]]) -> None:
            numbered.value = str(rows[0][0])

        params = {
            "p_tenant": tenant_id,
            "p_year": year,
            "p_invoice": invoice_id,
            **stamp_params(stamps),
            **format_parts(number_format),
        }
        self._conn.last(NUMBER_LAST, params, receive)
        return numbered

    async def number_at_commit(
        self, tenant_id: str, invoice_id: str, year: int, number_format: str
    ) -> bool:
        """PostgreSQL: mark the invoice; the deferred trigger `invoices_number_at_commit`
        (migration 0010) numbers it at commit, holding the counter row only through the
        commit. SQLite has one writer at a time: nothing to gain, so the caller numbers."""
        if self._conn.dialect.name != "postgresql":
            return False
        waiting = self._conn.batch.waiting_row(_INSERT_INVOICE, tenant_id=tenant_id, id=invoice_id)
        if waiting is not None:
            # Not inserted yet: numbered by its own insert, moved to the end of the batch,
            # when nothing else waiting names the invoices (ADR 0070). Otherwise inserted
            # marked, for the trigger (which fires on the insert too).
            waiting.update(number_format=number_format, number_year=year)
            self._conn.batch.hold_last(
                _INSERT_INVOICE,
                waiting,
                numbered_insert,
                numbered_insert_params(tenant_id, year, number_format),
                one_plan=True,  # the counter upserted on its key, then a one-row insert
            )
            return True
        self._conn.defer(
            _MARK_NUMBER_AT_COMMIT,
            {
                "t": tenant_id,
                "invoice_id": invoice_id,
                "number_format": number_format,
                "number_year": year,
            },
        )
        return True


class SqlCreditNotes:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, note: CreditNote) -> None:
        await self._conn.execute(
            insert(credit_notes),
            {
                "tenant_id": tenant_id,
                "id": note.id,
                "invoice_id": note.invoice_id,
                "customer_id": note.customer_id,
                "number": note.number,
                "currency": note.amount.currency_code,
                "amount_minor": note.amount.amount_minor,
                "reason": note.reason,
                "lines": [],
                "applied_to": note.applied_to,
                "created_at": note.created_at,
                "tax_minor": note.tax_minor,
                "taxes": [tax_amount_to_dict(t) for t in note.taxes],
                "to_credit_minor": note.to_credit_minor,
            },
        )

    async def get(self, tenant_id: str, note_id: str) -> CreditNote | None:
        cn = credit_notes
        row = (
            (
                await self._conn.execute(
                    select(cn).where(cn.c.tenant_id == tenant_id, cn.c.id == note_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        to_credit = row["to_credit_minor"]
        if to_credit is None:  # written before migration 0020: all of it, if applied there
            to_credit = row["amount_minor"] if row["applied_to"] == "credit_balance" else 0
        return CreditNote(
            id=row["id"],
            invoice_id=row["invoice_id"],
            customer_id=row["customer_id"],
            number=row["number"],
            amount=Money(row["currency"], row["amount_minor"]),
            reason=row["reason"],
            applied_to=row["applied_to"],
            created_at=row["created_at"],
            tax_minor=row["tax_minor"] or 0,
            taxes=tuple(tax_amount_from_dict(t) for t in row["taxes"] or ()),
            to_credit_minor=to_credit,
        )
