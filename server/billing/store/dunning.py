"""Rows of dunning cases and holds (ADR 0043). A case's timeline is a JSON list of entries;
how far the case has gone is in plain columns so the due work and reports read them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, insert, select, update
from sqlalchemy import case as sql_case  # `case` names a dunning case here
from sqlalchemy.engine import RowMapping

from billing.app.dunning_ports import (
    CaseSums,
    DeclineGroup,
    DunningHold,
    ReportWindow,
    StepGroup,
)
from billing.domain.dunning import (
    CaseStatus,
    DunningCase,
    timeline_from_json,
    timeline_to_json,
)
from billing.store.batch import BatchedConnection
from billing.store.dialect import upsert
from billing.store.schema import dunning_cases, dunning_holds

dc, dh = dunning_cases, dunning_holds

_INSERT_CASE = insert(dc)
_UPDATE_CASE = update(dc).where(
    dc.c.tenant_id == bindparam("b_tenant"),
    dc.c.id == bindparam("b_id"),
    dc.c.version == bindparam("b_version"),
)
_PUT_HOLD = {
    name: upsert(name, dh, ["tenant_id", "customer_id"], ["reason", "actor", "held_at"])
    for name in ("postgresql", "sqlite")
}


class SqlDunningCases:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, case: DunningCase) -> None:
        self._conn.defer(_INSERT_CASE, {"tenant_id": tenant_id, "id": case.id, **_row(case)})

    async def get(self, tenant_id: str, case_id: str, *, lock: bool = False) -> DunningCase | None:
        query = select(dc).where(dc.c.tenant_id == tenant_id, dc.c.id == case_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().first()
        return _case(row) if row is not None else None

    async def for_invoice(
        self, tenant_id: str, invoice_id: str, *, lock: bool = False
    ) -> DunningCase | None:
        query = select(dc).where(dc.c.tenant_id == tenant_id, dc.c.invoice_id == invoice_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().first()
        return _case(row) if row is not None else None

    async def update(self, tenant_id: str, case: DunningCase, version: int) -> bool:
        """Compare-and-set on `version` (the case as read); `case` carries the next one."""
        params = {**_row(case), "b_tenant": tenant_id, "b_id": case.id, "b_version": version}
        return (await self._conn.execute(_UPDATE_CASE, params)).rowcount == 1

    async def open_for_customer(
        self, tenant_id: str, customer_id: str, *, lock: bool = False
    ) -> list[DunningCase]:
        """The customer's active and paused cases, oldest first."""
        query = (
            select(dc)
            .where(
                dc.c.tenant_id == tenant_id,
                dc.c.customer_id == customer_id,
                dc.c.status.in_([CaseStatus.ACTIVE.value, CaseStatus.PAUSED.value]),
            )
            .order_by(dc.c.id)
        )
        if lock:
            query = query.with_for_update()
        return [_case(row) for row in (await self._conn.execute(query)).mappings()]

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        status: CaseStatus | None,
        after_id: str | None,
        limit: int,
    ) -> list[DunningCase]:
        """Newest first (id descending), older than `after_id` if given."""
        query = select(dc).where(dc.c.tenant_id == tenant_id).order_by(dc.c.id.desc()).limit(limit)
        if customer_id is not None:
            query = query.where(dc.c.customer_id == customer_id)
        if status is not None:
            query = query.where(dc.c.status == status.value)
        if after_id is not None:
            query = query.where(dc.c.id < after_id)
        return [_case(row) for row in (await self._conn.execute(query)).mappings()]

    # --- report --------------------------------------------------------------------------

    async def step_groups(
        self, tenant_id: str, window: ReportWindow, limit: int
    ) -> list[StepGroup]:
        keys = (dc.c.currency, dc.c.rule_set, dc.c.policy, dc.c.steps_done)
        rows = await self._sum_rows(_sums(tenant_id, window, keys, limit))
        return [StepGroup(r[0], r[1], r[2], int(r[3]), _case_sums(r[4:])) for r in rows]

    async def decline_groups(
        self, tenant_id: str, window: ReportWindow, limit: int
    ) -> list[DeclineGroup]:
        keys = (dc.c.currency, dc.c.first_decline_code)
        rows = await self._sum_rows(_sums(tenant_id, window, keys, limit))
        return [DeclineGroup(r[0], r[1], _case_sums(r[2:])) for r in rows]

    async def _sum_rows(self, query: Select[Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self._conn.execute(query)]

    # --- holds ---------------------------------------------------------------------------

    async def hold(self, tenant_id: str, customer_id: str) -> DunningHold | None:
        query = select(dh).where(dh.c.tenant_id == tenant_id, dh.c.customer_id == customer_id)
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        return DunningHold(row["customer_id"], row["reason"], row["actor"], row["held_at"])

    async def put_hold(self, tenant_id: str, hold: DunningHold) -> None:
        await self._conn.execute(
            _PUT_HOLD[self._conn.dialect.name],
            {
                "tenant_id": tenant_id,
                "customer_id": hold.customer_id,
                "reason": hold.reason,
                "actor": hold.actor,
                "held_at": hold.held_at,
            },
        )

    async def release_hold(self, tenant_id: str, customer_id: str) -> bool:
        result = await self._conn.execute(
            delete(dh).where(dh.c.tenant_id == tenant_id, dh.c.customer_id == customer_id)
        )
        return result.rowcount == 1


_OWED = dc.c.amount_minor - dc.c.recovered_minor
_OPEN = (CaseStatus.ACTIVE.value, CaseStatus.PAUSED.value)


def _sums(
    tenant_id: str, window: ReportWindow, keys: tuple[ColumnElement[Any], ...], limit: int
) -> Select[Any]:
    """The report's sums grouped by `keys`, computed by the database (one row per group,
    however many cases), keys in order."""
    in_dunning = func.sum(sql_case((dc.c.status.in_(_OPEN), _OWED), else_=0))
    lost = func.sum(sql_case((dc.c.status == CaseStatus.EXHAUSTED.value, _OWED), else_=0))
    query = (
        select(*keys, func.count(), in_dunning, func.sum(dc.c.recovered_minor), lost)
        .where(dc.c.tenant_id == tenant_id)
        .group_by(*keys)
        .order_by(*keys)
        .limit(limit)
    )
    if window.start is not None:
        query = query.where(dc.c.started_at >= window.start)
    if window.end is not None:
        query = query.where(dc.c.started_at < window.end)
    return query


def _case_sums(values: tuple[Any, ...]) -> CaseSums:
    """(count, in dunning, recovered, lost) as integers: PostgreSQL sums bigints as numeric
    (Decimal), SQLite as integers."""
    cases, in_dunning, recovered, lost = (int(v or 0) for v in values)
    return CaseSums(cases, in_dunning, recovered, lost)


def _row(case: DunningCase) -> dict[str, Any]:
    return {
        "customer_id": case.customer_id,
        "invoice_id": case.invoice_id,
        "subscription_id": case.subscription_id,
        "clock_id": case.clock_id,
        "policy": case.policy,
        "rule_set": case.rule_set,
        "status": case.status.value,
        "started_at": case.started_at,
        "amount_minor": case.amount_minor,
        "currency": case.currency,
        "time_zone": case.time_zone,
        "retries_done": case.retries_done,
        "steps_done": case.steps_done,
        "retries_stopped": case.retries_stopped,
        "decline_code": case.decline_code,
        "first_decline_code": case.first_decline_code,
        "shift_us": case.shift // timedelta(microseconds=1),
        "paused_at": case.paused_at,
        "suspended": case.suspended,
        "next_at": case.next_at,
        "recovered_minor": case.recovered_minor,
        "ended_at": case.ended_at,
        "timeline": timeline_to_json(case.timeline),
        "created_at": case.created_at or case.started_at,
        "updated_at": case.updated_at or case.started_at,
        "version": case.version,
    }


def _case(row: RowMapping) -> DunningCase:
    return DunningCase(
        id=row["id"],
        customer_id=row["customer_id"],
        invoice_id=row["invoice_id"],
        subscription_id=row["subscription_id"],
        clock_id=row["clock_id"],
        policy=row["policy"],
        rule_set=row["rule_set"],
        status=CaseStatus(row["status"]),
        started_at=row["started_at"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        time_zone=row["time_zone"],
        retries_done=row["retries_done"],
        steps_done=row["steps_done"],
        retries_stopped=row["retries_stopped"],
        decline_code=row["decline_code"],
        first_decline_code=row["first_decline_code"],
        shift=timedelta(microseconds=row["shift_us"]),
        paused_at=row["paused_at"],
        suspended=row["suspended"],
        next_at=row["next_at"],
        recovered_minor=row["recovered_minor"],
        ended_at=row["ended_at"],
        timeline=timeline_from_json(row["timeline"] or []),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )
