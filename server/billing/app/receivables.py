"""Receivables and the journal for finance (issue 17, ADR 0052): AR aging, and a period's
journal as CSV. Reads only."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from billing.app.billing_time import BillingTime
from billing.app.context import CallContext
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import Store
from billing.app.rules import RuleUseCases
from billing.domain import journal_export
from billing.domain.aging import AgingRow, age
from billing.domain.errors import InvalidArgument
from billing.domain.money import currency_problem

PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
EXPORT_PAGE = 500  # entries read per statement while exporting
CHUNK_BYTES = 64 * 1024  # CSV bytes per streamed message


@dataclass(frozen=True)
class AgingPage:
    as_of: datetime
    rows: list[AgingRow]
    next_page_token: str


class ReceivablesUseCases:
    def __init__(self, store: Store, rules: RuleUseCases, time: BillingTime) -> None:
        self._store = store
        self._rules = rules
        self._time = time

    async def ar_aging(
        self,
        ctx: CallContext,
        as_of: datetime | None,
        currency: str,
        page_size: int,
        page_token: str,
    ) -> AgingPage:
        if currency and (problem := currency_problem(currency)) is not None:
            raise InvalidArgument.single("currency_code", problem)
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            at = as_of or await self._time.now(tx, ctx.tenant_id, None)
            owed = await tx.receivables.owed(ctx.tenant_id, currency or None, after, limit + 1)
        customers = sorted({item.customer_id for item in owed})
        more = len(customers) > limit
        page = [item for item in owed if item.customer_id in set(customers[:limit])]
        token = encode_page_token(customers[limit - 1]) if more else ""
        return AgingPage(at, age(page, at), token)

    async def export_journal(self, ctx: CallContext, period: str) -> AsyncIterator[bytes]:
        """The period's entries as CSV, in chunks; the header first."""
        if not PERIOD.match(period):
            raise InvalidArgument.single("period", f"{period[:16]!r} is not a period YYYY-MM")
        ledger = (await self._rules.active_rules(ctx)).rules.ledger
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(journal_export.HEADER)
        after: str | None = None
        while True:
            async with self._store.read() as tx:
                entries = await tx.journal.entries(
                    ctx.tenant_id, period=period, after_id=after, limit=EXPORT_PAGE
                )
            writer.writerows(journal_export.rows(entries, ledger))
            if buffer.tell() >= CHUNK_BYTES or len(entries) < EXPORT_PAGE:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
            if len(entries) < EXPORT_PAGE:
                return
            after = entries[-1].id
