"""Stripe webhook events in our terms (ADR 0037). The signature (`Stripe-Signature`,
HMAC-SHA256 over `<t>.<body>` with the endpoint's `webhook_secret`) is verified by the SDK's
`stripe.Webhook.construct_event`, which also refuses a timestamp older than the tolerance.
The event id is Stripe's `evt_…`: the core applies each id once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe

from billing.plugins.engines import GatewayEvent, WebhookRejected

from .outcomes import KEY_FIELD, charge_outcome, refund_outcome

_CHARGE_KINDS = {
    "payment_intent.succeeded": "charge.succeeded",
    "payment_intent.payment_failed": "charge.failed",
    "payment_intent.requires_action": "charge.requires_action",
}
_REFUND_KINDS = {
    "succeeded": "refund.succeeded",
    "failed": "refund.failed",
    "canceled": "refund.failed",
}
_DISPUTE_CLOSED = {"won": "dispute.won", "lost": "dispute.lost"}


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def parse_event(
    headers: Mapping[str, str], body: bytes, secret: str, api_key: str, tolerance_s: int
) -> GatewayEvent:
    if not secret:
        raise WebhookRejected("no webhook_secret credential for this gateway")
    signature = _header(headers, "stripe-signature")
    if not signature:
        raise WebhookRejected("no Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(
            body.decode("utf-8"), signature, secret, tolerance=tolerance_s, api_key=api_key or None
        )
    except stripe.SignatureVerificationError as error:
        raise WebhookRejected(f"Stripe signature does not verify: {error.user_message}") from error
    except (ValueError, KeyError, UnicodeDecodeError) as error:
        raise WebhookRejected(f"not a Stripe event: {type(error).__name__}") from error
    return translate(event.to_dict())


def translate(event: Mapping[str, Any]) -> GatewayEvent:
    """A verified event (Stripe's JSON as a dict) as a GatewayEvent."""
    event_id = str(event.get("id") or "")
    if not event_id.startswith("evt_"):
        raise WebhookRejected("a Stripe event without an evt_ id")
    kind = str(event.get("type") or "")
    obj: Mapping[str, Any] = (event.get("data") or {}).get("object") or {}
    at = datetime.fromtimestamp(int(event.get("created") or 0), UTC)
    base = {"event_id": event_id, "occurred_at": at}
    if kind in _CHARGE_KINDS:
        outcome = charge_outcome(obj)
        return GatewayEvent(
            kind=_CHARGE_KINDS[kind],
            reference=str(obj.get("id") or ""),
            idempotency_key=str((obj.get("metadata") or {}).get(KEY_FIELD) or ""),
            outcome=outcome,
            amount_minor=int(obj.get("amount_received") or obj.get("amount") or 0),
            currency=str(obj.get("currency") or "").upper(),
            reason=outcome.decline_code,
            **base,  # type: ignore[arg-type]
        )
    if kind == "charge.refunded":
        # Since API 2022-11-15 a Charge does not list its refunds unless expanded; then the
        # refund.* event for each refund carries it, and this one is only a summary.
        refunds = ((obj.get("refunds") or {}).get("data")) or []
        if not refunds:
            return GatewayEvent(kind="ignored", reason="charge.refunded without refunds", **base)  # type: ignore[arg-type]
        obj = max(refunds, key=lambda r: int(r.get("created") or 0))
        kind = "refund.updated"
    if kind in ("refund.created", "refund.updated", "refund.failed"):
        ours = _REFUND_KINDS.get(str(obj.get("status")))
        if ours is None:  # pending, requires_action: nothing settled yet
            return GatewayEvent(kind="ignored", reference=str(obj.get("id") or ""), **base)  # type: ignore[arg-type]
        outcome = refund_outcome(obj)
        return GatewayEvent(
            kind=ours,
            reference=str(obj.get("id") or ""),
            idempotency_key=str((obj.get("metadata") or {}).get(KEY_FIELD) or ""),
            outcome=outcome,
            amount_minor=int(obj.get("amount") or 0),
            currency=str(obj.get("currency") or "").upper(),
            reason=str(obj.get("failure_reason") or obj.get("reason") or ""),
            **base,  # type: ignore[arg-type]
        )
    if kind in ("charge.dispute.created", "charge.dispute.closed"):
        ours = (
            "dispute.opened"
            if kind == "charge.dispute.created"
            else _DISPUTE_CLOSED.get(str(obj.get("status")))
        )
        if ours is None:  # warning_closed: an inquiry that never became a chargeback
            return GatewayEvent(kind="ignored", dispute_id=str(obj.get("id") or ""), **base)  # type: ignore[arg-type]
        # The fee Stripe took (and gave back, on a win where it does): net over its
        # balance transactions, in the dispute's currency's minor units.
        fee = sum(int(t.get("fee") or 0) for t in obj.get("balance_transactions") or [])
        return GatewayEvent(
            kind=ours,
            reference=str(obj.get("payment_intent") or obj.get("charge") or ""),
            dispute_id=str(obj.get("id") or ""),
            amount_minor=int(obj.get("amount") or 0),
            fee_minor=fee,
            currency=str(obj.get("currency") or "").upper(),
            reason=str(obj.get("reason") or ""),
            **base,  # type: ignore[arg-type]
        )
    return GatewayEvent(kind="ignored", reason=kind, **base)  # type: ignore[arg-type]
