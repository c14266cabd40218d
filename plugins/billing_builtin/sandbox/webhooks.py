"""The sandbox's webhooks: a JSON body signed with HMAC-SHA256 in `x-sandbox-signature`.

    {"id": "evt_...", "type": "charge.succeeded", "created": 1767225600,
     "data": {"reference", "idempotency_key", "amount_minor", "currency", "decline_code",
              "dispute_id", "fee_minor", "reason"}}

The secret: the connection's credential `webhook_secret`, else the settings' `webhook_secret`,
else DEFAULT_SECRET. `build` and `signed_headers` let a test (or `make run`) send one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeGuard

from billing.domain.limits import AMOUNT_MINOR_MAX, INSTANT_SECONDS_MAX
from billing.plugins.engines import (
    DECLINE_CODES,
    GatewayEvent,
    GatewayOutcome,
    GatewayStatus,
    WebhookRejected,
)

SIGNATURE_HEADER = "x-sandbox-signature"
DEFAULT_SECRET = "whsec_sandbox_test"
BODY_BYTES_MAX = 64 * 1024  # a sandbox event is a few hundred bytes
EVENT_KINDS: Mapping[str, GatewayStatus | None] = {
    "charge.succeeded": GatewayStatus.SUCCEEDED,
    "charge.failed": GatewayStatus.FAILED,
    "charge.requires_action": GatewayStatus.REQUIRES_ACTION,
    "refund.succeeded": GatewayStatus.SUCCEEDED,
    "refund.failed": GatewayStatus.FAILED,
    "dispute.opened": None,
    "dispute.won": None,
    "dispute.lost": None,
}
_TEXT_FIELDS = ("reference", "idempotency_key", "currency", "decline_code", "dispute_id", "reason")
_AMOUNT_FIELDS = ("amount_minor", "fee_minor")


def secret_for(credentials: Mapping[str, str], settings: Mapping[str, Any]) -> str:
    secret = credentials.get("webhook_secret") or settings.get("webhook_secret")
    return secret if isinstance(secret, str) and secret else DEFAULT_SECRET


def sign(body: bytes, secret: str = DEFAULT_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, secret: str = DEFAULT_SECRET) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, secret), "content-type": "application/json"}


def build(
    kind: str,
    *,
    event_id: str = "",
    created: int = 0,
    reference: str = "",
    idempotency_key: str = "",
    amount_minor: int = 0,
    currency: str = "",
    decline_code: str = "",
    dispute_id: str = "",
    fee_minor: int = 0,
    reason: str = "",
) -> bytes:
    """A webhook body. The event id defaults to one derived from the content, so building the
    same event twice gives the duplicate a gateway would send."""
    data = {
        "reference": reference,
        "idempotency_key": idempotency_key,
        "amount_minor": amount_minor,
        "currency": currency,
        "decline_code": decline_code,
        "dispute_id": dispute_id,
        "fee_minor": fee_minor,
        "reason": reason,
    }
    if not event_id:
        digest = hashlib.sha256(json.dumps([kind, data], sort_keys=True).encode()).hexdigest()
        event_id = "evt_" + digest[:24]
    event = {"id": event_id, "type": kind, "created": created, "data": data}
    return json.dumps(event, sort_keys=True).encode()


def parse(headers: Mapping[str, str], body: bytes, secret: str) -> GatewayEvent:
    """Verify, then translate; a type we do not act on is kind `ignored` (still verified)."""
    if len(body) > BODY_BYTES_MAX:
        raise WebhookRejected(f"body of {len(body)} bytes, more than {BODY_BYTES_MAX}")
    signature = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), "")
    if not signature:
        raise WebhookRejected(f"no {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(signature.strip().lower(), sign(body, secret)):
        raise WebhookRejected(f"{SIGNATURE_HEADER} does not match the body")
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(f"body is not JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the parser recurses: not an event
        raise WebhookRejected("body is not JSON: nested too deep") from None
    if not isinstance(event, dict):
        raise WebhookRejected("body is not a JSON object")
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not event_id:
        raise WebhookRejected("id must be a non-empty string")
    if not isinstance(kind, str) or not kind:
        raise WebhookRejected("type must be a non-empty string")
    if not _is_count(created) or created >= INSTANT_SECONDS_MAX:
        # Past the instants the server keeps (and past datetime's year 9999 further on).
        raise WebhookRejected("created must be unix seconds before 3000-01-01")
    data = event.get("data", {})
    if not isinstance(data, dict):
        raise WebhookRejected("data must be an object")
    fields = _data_fields(data)
    occurred_at = datetime.fromtimestamp(created, UTC)
    if kind not in EVENT_KINDS:
        return GatewayEvent(event_id, "ignored", occurred_at=occurred_at)
    return GatewayEvent(
        event_id,
        kind,
        reference=fields["reference"],
        idempotency_key=fields["idempotency_key"],
        outcome=_outcome(kind, fields),
        dispute_id=fields["dispute_id"],
        amount_minor=fields["amount_minor"],
        fee_minor=fields["fee_minor"],
        currency=fields["currency"],
        reason=fields["reason"],
        occurred_at=occurred_at,
    )


def _data_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = data.get(name, "")
        if not isinstance(value, str):
            raise WebhookRejected(f"data.{name} must be a string")
        fields[name] = value
    for name in _AMOUNT_FIELDS:
        value = data.get(name, 0)
        if not _is_count(value) or value > AMOUNT_MINOR_MAX:
            raise WebhookRejected(
                f"data.{name} must be a whole number of minor units, from 0 to {AMOUNT_MINOR_MAX}"
            )
        fields[name] = value
    return fields


def _outcome(kind: str, fields: Mapping[str, Any]) -> GatewayOutcome | None:
    status = EVENT_KINDS[kind]
    if status is None:
        return None
    code = fields["decline_code"]
    decline = (
        (code if code in DECLINE_CODES else "generic_decline")
        if status is GatewayStatus.FAILED
        else ""
    )
    return GatewayOutcome(
        status,
        fields["reference"],
        decline_code=decline,
        gateway_code=code,
        amount_minor=fields["amount_minor"] if status is GatewayStatus.SUCCEEDED else None,
    )


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
