"""Adyen's standard webhooks (ADR 0038): a JSON body `{"live", "notificationItems":
[{"NotificationRequestItem": {...}}]}` whose item carries its HMAC-SHA256 signature in
`additionalData.hmacSignature`, verified with the SDK's own utility under the hex HMAC key
of the webhook (credential `hmac_key`), then translated to a GatewayEvent.

Adyen sends one item per call and retries a call until it is answered 2xx, so the same
item arrives more than once: its event id is the same each time (eventCode, pspReference,
success), and duplicates are dropped by the core on that id.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from Adyen import util as adyen_util

from billing.plugins.engines import GatewayEvent, GatewayOutcome, GatewayStatus, WebhookRejected

from .outcomes import decline_code

# Dispute events (all events of one dispute share its pspReference; originalReference is
# the disputed payment). CHARGEBACK means the money was taken: still open until decided.
_DISPUTE_KINDS: Mapping[str, str] = {
    "NOTIFICATION_OF_CHARGEBACK": "dispute.opened",
    "DISPUTE_OPENED_WITH_CHARGEBACK": "dispute.opened",
    "CHARGEBACK": "dispute.opened",
    "CHARGEBACK_REVERSED": "dispute.won",
    "PREARBITRATION_WON": "dispute.won",
    "ISSUER_RESPONSE_TIMEFRAME_EXPIRED": "dispute.won",
    "SECOND_CHARGEBACK": "dispute.lost",
    "PREARBITRATION_LOST": "dispute.lost",
}
# additionalData.disputeStatus values that close a dispute against us.
_LOST_STATUSES = {"Lost", "Accepted", "Expired"}


def _item(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise WebhookRejected("the Adyen webhook body is not JSON") from error
    items = payload.get("notificationItems") if isinstance(payload, dict) else None
    if not isinstance(items, list) or len(items) != 1:
        # Adyen's JSON webhooks carry exactly one item; a batch we would half-apply.
        raise WebhookRejected("an Adyen webhook carries exactly one notificationItems entry")
    wrapper = items[0]
    item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
    if not isinstance(item, dict):
        raise WebhookRejected("the Adyen webhook has no NotificationRequestItem")
    return item


def verify(item: dict[str, Any], hmac_key: str) -> None:
    """Raises WebhookRejected unless the item's signature verifies under `hmac_key`."""
    extra = item.get("additionalData")
    if not hmac_key:
        raise WebhookRejected("the Adyen gateway has no hmac_key credential")
    if not isinstance(extra, dict) or not extra.get("hmacSignature"):
        raise WebhookRejected("the Adyen webhook is not signed (no additionalData.hmacSignature)")
    amount = item.get("amount")
    if not isinstance(amount, dict):
        raise WebhookRejected("the Adyen webhook item has no amount")
    try:
        valid = adyen_util.is_valid_hmac_notification(item, hmac_key)
    except (binascii.Error, ValueError) as error:
        raise WebhookRejected("the Adyen hmac_key credential is not hexadecimal") from error
    if not valid:
        raise WebhookRejected("the Adyen webhook signature does not verify")


def _occurred_at(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def event_id(item: Mapping[str, Any]) -> str:
    # Adyen gives no event id: eventCode + pspReference is unique per event, and `success`
    # is part of it because a failed event may be followed by a successful one.
    return f"{item.get('eventCode', '')}:{item.get('pspReference', '')}:{item.get('success', '')}"


def translate(item: Mapping[str, Any]) -> GatewayEvent:
    """A verified item as a GatewayEvent (`ignored` for events we do not act on)."""
    code = str(item.get("eventCode", ""))
    success = str(item.get("success", "")).lower() == "true"
    psp = str(item.get("pspReference", ""))
    original = str(item.get("originalReference", ""))
    merchant_reference = str(item.get("merchantReference", ""))
    reason = str(item.get("reason", ""))
    amount = item.get("amount") or {}
    value = int(amount.get("value", 0) or 0)
    currency = str(amount.get("currency", ""))
    extra = item.get("additionalData") or {}
    common: dict[str, Any] = {
        "event_id": event_id(item),
        "amount_minor": value,
        "currency": currency,
        "reason": reason,
        "occurred_at": _occurred_at(str(item.get("eventDate", ""))),
    }
    if code == "AUTHORISATION":
        # The payment's own pspReference; merchantReference is our idempotency key.
        if success:
            outcome = GatewayOutcome(
                GatewayStatus.SUCCEEDED, psp, gateway_code=code, amount_minor=value
            )
            kind = "charge.succeeded"
        else:
            outcome = GatewayOutcome(
                GatewayStatus.FAILED,
                psp,
                decline_code=decline_code(reason, "", str(extra.get("refusalReasonRaw", ""))),
                gateway_code=f"{code}:{reason}",
                message=f"Adyen refused the payment: {reason or 'no reason given'}",
            )
            kind = "charge.failed"
        return GatewayEvent(
            kind=kind,
            reference=psp,
            idempotency_key=merchant_reference,
            outcome=outcome,
            **common,
        )
    if code in {"REFUND", "REFUND_FAILED", "REFUNDED_REVERSED"}:
        # The refund's pspReference; originalReference is the payment's.
        ok = code == "REFUND" and success
        status = GatewayStatus.SUCCEEDED if ok else GatewayStatus.FAILED
        return GatewayEvent(
            kind="refund.succeeded" if ok else "refund.failed",
            reference=psp,
            idempotency_key=merchant_reference,
            outcome=GatewayOutcome(
                status,
                psp,
                gateway_code=code,
                message="" if ok else f"Adyen: {code.lower()} {reason}".strip(),
                amount_minor=value,
            ),
            **common,
        )
    dispute_kind = _DISPUTE_KINDS.get(code)
    if dispute_kind is not None:
        if code == "CHARGEBACK" and str(extra.get("disputeStatus", "")) in _LOST_STATUSES:
            dispute_kind = "dispute.lost"
        return GatewayEvent(
            kind=dispute_kind,
            reference=original,
            dispute_id=psp,
            **common,
        )
    return GatewayEvent(kind="ignored", reference=original or psp, **common)


def parse(body: bytes, hmac_key: str) -> GatewayEvent:
    item = _item(body)
    verify(item, hmac_key)
    return translate(item)
