"""The tax ledger through the store and the report use case, on both databases: entries are
written with the transaction (deferred), the report sums them per key over [start, end) of
the tax point, with its filters, exactly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

import billing.app.tax_ledger as tax_ledger_module
from billing.app.context import CallContext
from billing.app.tax_ledger import TaxReports
from billing.domain.errors import InvalidArgument, InvalidState
from billing.domain.tax_ledger import SourceKind, TaxEntry, TaxReportQuery, TaxReportRow
from billing.store.sql_store import SqlStore
from conftest import Database
from store_run import run_with_store as run

AT = datetime(2026, 3, 5, 10, tzinfo=UTC)
CTX = CallContext("t1", "tester", "GetTaxReport", "corr")
MARCH = TaxReportQuery(date(2026, 3, 1), date(2026, 4, 1))


@pytest.fixture
def database(backend: str, make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database(backend)


def entry(
    kind: SourceKind,
    source: str,
    jurisdiction: str,
    percent: str,
    taxable: int,
    tax: int,
    day: date,
    *,
    seq: int = 0,
    currency: str = "EUR",
    tax_name: str = "VAT",
    treatment: str = "taxed",
) -> TaxEntry:
    return TaxEntry(
        kind, source, seq, "inv_" + source[-1], "cus_1", currency, jurisdiction, tax_name,
        treatment, "standard", Decimal(percent), taxable, tax, day, AT,
    )  # fmt: skip


LEDGER = [
    # March: two German invoices at 19%, one partly credited, one voided in March.
    entry(SourceKind.INVOICE, "inv_1", "DE", "19", 10000, 1900, date(2026, 3, 2)),
    entry(SourceKind.INVOICE, "inv_2", "DE", "19.0", 5000, 950, date(2026, 3, 31)),
    entry(SourceKind.CREDIT_NOTE, "cn_1", "DE", "19", -5000, -950, date(2026, 3, 20)),
    entry(SourceKind.VOID, "inv_2", "DE", "19", -5000, -950, date(2026, 3, 31)),
    # A reverse charge: the base counts, no tax.
    entry(
        SourceKind.INVOICE,
        "inv_3",
        "DE",
        "0",
        20000,
        0,
        date(2026, 3, 3),
        treatment="reverse_charge",
    ),
    # Canada: GST and Ontario HST, in CAD.
    entry(
        SourceKind.INVOICE,
        "inv_4",
        "CA",
        "5",
        10000,
        500,
        date(2026, 3, 4),
        currency="CAD",
        tax_name="GST",
    ),
    entry(
        SourceKind.INVOICE,
        "inv_5",
        "CA-ON",
        "13",
        10000,
        1300,
        date(2026, 3, 4),
        currency="CAD",
        tax_name="HST",
    ),
    # Outside March: February's invoice, April's credit note on it.
    entry(SourceKind.INVOICE, "inv_6", "DE", "19", 7000, 1330, date(2026, 2, 28)),
    entry(SourceKind.CREDIT_NOTE, "cn_2", "DE", "19", -7000, -1330, date(2026, 4, 1)),
]


def write_and_report(database: Database, *queries: TaxReportQuery) -> list[list[TaxReportRow]]:
    async def work(store: SqlStore) -> list[list[TaxReportRow]]:
        async with store.write(None) as tx:
            await tx.tax_ledger.add("t1", LEDGER)
            await tx.tax_ledger.add("t2", LEDGER[:1])  # another tenant's, never counted
        reports = TaxReports(store)
        return [(await reports.report(CTX, q)).rows for q in queries]

    return run(database, work)  # type: ignore[return-value]


def figures(row: TaxReportRow) -> tuple[object, ...]:
    k = row.key
    return (
        k.currency, k.jurisdiction, k.tax_name, k.treatment, k.percent,
        row.invoiced_taxable_minor, row.invoiced_tax_minor,
        row.credited_taxable_minor, row.credited_tax_minor,
        row.voided_taxable_minor, row.voided_tax_minor,
        row.net_taxable_minor, row.net_tax_minor,
    )  # fmt: skip


def test_the_report_sums_a_period_per_key(database):
    [march, canada, cad, ontario, april] = write_and_report(
        database,
        MARCH,
        TaxReportQuery(date(2026, 3, 1), date(2026, 4, 1), jurisdiction="CA"),
        TaxReportQuery(date(2026, 1, 1), date(2027, 1, 1), currency="CAD"),
        TaxReportQuery(date(2026, 3, 1), date(2026, 4, 1), jurisdiction="CA-ON"),
        TaxReportQuery(date(2026, 4, 1), date(2026, 5, 1)),
    )
    assert [figures(row) for row in march] == [
        ("CAD", "CA", "GST", "taxed", "5", 10000, 500, 0, 0, 0, 0, 10000, 500),
        ("CAD", "CA-ON", "HST", "taxed", "13", 10000, 1300, 0, 0, 0, 0, 10000, 1300),
        ("EUR", "DE", "VAT", "reverse_charge", "0", 20000, 0, 0, 0, 0, 0, 20000, 0),
        # 19 and 19.0 are one rate; the credit note and the void net it.
        ("EUR", "DE", "VAT", "taxed", "19", 15000, 2850, -5000, -950, -5000, -950, 5000, 950),
    ]
    assert [row.key.jurisdiction for row in canada] == ["CA", "CA-ON"]  # CA takes in CA-ON
    assert [row.key.jurisdiction for row in cad] == ["CA", "CA-ON"]
    assert [row.key.jurisdiction for row in ontario] == ["CA-ON"]
    # The April note on February's invoice counts in April, when it was issued.
    assert [figures(row) for row in april] == [
        ("EUR", "DE", "VAT", "taxed", "19", 0, 0, -7000, -1330, 0, 0, -7000, -1330),
    ]


def test_bad_queries_name_their_field(database):
    async def work(store: SqlStore) -> dict[str, str]:
        reports = TaxReports(store)
        with pytest.raises(InvalidArgument) as caught:
            await reports.report(
                CTX,
                TaxReportQuery(date(2026, 4, 1), date(2026, 3, 1), "de", "EURO"),
            )
        return {v.field: v.description for v in caught.value.violations}

    violations = run(database, work)
    assert violations == {
        "end_date": "must be after start_date",
        "jurisdiction": "must be a jurisdiction code such as DE, CA-ON or EU-OSS (upper case)",
        "currency_code": "is not an ISO 4217 code",
    }


def test_a_report_wider_than_its_bound_is_refused(database, monkeypatch):
    monkeypatch.setattr(tax_ledger_module, "REPORT_GROUPS_MAX", 3)

    async def work(store: SqlStore) -> str:
        async with store.write(None) as tx:
            await tx.tax_ledger.add("t1", LEDGER)
        with pytest.raises(InvalidState) as caught:
            await TaxReports(store).report(CTX, MARCH)  # 6 groups in March
        return caught.value.reason

    assert run(database, work) == "TAX_REPORT_TOO_WIDE"
