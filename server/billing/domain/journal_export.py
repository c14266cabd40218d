"""The journal as finance imports it (issue 17): one row per line, ledger accounts named by the
`ledger` rules' chart (an account's own entry first, then its base's), amounts in major units
as exact decimal strings. Pure; the CSV writing is the caller's."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from billing.domain.ledger import JournalEntry, base_of
from billing.domain.ledger_rules import LedgerRules
from billing.domain.money import minor_unit_exponent

HEADER: tuple[str, ...] = (
    "entry_id", "posted_at", "period", "kind", "source", "customer", "memo", "adjusts",
    "line", "ledger_account", "gl_code", "gl_name", "currency", "debit", "credit",
    "reporting_currency", "reporting_debit", "reporting_credit",
)  # fmt: skip


def major(amount_minor: int | None, currency: str) -> str:
    """`11900` EUR -> `119.00`; None -> empty."""
    if amount_minor is None or not currency:
        return ""
    exponent = minor_unit_exponent(currency)
    return str(Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def rows(entries: Iterable[JournalEntry], rules: LedgerRules) -> Iterator[tuple[str, ...]]:
    chart = {entry.ledger_account: entry for entry in rules.chart}
    for entry in entries:
        for number, line in enumerate(entry.lines, start=1):
            mapped = chart.get(line.account) or chart.get(base_of(line.account))
            reporting = entry.reporting_currency
            yield (
                entry.id,
                entry.posted_at.isoformat(timespec="microseconds"),
                entry.period,
                entry.kind.value,
                entry.source,
                f"customers/{entry.customer_id}" if entry.customer_id else "",
                entry.memo,
                entry.adjusts or "",
                str(number),
                line.account,
                mapped.code if mapped else "",
                mapped.name if mapped else "",
                entry.currency,
                major(line.debit_minor, entry.currency),
                major(line.credit_minor, entry.currency),
                reporting,
                major(line.reporting_debit_minor, reporting) if reporting else "",
                major(line.reporting_credit_minor, reporting) if reporting else "",
            )
