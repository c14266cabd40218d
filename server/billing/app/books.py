"""Posting to the journal (ADR 0051): the one way entries reach the store.

Use cases do not build entries: they hand the fact that happened (an invoice finalized, a
payment applied...) to the postings in `billing.domain.postings` through this module, in the
transaction that records the fact, so the books commit or roll back with it and can never
disagree with the invoices.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from billing.app.ports import Transaction
from billing.app.rules import ActiveRules
from billing.domain.ledger import JournalEntry, check_balanced


def book_period(rules: ActiveRules, at: datetime) -> str:
    """The accounting period (YYYY-MM) of `at` where the seller keeps its books: the zone
    invoices are numbered in, which the tax ledger's days use too."""
    local = at.astimezone(ZoneInfo(rules.rules.invoicing.numbering_time_zone))
    return f"{local.year:04d}-{local.month:02d}"


async def post(tx: Transaction, tenant_id: str, entries: Sequence[JournalEntry]) -> None:
    """Check that every entry balances, then defer its insert with the transaction's other
    writes. An unbalanced entry is a posting bug: UnbalancedEntry rolls the transaction back."""
    if entries:
        check_balanced(entries)
        await tx.journal.add(tenant_id, entries)
