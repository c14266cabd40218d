"""Dunning notices as due work (ADR 0043): a `send_dunning_notice` item (subject: the case;
payload `{case_id, template, channel, step, attempt_id}`) sends one notice after the commit
that decided it.

- `prepare`, outside any transaction (no SMTP or plugin call is made inside one): reads the
  case, its invoice, customer and attempt. A case recovered or closed by now, or an invoice
  that no longer owes, ends the item quietly: a payment between the decision and the send
  must not email "please pay". Otherwise the notice is rendered and sent by email (the
  server's SMTP) or by the registered `notification_channel` the step names. The outcome
  rides on the item to `handle`.
- `handle`, in the item's transaction: the outcome as an event on the case:
  `dunning.notice_sent`, `dunning.notice_skipped` (no email address, delivery off) or
  `dunning.notice_failed`.

A transient failure (no answer, a 4xx) raises from `prepare`, so the worker tries the item
again with its backoff; a permanent one (a 5xx, a message no server takes), or the last
attempt, records `notice_failed`, as invoice delivery does. Idempotent as far as SMTP
allows: the Message-ID is made from the item's id, so the copy a crash between the send and
the commit makes carries the same Message-ID, by which receiving systems drop it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from billing.app.delivery import PERMANENT_ATTEMPTS_MAX
from billing.app.ids import new_id
from billing.app.ports import DeliveryError, DueItem, Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import RuleUseCases
from billing.domain.customers import Customer
from billing.domain.dunning import EMAIL_CHANNEL, CaseStatus, DunningCase
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.notices import (
    NoticeFacts,
    NoticeTemplateMissing,
    RenderedNotice,
    next_retry_at,
)
from billing.plugins.engines import Notification, NotificationChannel
from billing.rules.model import RuleSet

CHANNEL_TIMEOUT_S = 30.0  # a plugin channel's send; it runs under the item's lease
ERROR_CHARS_MAX = 500  # of a failure's message kept on its event (a server's reply can ramble)
_ENDED = frozenset({CaseStatus.RECOVERED, CaseStatus.CLOSED})
_SETTLED = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID})
_EVENTS = {
    "sent": "dunning.notice_sent",
    "skipped": "dunning.notice_skipped",
    "failed": "dunning.notice_failed",
}


class NoticeComposer(Protocol):
    def compose(self, template: str, facts: NoticeFacts, rules: RuleSet) -> RenderedNotice:
        """The notice `template` says for `facts` under `rules`. Raises
        NoticeTemplateMissing for a template the server did not load."""
        ...


class NoticeMailer(Protocol):
    async def send(self, to: str, notice: RenderedNotice, reference: str) -> str:
        """Email `notice` to `to`; the Message-ID, made from `reference`. Raises
        DeliveryError (with `permanent`) when it cannot be sent."""
        ...


@dataclass(frozen=True)
class _Notice:
    """What one item sends, as read before the send."""

    case: DunningCase
    invoice: Invoice
    customer: Customer
    facts: NoticeFacts
    rules: RuleSet


class DunningNotices:
    def __init__(
        self,
        store: Store,
        rules: RuleUseCases,
        composer: NoticeComposer,
        mailer: NoticeMailer | None,
        channels: Mapping[str, NotificationChannel],
        *,
        attempts_max: int = PERMANENT_ATTEMPTS_MAX,
        channel_timeout_s: float = CHANNEL_TIMEOUT_S,
    ) -> None:
        self._store = store
        self._rules = rules
        self._composer = composer
        self._mailer = mailer  # None: email delivery is off (no SMTP URL)
        self._channels = channels
        self._attempts_max = attempts_max
        self._channel_timeout_s = channel_timeout_s

    async def prepare(self, item: DueItem) -> DueItem:
        request = json.loads(item.payload)
        outcome = await self._send(item, request)
        return replace(item, payload=json.dumps({**request, "outcome": outcome}))

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        payload = json.loads(item.payload)
        name = f"dunningCases/{payload['case_id']}"
        outcome: dict[str, Any] | None = payload.get("outcome")
        if outcome is None:  # a handler run without its prepare: nothing was sent
            return f"skip notice for {name}: not prepared"
        result = outcome.pop("result")
        if result == "ended":
            return f"skip notice for {name}: {outcome['reason']}"
        details = {
            "template": payload["template"],
            "channel": payload.get("channel") or EMAIL_CHANNEL,
            "step": payload.get("step", ""),
            "attempt": payload.get("attempt_id", ""),
            **outcome,
        }
        await tx.outbox.add(
            OutboxEvent(new_id("evt"), item.tenant_id, _EVENTS[result], name, details, item.due_at)
        )
        return f"notice {payload['template']} for {name}: {result}"

    # --- before the item's transaction ----------------------------------------------------

    async def _send(self, item: DueItem, request: Mapping[str, Any]) -> dict[str, Any]:
        async with self._store.read() as tx:
            found = await self._read(tx, item.tenant_id, request)
        if isinstance(found, str):
            return {"result": "ended", "reason": found}
        channel = request.get("channel") or EMAIL_CHANNEL
        email, mailer = found.customer.fields.email, self._mailer
        if channel == EMAIL_CHANNEL and mailer is None:
            return {"result": "skipped", "reason": "email delivery is off (no SMTP server)"}
        if channel == EMAIL_CHANNEL and not email:
            return {"result": "skipped", "reason": "the customer has no email address"}
        template = request["template"]
        try:
            notice = self._composer.compose(template, found.facts, found.rules)
        except NoticeTemplateMissing as missing:
            return _failed(str(missing), item.attempts)
        reference = f"dunning.{item.id}"
        try:
            if mailer is not None and channel == EMAIL_CHANNEL:
                message_id = await mailer.send(email, notice, reference)
                return {"result": "sent", "to": email, "message_id": message_id}
            recipient = found.customer.name
            await self._to_channel(item, channel, template, recipient, found, notice, reference)
            return {"result": "sent", "to": recipient, "message_id": reference}
        except DeliveryError as error:
            if not error.permanent and item.attempts < self._attempts_max:
                raise  # the worker gives the item back; it is tried again after a backoff
            return _failed(str(error), item.attempts)

    async def _read(
        self, tx: Transaction, tenant_id: str, request: Mapping[str, Any]
    ) -> _Notice | str:
        """The notice to send, or why nothing is sent any more."""
        case = await tx.dunning_cases.get(tenant_id, request["case_id"])
        if case is None:
            return "the case is gone"
        if case.status in _ENDED:
            return f"the case is {case.status.value}"
        invoice = await tx.invoices.get(tenant_id, case.invoice_id)
        if invoice is None or invoice.status in _SETTLED or invoice.remaining_minor == 0:
            return "the invoice no longer owes anything"
        customer = await tx.customers.get(tenant_id, case.customer_id)
        if customer is None:
            return "the customer is gone"
        attempt_id = request.get("attempt_id") or ""
        attempt = await tx.payment_attempts.get(tenant_id, attempt_id) if attempt_id else None
        # The case keeps the rules it started under (the policy, the link, the seller).
        active = await self._rules.rules_of_version(
            tx, tenant_id, case.rule_set
        ) or await self._rules.active_rules_in(tx, tenant_id)
        policy = active.rules.dunning.policies.get(case.policy)
        facts = NoticeFacts(
            customer_id=customer.id,
            customer_name=customer.fields.display_name,
            locale=customer.fields.locale,
            time_zone=case.time_zone,  # the zone the case's retries are planned in
            invoice_id=invoice.id,
            invoice_number=invoice.number or invoice.id,
            amount_minor=invoice.remaining_minor,
            currency=invoice.currency,
            decline_code=(attempt.decline_code if attempt else "") or case.decline_code,
            action_url=attempt.action_url if attempt else "",
            next_retry=next_retry_at(policy, case) if policy is not None else None,
        )
        return _Notice(case, invoice, customer, facts, active.rules)

    async def _to_channel(
        self,
        item: DueItem,
        channel: str,
        template: str,
        recipient: str,
        found: _Notice,
        notice: RenderedNotice,
        reference: str,
    ) -> None:
        engine = self._channels.get(channel)
        if engine is None:  # the plugin that registered it is gone since the rules were pushed
            raise DeliveryError(
                f"no notification channel {channel!r} is registered", permanent=True
            )
        data = {
            **notice.values,
            "subject": notice.subject,
            "body": notice.body,
            "reference": reference,
            "email": found.customer.fields.email,
            "case": found.case.name,
            "invoice": found.invoice.name,
        }
        try:
            await asyncio.wait_for(
                engine.send(Notification(item.tenant_id, recipient, template, data)),
                self._channel_timeout_s,
            )
        except DeliveryError:
            raise
        except Exception as exc:  # a plugin's failure, of any type: tried again, then failed
            raise DeliveryError(f"channel {channel}: {exc!r}", permanent=False) from exc


def _failed(error: str, attempts: int) -> dict[str, Any]:
    return {"result": "failed", "error": error[:ERROR_CHARS_MAX], "attempts": attempts}
