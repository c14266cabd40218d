"""The `adyen` gateway through Adyen's official SDK (`Adyen`), Checkout API (ADR 0038).

- purchase / authorize: POST /payments with the stored method (`storedPaymentMethodId` = our
  token, `shopperReference` = our customer, `shopperInteraction: ContAuth`,
  `recurringProcessingModel: Subscription`); authorize asks for manual capture.
- capture / void / refund: POST /payments/{pspReference}/captures | cancels | refunds.
- lookup: Adyen has no GET for a payment by our reference; an unknown outcome is settled by
  sending the same request again under the same Idempotency-Key (answered from Adyen's
  idempotency store when it arrived the first time; processed now, once, when it did not),
  or by the webhook, whichever comes first.

Every request carries `Idempotency-Key` (ours, see `wire_key`). The SDK is synchronous: calls
run in a thread. It is forced onto its urllib transport, which never retries (the
`requests` transport would be picked whenever some other package installs `requests`).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import socket
import urllib.error
from collections.abc import Callable, Mapping
from typing import Any

import Adyen
from Adyen.exceptions import AdyenAPIResponseError, AdyenError

from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayEvent,
    GatewayOutcome,
    GatewayStatus,
    GatewayUnavailable,
    LookupRequest,
    RefundRequest,
)

from . import webhooks
from .outcomes import error_outcome, modification_outcome, payment_outcome

API_VERSION = "v72"  # what Adyen 16.x's Checkout service speaks
TEST_ENDPOINT = f"https://checkout-test.adyen.com/{API_VERSION}"
LIVE_ENDPOINT = "https://{prefix}-checkout-live.adyenpayments.com/checkout/" + API_VERSION
KEY_MAX = 64  # Adyen's Idempotency-Key limit
REFERENCE_MAX = 80  # Adyen's `reference` limit
METADATA_MAX = 20  # Adyen's metadata: at most 20 entries, keys 20 chars, values 80


def wire_key(key: str) -> str:
    """Our idempotency key as Adyen takes it: as is up to 64 characters, else a stable
    digest of it (the same attempt always sends the same key)."""
    if len(key) <= KEY_MAX:
        return key
    return "billing-" + hashlib.sha256(key.encode()).hexdigest()[: KEY_MAX - 8]


def endpoint_for(connection: GatewayConnection) -> str:
    """The Checkout API base: the operator's endpoint, else Adyen's test or live host."""
    if connection.endpoint:
        return connection.endpoint.rstrip("/")
    if connection.settings.get("environment", "test") == "live":
        return LIVE_ENDPOINT.format(prefix=connection.settings["live_endpoint_prefix"])
    return TEST_ENDPOINT


class _Client(Adyen.AdyenClient):  # type: ignore[misc]
    """The SDK's client with the URL left alone: we compute the endpoint ourselves, and the
    SDK's own test/live host rewriting would mangle an operator's endpoint."""

    def _determine_api_url(self, platform: str, endpoint: str) -> str:
        return endpoint


class AdyenGateway:
    def __init__(self, connection: GatewayConnection) -> None:
        self.connection = connection
        settings = connection.settings
        self.merchant_account = str(settings.get("merchant_account", ""))
        self.method_type = str(settings.get("payment_method_type", "scheme"))
        self.hmac_key = connection.credentials.get("hmac_key", "")
        client = _Client(
            xapikey=connection.credentials.get("api_key", ""),
            platform="live" if settings.get("environment") == "live" else "test",
            http_force="urllib",
            http_timeout=connection.timeout_s,
            merchant_account=self.merchant_account,
        )
        checkout = Adyen.AdyenCheckoutApi(client=client)
        base = endpoint_for(connection)
        checkout.payments_api.baseUrl = base
        checkout.modifications_api.baseUrl = base
        self._payments = checkout.payments_api
        self._modifications = checkout.modifications_api

    # --- request bodies (deterministic: a replay must send the same request) -------------

    def _amount(self, amount_minor: int, currency: str) -> dict[str, Any]:
        return {"value": amount_minor, "currency": currency.upper()}

    def payment_body(self, request: ChargeRequest) -> dict[str, Any]:
        key = wire_key(request.idempotency_key)
        body: dict[str, Any] = {
            "merchantAccount": self.merchant_account,
            "amount": self._amount(request.amount_minor, request.currency),
            "reference": key[:REFERENCE_MAX],
            "paymentMethod": {"type": self.method_type, "storedPaymentMethodId": request.token},
            "shopperReference": request.customer_reference,
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "Subscription",
        }
        metadata = dict(request.metadata)
        if request.description:
            metadata["description"] = request.description
        if metadata:
            body["metadata"] = {
                str(k)[:20]: str(v)[:80] for k, v in sorted(metadata.items())[:METADATA_MAX]
            }
        if not request.capture:
            body["additionalData"] = {"manualCapture": "true"}
        return body

    def refund_body(self, request: RefundRequest) -> dict[str, Any]:
        return {
            "merchantAccount": self.merchant_account,
            "amount": self._amount(request.amount_minor, request.currency),
            "reference": wire_key(request.idempotency_key)[:REFERENCE_MAX],
        }

    # --- the call -------------------------------------------------------------------------

    async def _call(
        self,
        send: Callable[..., Any],
        *args: Any,
        key: str,
        on_answer: Callable[[Mapping[str, Any]], GatewayOutcome],
    ) -> GatewayOutcome:
        """One SDK call in a thread, its answer or failure as an outcome; raises
        GatewayUnavailable only when the request certainly did not reach Adyen or was
        certainly not processed."""
        try:
            result = await asyncio.to_thread(send, *args, idempotency_key=wire_key(key))
        except AdyenAPIResponseError as error:
            body = error.message if isinstance(error.message, dict) else {}
            status = int(error.status_code or 0)
            outcome = error_outcome(status, body)
            if outcome is None:
                raise GatewayUnavailable(
                    f"Adyen did not process the request (HTTP {status})"
                ) from None
            return outcome
        except urllib.error.URLError as error:
            # Raised while connecting or sending: refused or unresolvable means never sent.
            if isinstance(error.reason, ConnectionRefusedError | socket.gaierror):
                raise GatewayUnavailable(f"Adyen unreachable: {error.reason}") from None
            return _unknown(f"Adyen connection failed: {error.reason}")
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            # After sending: a timeout, reset or lost reply may follow a processed request.
            return _unknown(f"no answer from Adyen: {type(error).__name__}: {error}")
        except AdyenError as error:
            return _unknown(f"Adyen SDK error: {error}")
        message = result.message if isinstance(result.message, dict) else {}
        return on_answer(message)

    # --- PaymentGateway -------------------------------------------------------------------

    async def purchase(self, request: ChargeRequest) -> GatewayOutcome:
        return await self._call(
            self._payments.payments,
            self.payment_body(request),
            key=request.idempotency_key,
            on_answer=lambda body: payment_outcome(body, request.amount_minor),
        )

    async def authorize(self, request: ChargeRequest) -> GatewayOutcome:
        if request.capture:
            request = ChargeRequest(**{**request.__dict__, "capture": False})
        return await self.purchase(request)

    async def capture(
        self, idempotency_key: str, reference: str, amount_minor: int, currency: str
    ) -> GatewayOutcome:
        body = {
            "merchantAccount": self.merchant_account,
            "amount": self._amount(amount_minor, currency),
            "reference": wire_key(idempotency_key)[:REFERENCE_MAX],
        }
        return await self._call(
            self._modifications.capture_authorised_payment,
            body,
            reference,
            key=idempotency_key,
            on_answer=lambda answer: modification_outcome(answer, amount_minor),
        )

    async def void(self, idempotency_key: str, reference: str) -> GatewayOutcome:
        body = {
            "merchantAccount": self.merchant_account,
            "reference": wire_key(idempotency_key)[:REFERENCE_MAX],
        }
        return await self._call(
            self._modifications.cancel_authorised_payment_by_psp_reference,
            body,
            reference,
            key=idempotency_key,
            on_answer=lambda answer: modification_outcome(answer, None),
        )

    async def refund(self, request: RefundRequest) -> GatewayOutcome:
        return await self._call(
            self._modifications.refund_captured_payment,
            self.refund_body(request),
            request.charge_reference,
            key=request.idempotency_key,
            on_answer=lambda answer: modification_outcome(answer, request.amount_minor),
        )

    async def lookup(self, request: LookupRequest) -> GatewayOutcome:
        """Replay the original request under its key (ADR 0038). Never `not_found`: a
        request Adyen never saw is processed by the replay, once, and that is its outcome."""
        original = request.original
        if original is not None and original.idempotency_key != request.idempotency_key:
            return _unknown("the lookup's original request has another idempotency key")
        try:
            if isinstance(original, ChargeRequest):
                return await self.purchase(original)
            if isinstance(original, RefundRequest):
                return await self.refund(original)
        except GatewayUnavailable as error:
            return _unknown(f"lookup not possible now: {error}")
        return _unknown("Adyen has no status lookup; waiting for its webhook")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        return webhooks.parse(body, self.hmac_key)


def _unknown(message: str) -> GatewayOutcome:
    return GatewayOutcome(GatewayStatus.UNKNOWN, message=message)
