"""The tax ledger (ADR 0033): the entries each tax event writes in its own transaction, and the
tax report summed from them. Raises InvalidArgument (a bad query) and InvalidState (a report
too wide to answer at once).

Entries are deferred writes: they travel with the event's other writes (the invoice, the
outbox event, the audit record), so they cost no round trip; an untaxed invoice writes none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing.app.context import CallContext
from billing.app.ports import Store, Transaction
from billing.app.rules import ActiveRules
from billing.domain.errors import InvalidState, Violations
from billing.domain.invoices import Invoice
from billing.domain.money import is_currency
from billing.domain.tax import TaxAmount
from billing.domain.tax_ledger import (
    TaxReportQuery,
    TaxReportRow,
    credit_note_entries,
    invoice_entries,
    invoice_taxes,
    report_rows,
    void_entries,
)

# Groups (key x source kind) one report answers; a tenant taxing in every jurisdiction at every
# rate in a few currencies stays far below. Beyond: narrow the period or filter.
REPORT_GROUPS_MAX = 5000
# The longest period one report sums: ten years of monthly, quarterly or yearly returns.
REPORT_DAYS_MAX = 3660
# A jurisdiction code: a country (DE), a country and subdivision (CA-ON), or a scheme (EU-OSS).
_JURISDICTION = re.compile(r"[A-Z0-9]{2,8}(-[A-Z0-9]{1,16})?")


def tax_day(rules: ActiveRules, at: datetime) -> date:
    """The calendar day of `at` where the seller keeps its books (the numbering zone)."""
    return at.astimezone(ZoneInfo(rules.rules.invoicing.numbering_time_zone)).date()


async def record_invoice_tax(
    tx: Transaction, tenant_id: str, invoice: Invoice, at: datetime, rules: ActiveRules
) -> None:
    """A finalized invoice's taxes into the ledger; nothing for an untaxed one."""
    if invoice_taxes(invoice):
        entries = invoice_entries(invoice, at, tax_day(rules, at))
        await tx.tax_ledger.add(tenant_id, entries)


async def record_credit_note_tax(
    tx: Transaction,
    tenant_id: str,
    invoice: Invoice,
    note_id: str,
    taxes: Sequence[TaxAmount],
    at: datetime,
    rules: ActiveRules,
) -> None:
    """A credit note's reversed taxes (`credit_note_tax(...).taxes`), negative."""
    if taxes:
        entries = credit_note_entries(invoice, note_id, taxes, at, tax_day(rules, at))
        await tx.tax_ledger.add(tenant_id, entries)


async def record_void_tax(
    tx: Transaction, tenant_id: str, invoice: Invoice, at: datetime, rules: ActiveRules
) -> None:
    """Voiding `invoice` (as it was before the void, its credit notes counted) reverses the
    taxes its credit notes left."""
    if invoice_taxes(invoice):
        entries = void_entries(invoice, at, tax_day(rules, at))
        await tx.tax_ledger.add(tenant_id, entries)


@dataclass(frozen=True)
class TaxReport:
    query: TaxReportQuery
    rows: list[TaxReportRow]


def check_report_query(query: TaxReportQuery) -> None:
    v = Violations()
    if query.end <= query.start:
        v.add("end_date", "must be after start_date")
    elif (query.end - query.start).days > REPORT_DAYS_MAX:
        v.add("end_date", f"the period may span at most {REPORT_DAYS_MAX} days")
    if query.jurisdiction and not _JURISDICTION.fullmatch(query.jurisdiction):
        v.add(
            "jurisdiction",
            "must be a jurisdiction code such as DE, CA-ON or EU-OSS (upper case)",
        )
    if query.currency and not is_currency(query.currency):
        v.add("currency_code", "is not an ISO 4217 code")
    v.raise_if_any()


class TaxReports:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def report(self, ctx: CallContext, query: TaxReportQuery) -> TaxReport:
        """Per (jurisdiction, tax, treatment, rate, currency) the bases and taxes of the
        period's invoices, credit notes and voids, and their net: a return's figures."""
        check_report_query(query)
        async with self._store.read() as tx:
            sums = await tx.tax_ledger.sums(ctx.tenant_id, query, REPORT_GROUPS_MAX + 1)
        if len(sums) > REPORT_GROUPS_MAX:
            raise InvalidState(
                f"the period holds more than {REPORT_GROUPS_MAX} tax groups; ask for a shorter"
                " period, one jurisdiction or one currency",
                "TAX_REPORT_TOO_WIDE",
            )
        return TaxReport(query, report_rows(sums))
