"""Invoice delivery, as due work after the finalizing commit: render, email, record the
outcome as an event. Without a mailer configured, delivery is off and items finish quietly.

Exactly once as far as SMTP allows (ADR 0058). `prepare`, before the item's transaction,
records the send in a short transaction of its own (`invoice_deliveries`: state `sending`,
the Message-ID made from the invoice's id, the Date, the recipient) and commits it, and only
then talks to the mail server; `handle`, in the item's transaction, sets it `sent` with the
`invoice.delivered` event. No SMTP conversation happens inside a database transaction.

A retry that finds the record still `sending` (the commit after the send failed, or the
process died around the send) cannot ask the mail server whether it took the message: SMTP
has no such question. It sends the very same message again, byte for byte the same headers
(Message-ID, Date, To, Subject) and document, so the receiving systems that drop a
Message-ID they already hold drop it; never a second, different email. A record `sent` or
`failed` is final: no retry or operator's rerun sends again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from billing.app.clock import Clock, SystemClock
from billing.app.due_work_ports import DeliveryRecord, DeliveryState
from billing.app.ids import new_id
from billing.app.ports import (
    DeliveryError,
    DueItem,
    InvoiceMailer,
    MailEnvelope,
    Store,
    Transaction,
)
from billing.app.records import OutboxEvent
from billing.app.rules import RuleUseCases

log = logging.getLogger("billing.delivery")

PERMANENT_ATTEMPTS_MAX = 5  # transient failures are retried this often, then given up


class InvoiceDelivery:
    def __init__(
        self,
        rules: RuleUseCases,
        mailer: InvoiceMailer | None,
        store: Store,
        wall: Clock | None = None,
    ) -> None:
        self._rules = rules
        self._mailer = mailer
        self._store = store
        self._wall = wall or SystemClock()

    # --- before the item's transaction: record, commit, send ------------------------------

    async def prepare(self, item: DueItem) -> DueItem:
        mailer, store = self._mailer, self._store
        if mailer is None:
            return item  # delivery is off: `handle` says so
        payload = json.loads(item.payload)
        invoice_id = payload["invoice_id"]
        async with store.write(None) as tx:
            invoice = await tx.invoices.get(item.tenant_id, invoice_id)
            customer = (
                await tx.customers.get(item.tenant_id, invoice.customer_id) if invoice else None
            )
            if invoice is None or customer is None or not customer.fields.email:
                return item  # nothing to send: `handle` records why
            record = await tx.invoice_deliveries.get(item.tenant_id, invoice_id, lock=True)
            if record is not None and record.state is not DeliveryState.SENDING:
                return _with(item, payload, {"result": "final", "state": record.state.value})
            if record is None:
                record = DeliveryRecord(
                    item.tenant_id,
                    invoice_id,
                    mailer.message_id(f"invoice.{invoice_id}"),
                    customer.fields.email,
                    DeliveryState.SENDING,
                    self._wall.now().replace(microsecond=0),  # the Date header's precision
                    1,
                )
                await tx.invoice_deliveries.start(record)
            else:
                log.warning(
                    "invoice delivery found in `sending`: sending the same message again",
                    extra={"invoice": invoice_id, "message_id": record.message_id},
                )
                await tx.invoice_deliveries.count_send(item.tenant_id, invoice_id)
                record = replace(record, sends=record.sends + 1)
            # The document follows the rules the invoice was finalized under (seller, legal
            # text, explanations), so sending it again later renders the same document.
            frozen = await self._rules.rules_of_version(tx, item.tenant_id, invoice.rule_set)
            rules = frozen or await self._rules.active_rules_in(tx, item.tenant_id)
        # Committed: from here on a crash leaves `sending`, and the retry sends this message.
        to = replace(customer, fields=replace(customer.fields, email=record.recipient))
        envelope = MailEnvelope(record.message_id, record.started_at)
        try:
            message_id = await mailer.send(invoice, to, rules.rules, envelope)
        except DeliveryError as error:
            if not error.permanent and item.attempts < PERMANENT_ATTEMPTS_MAX:
                raise  # the worker gives the item back; it is tried again after a backoff
            outcome = {"result": "failed", "error": str(error), "attempts": item.attempts}
            return _with(item, payload, outcome)
        outcome = {
            "result": "sent",
            "to": record.recipient,
            "message_id": message_id,
            "sends": record.sends,
        }
        return _with(item, payload, outcome)

    # --- in the item's transaction: the outcome ----------------------------------------------

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        payload = json.loads(item.payload)
        invoice_id = payload["invoice_id"]
        outcome: dict[str, Any] | None = payload.get("outcome")
        if outcome is None:
            return await self._nothing_sent(tx, item, invoice_id)
        name = f"invoices/{invoice_id}"
        result = outcome.pop("result")
        if result == "final":
            return f"skip delivery of {name}: already {outcome['state']}"
        state = DeliveryState.SENT if result == "sent" else DeliveryState.FAILED
        if not await tx.invoice_deliveries.finish(
            item.tenant_id, invoice_id, state, self._wall.now()
        ):
            return f"skip delivery of {name}: finished by another run"
        if result == "failed":
            await self._event(tx, item, name, "invoice.delivery_failed", outcome)
            return f"delivery of {name} failed"
        await self._event(tx, item, name, "invoice.delivered", outcome)
        return f"delivered {name}"

    async def _nothing_sent(self, tx: Transaction, item: DueItem, invoice_id: str) -> str:
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
        # An email address added between `prepare` and now: the next run sends it.
        raise DeliveryError(f"{invoice.name}: not prepared (an address appeared)", permanent=False)

    @staticmethod
    async def _event(
        tx: Transaction, item: DueItem, name: str, kind: str, payload: dict[str, object]
    ) -> None:
        await tx.outbox.add(
            OutboxEvent(new_id("evt"), item.tenant_id, kind, name, payload, item.due_at)
        )


def _with(item: DueItem, payload: dict[str, Any], outcome: dict[str, Any]) -> DueItem:
    """The outcome rides on the item to `handle` (never stored: the row keeps its payload)."""
    return replace(item, payload=json.dumps({**payload, "outcome": outcome}))
