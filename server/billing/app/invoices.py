"""Invoice reads. (Drafts, finalization, numbering and credit notes come with invoicing.)"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from billing.app.context import CallContext
from billing.app.ports import Store
from billing.domain.errors import InvalidArgument, NotFound
from billing.domain.invoices import Invoice
from billing.domain.names import parse_name

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    invoices: list[Invoice]
    next_page_token: str


class InvoiceUseCases:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, ctx: CallContext, name: str) -> Invoice:
        invoice_id = parse_name(name, "invoices")
        async with self._store.read() as tx:
            invoice = await tx.invoices.get(ctx.tenant_id, invoice_id)
        if invoice is None:
            raise NotFound(name)
        return invoice

    async def list(
        self, ctx: CallContext, customer: str, subscription: str, page_size: int, page_token: str
    ) -> Page:
        customer_id = parse_name(customer, "customers", "customer") if customer else None
        subscription_id = (
            parse_name(subscription, "subscriptions", "subscription") if subscription else None
        )
        if page_size < 0:
            raise InvalidArgument.single("page_size", "must not be negative")
        limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = None
        if page_token:
            try:
                after = str(json.loads(base64.urlsafe_b64decode(page_token.encode()))["after"])
            except (ValueError, KeyError, TypeError):
                raise InvalidArgument.single(
                    "page_token", "is not a token this server issued"
                ) from None
        async with self._store.read() as tx:
            rows = await tx.invoices.list_after(
                ctx.tenant_id, customer_id, subscription_id, after, limit + 1
            )
        page = rows[:limit]
        token = ""
        if len(rows) > limit:
            token = base64.urlsafe_b64encode(json.dumps({"after": page[-1].id}).encode()).decode()
        return Page(page, token)
