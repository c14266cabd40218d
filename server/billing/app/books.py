"""Posting to the journal (ADR 0051, 0052): the one way entries reach the store.

Use cases do not build entries: they hand the fact that happened (an invoice finalized, a
payment applied...) to the postings in `billing.domain.postings` and pass what comes out to
`post_facts`, in the transaction that records the fact, so the books commit or roll back with
it and can never disagree with the invoices. Here a posting gets its id, instant, period (the
seller's month) and reporting-currency amounts, and its `ledger.entry_posted` event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from billing.app.ids import new_id
from billing.app.ports import Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import ActiveRules
from billing.domain.ledger import JournalEntry, JournalLine, check_balanced, lines
from billing.domain.ledger_reports import landing_period, period_start
from billing.domain.ledger_rules import LedgerRules, rate_on, to_reporting
from billing.domain.money import minor_unit_exponent
from billing.domain.postings import Posting

RulesOf = Callable[[Transaction, str], Awaitable[ActiveRules]]
ENTRY_POSTED = "ledger.entry_posted"


class _Rules:
    """How a posting without the caller's rules finds the tenant's active rules (for the
    period's zone and the reporting currency): wired once by the runtime to the rule use
    cases, whose compiled sets are cached (one indexed read per call)."""

    of: RulesOf | None = None


def use_rules(rules_of: RulesOf) -> None:
    _Rules.of = rules_of


async def rules_of(tx: Transaction, tenant_id: str) -> ActiveRules:
    """The tenant's active rules, for a posting whose caller holds none."""
    if _Rules.of is None:
        raise RuntimeError("books.use_rules was never called: the runtime wires it")
    return await _Rules.of(tx, tenant_id)


def book_period(rules: ActiveRules, at: datetime) -> str:
    """The accounting period (YYYY-MM) of `at` where the seller keeps its books: the zone
    invoices are numbered in, which the tax ledger's days use too."""
    local = at.astimezone(ZoneInfo(rules.rules.invoicing.numbering_time_zone))
    return f"{local.year:04d}-{local.month:02d}"


async def post_facts(
    tx: Transaction,
    tenant_id: str,
    postings: Sequence[Posting],
    at: datetime,
    rules: ActiveRules | None = None,
) -> list[JournalEntry]:
    """Write `postings` as journal entries at `at`, with their events. `rules` when the
    caller has them, else the tenant's active rules are read."""
    if not postings:
        return []
    if rules is None:
        rules = await rules_of(tx, tenant_id)
    zone = ZoneInfo(rules.rules.invoicing.numbering_time_zone)
    period, adjusts = await _landing(tx, tenant_id, book_period(rules, at), at, zone)
    ledger = rules.rules.ledger
    entries = [
        _entry(posting, new_id("jrn"), at, period, ledger, at.astimezone(zone).date())
        for posting in postings
    ]
    if adjusts is not None:
        # A late posting into a closed period (ADR 0053) is dated at the first instant of the
        # period it lands in, so no report of the closed period (a trial balance as of its end
        # included) changes after the close; `adjusts` names the period it belongs to.
        opened = period_start(period, zone).astimezone(UTC)
        entries = [replace(x, adjusts=x.adjusts or adjusts, posted_at=opened) for x in entries]
    await post(tx, tenant_id, entries)
    for entry in entries:
        name = f"journalEntries/{entry.id}"
        event = OutboxEvent(new_id("evt"), tenant_id, ENTRY_POSTED, name, entry_event(entry), at)
        await tx.outbox.add(event)
    return entries


async def _landing(
    tx: Transaction, tenant_id: str, period: str, at: datetime, zone: ZoneInfo
) -> tuple[str, str | None]:
    """The period an entry posted at `at` lands in, and the closed period it adjusts. A period
    closes only after it ends (wall time), so an instant in the current wall month needs no
    read; only a simulation clock behind the wall reads how far the books are closed."""
    wall = datetime.now(UTC).astimezone(zone)
    if at >= wall.replace(day=1, hour=0, minute=0, second=0, microsecond=0):
        return period, None
    closed = await tx.journal.closed_through(tenant_id, guard=True)
    return landing_period(period, closed[0] if closed is not None else None)


def _entry(
    posting: Posting,
    entry_id: str,
    at: datetime,
    period: str,
    ledger: LedgerRules,
    day: date,
) -> JournalEntry:
    entry_lines = lines(*posting.amounts)
    reporting = ledger.reporting_currency
    rate = (
        rate_on(ledger, posting.currency, day)
        if reporting and reporting != posting.currency
        else None
    )
    if rate is not None:
        shift = minor_unit_exponent(reporting) - minor_unit_exponent(posting.currency)
        converted = to_reporting([amount for _, amount in posting.amounts if amount], rate, shift)
        entry_lines = tuple(
            JournalLine(
                line.account,
                line.debit_minor,
                line.credit_minor,
                reporting_debit_minor=max(r, 0),
                reporting_credit_minor=max(-r, 0),
            )
            for line, r in zip(entry_lines, converted, strict=True)
        )
    return JournalEntry(
        id=entry_id,
        kind=posting.kind,
        source=posting.source,
        posted_at=at,
        period=period,
        currency=posting.currency,
        lines=entry_lines,
        customer_id=posting.customer_id,
        memo=posting.memo,
        adjusts=posting.adjusts,
        reporting_currency=reporting if rate is not None else "",
    )


def entry_event(entry: JournalEntry) -> dict[str, object]:
    """The `ledger.entry_posted` payload: the entry as finance systems import it."""
    return {
        "entry": f"journalEntries/{entry.id}",
        "kind": entry.kind.value,
        "source": entry.source,
        "period": entry.period,
        "currency": entry.currency,
        "customer": f"customers/{entry.customer_id}" if entry.customer_id else None,
        "memo": entry.memo,
        "adjusts": entry.adjusts,
        "reporting_currency": entry.reporting_currency or None,
        "lines": [
            {
                "account": line.account,
                "debit_minor": line.debit_minor,
                "credit_minor": line.credit_minor,
                "reporting_debit_minor": line.reporting_debit_minor,
                "reporting_credit_minor": line.reporting_credit_minor,
            }
            for line in entry.lines
        ],
    }


async def post(tx: Transaction, tenant_id: str, entries: Sequence[JournalEntry]) -> None:
    """Check that every entry balances, then defer its insert with the transaction's other
    writes. An unbalanced entry is a posting bug: UnbalancedEntry rolls the transaction back."""
    if entries:
        check_balanced(entries)
        await tx.journal.add(tenant_id, entries)
