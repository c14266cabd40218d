"""Invoice delivery, as due work after the finalizing commit: render, email, record the
outcome as an event. Without a mailer configured, delivery is off and items finish quietly."""

from __future__ import annotations

import json
import logging

from billing.app.ids import new_id
from billing.app.ports import DeliveryError, DueItem, InvoiceMailer, Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import RuleUseCases

log = logging.getLogger("billing.delivery")

PERMANENT_ATTEMPTS_MAX = 5  # transient failures are retried this often, then given up


class InvoiceDelivery:
    def __init__(self, rules: RuleUseCases, mailer: InvoiceMailer | None) -> None:
        self._rules = rules
        self._mailer = mailer

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        invoice_id = json.loads(item.payload)["invoice_id"]
        if self._mailer is None:
            return f"skip delivery of invoices/{invoice_id}: delivery is off"
        invoice = await tx.invoices.get(item.tenant_id, invoice_id)
        if invoice is None:
            return f"skip delivery of invoices/{invoice_id}: gone"
        customer = await tx.customers.get(item.tenant_id, invoice.customer_id)
        if customer is None or not customer.fields.email:
            await self._event(
                tx,
                item,
                invoice.name,
                "invoice.delivery_skipped",
                {"reason": "the customer has no email address"},
            )
            return f"skip delivery of {invoice.name}: no email"
        # The document follows the rules the invoice was finalized under (seller, legal
        # text, explanations), so sending it again later renders the same document.
        frozen = await self._rules.rules_of_version(tx, item.tenant_id, invoice.rule_set)
        rules = frozen or await self._rules.active_rules_in(tx, item.tenant_id)
        try:
            message_id = await self._mailer.send(invoice, customer, rules.rules)
        except DeliveryError as error:
            if not error.permanent and item.attempts < PERMANENT_ATTEMPTS_MAX:
                raise  # the worker releases the item; it is tried again
            await self._event(
                tx,
                item,
                invoice.name,
                "invoice.delivery_failed",
                {"error": str(error), "attempts": item.attempts},
            )
            return f"delivery of {invoice.name} failed"
        await self._event(
            tx,
            item,
            invoice.name,
            "invoice.delivered",
            {"to": customer.fields.email, "message_id": message_id},
        )
        return f"delivered {invoice.name}"

    @staticmethod
    async def _event(
        tx: Transaction, item: DueItem, name: str, kind: str, payload: dict[str, object]
    ) -> None:
        await tx.outbox.add(
            OutboxEvent(new_id("evt"), item.tenant_id, kind, name, payload, item.due_at)
        )
