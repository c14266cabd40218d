"""The tax ledger (ADR 0033): entries are blind writes, deferred with the transaction's other
writes (no round trip of their own); the report is one grouped read over the tax point index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select

from billing.domain.tax_ledger import (
    LedgerSum,
    ReportKey,
    SourceKind,
    TaxEntry,
    TaxReportQuery,
    percent_text,
)
from billing.store.batch import BatchedConnection
from billing.store.schema import tax_ledger

t = tax_ledger
INSERT_ENTRY = insert(t)
_KEY = (t.c.jurisdiction, t.c.tax_name, t.c.treatment, t.c.rate_name, t.c.percent, t.c.currency)


def entry_row(tenant_id: str, entry: TaxEntry) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "source_kind": entry.source_kind.value,
        "source_id": entry.source_id,
        "seq": entry.seq,
        "invoice_id": entry.invoice_id,
        "customer_id": entry.customer_id,
        "currency": entry.currency,
        "jurisdiction": entry.jurisdiction,
        "tax_name": entry.tax_name,
        "treatment": entry.treatment,
        "rate_name": entry.rate_name,
        "percent": percent_text(entry.percent),
        "taxable_minor": entry.taxable_minor,
        "tax_minor": entry.tax_minor,
        "tax_point": entry.tax_point,
        "occurred_at": entry.occurred_at,
    }


class SqlTaxLedger:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def add(self, tenant_id: str, entries: Sequence[TaxEntry]) -> None:
        if entries:
            self._conn.defer(INSERT_ENTRY, [entry_row(tenant_id, e) for e in entries])

    async def sums(self, tenant_id: str, query: TaxReportQuery, limit: int) -> list[LedgerSum]:
        """Per report key and source kind, the sums of the rows in the period; at most
        `limit` groups (the caller asks one more to tell a cut-off)."""
        statement = select(
            *_KEY,
            t.c.source_kind,
            func.sum(t.c.taxable_minor).label("taxable"),
            func.sum(t.c.tax_minor).label("tax"),
        ).where(
            t.c.tenant_id == tenant_id,
            t.c.tax_point >= query.start,
            t.c.tax_point < query.end,
        )
        if query.jurisdiction:
            code = query.jurisdiction
            exact = t.c.jurisdiction == code
            if "-" not in code:  # a country takes in its subdivisions
                subdivisions = t.c.jurisdiction.startswith(f"{code}-", autoescape=True)
                statement = statement.where(or_(exact, subdivisions))
            else:
                statement = statement.where(exact)
        if query.currency:
            statement = statement.where(t.c.currency == query.currency)
        statement = (
            statement.group_by(*_KEY, t.c.source_kind).order_by(*_KEY, t.c.source_kind).limit(limit)
        )
        result = await self._conn.execute(statement)
        return [
            LedgerSum(
                ReportKey(*(str(v) for v in row[:6])),
                SourceKind(row.source_kind),
                int(row.taxable),
                int(row.tax),
            )
            for row in result
        ]
