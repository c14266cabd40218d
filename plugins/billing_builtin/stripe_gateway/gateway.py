"""The `stripe` gateway: PaymentGateway over Stripe's PaymentIntents and Refunds (ADR 0037).

The SDK's synchronous client runs in a worker thread (asyncio.to_thread), one StripeClient
per connection, pointed at the connection's endpoint, with no retries of its own: a retry
is the core's decision (ADR 0034). Every request carries our idempotency key as its
Idempotency-Key header, lookups included (Stripe ignores it on GET; it ties the logs).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe

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

from .errors import outcome_for
from .outcomes import KEY_FIELD, charge_outcome, refund_outcome, scrub, void_outcome
from .settings import StripeSettings
from .webhooks import parse_event

DEFAULT_ENDPOINT = "https://api.stripe.com"
METADATA_KEYS_MAX = 20  # Stripe takes 50; ours are a handful (tenant, invoice, attempt...)
LIST_PAGE = 100  # Stripe's largest page
# Stripe's refund reasons; any other reason of ours goes into metadata.
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
# Sources where nobody is at the keyboard (ChargeRequest.metadata["source"]).
UNATTENDED_SOURCES = frozenset({"automatic_collection", "dunning_retry"})

T = TypeVar("T")


def _as_dict(value: Any) -> dict[str, Any]:
    return value.to_dict() if hasattr(value, "to_dict") else dict(value)


def _metadata(key: str, extra: Mapping[str, str]) -> dict[str, str]:
    """Our key plus the core's metadata, within Stripe's limits (40-char keys, 500-char
    values, no brackets in keys)."""
    found = {KEY_FIELD: key}
    for name, value in list(extra.items())[:METADATA_KEYS_MAX]:
        clean = name.replace("[", "").replace("]", "")[:40]
        if clean and clean != KEY_FIELD:
            found[clean] = str(value)[:500]
    return found


@dataclass(frozen=True)
class _Found:
    outcome: GatewayOutcome | None  # None: not found


class StripeGateway:
    def __init__(self, connection: GatewayConnection, settings: StripeSettings) -> None:
        self.connection = connection
        self.settings = settings
        self._api_key = connection.credentials.get("api_key", "")
        self._webhook_secret = connection.credentials.get("webhook_secret", "")
        endpoint = (connection.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._client = stripe.StripeClient(
            self._api_key or "sk_missing",
            base_addresses={"api": endpoint},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=connection.timeout_s),
        )

    # --- calls -------------------------------------------------------------------------

    async def _send(self, key: str, call: Callable[[stripe.RequestOptions], T]) -> T:
        """Run one SDK call off the event loop with our Idempotency-Key."""
        if not self._api_key:
            raise GatewayUnavailable(f"gateway {self.connection.name}: no api_key credential")
        return await asyncio.to_thread(call, {"idempotency_key": key})

    async def _act(
        self,
        key: str,
        call: Callable[[stripe.RequestOptions], Any],
        read: Callable[..., GatewayOutcome],
    ) -> GatewayOutcome:
        try:
            answer = await self._send(key, call)
        except stripe.StripeError as error:
            return outcome_for(error, self.connection.timeout_s)
        return read(_as_dict(answer))

    # --- PaymentGateway ----------------------------------------------------------------

    def _intent_params(self, request: ChargeRequest, capture: bool) -> dict[str, Any]:
        payment_method, customer = request.token, ""
        if self.settings.customer_in_token and ":" in request.token:
            customer, payment_method = request.token.split(":", 1)
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "payment_method": payment_method,
            "confirm": True,
            "capture_method": "automatic" if capture else "manual",
            "metadata": _metadata(request.idempotency_key, request.metadata),
        }
        if customer:
            params["customer"] = customer
        if request.description:
            params["description"] = request.description[:1000]
        if self._off_session(request):
            params["off_session"] = True
        if self.settings.return_url:
            params["return_url"] = self.settings.return_url
        else:
            # No page to come back to: only methods that never redirect the customer.
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        return params

    def _off_session(self, request: ChargeRequest) -> bool:
        if self.settings.off_session == "always":
            return True
        if self.settings.off_session == "never":
            return False
        # SEAM: the core passes the attempt's source in ChargeRequest.metadata["source"].
        return request.metadata.get("source", "") in UNATTENDED_SOURCES

    async def _intent(self, request: ChargeRequest, capture: bool) -> GatewayOutcome:
        params = self._intent_params(request, capture)
        return await self._act(
            request.idempotency_key,
            lambda options: self._client.v1.payment_intents.create(params, options),  # type: ignore[arg-type]
            charge_outcome,
        )

    async def purchase(self, request: ChargeRequest) -> GatewayOutcome:
        return await self._intent(request, capture=request.capture)

    async def authorize(self, request: ChargeRequest) -> GatewayOutcome:
        return await self._intent(request, capture=False)

    async def capture(
        self, idempotency_key: str, reference: str, amount_minor: int, currency: str
    ) -> GatewayOutcome:
        return await self._act(
            idempotency_key,
            lambda options: self._client.v1.payment_intents.capture(
                reference, {"amount_to_capture": amount_minor}, options
            ),
            charge_outcome,
        )

    async def void(self, idempotency_key: str, reference: str) -> GatewayOutcome:
        return await self._act(
            idempotency_key,
            lambda options: self._client.v1.payment_intents.cancel(reference, None, options),
            void_outcome,
        )

    async def refund(self, request: RefundRequest) -> GatewayOutcome:
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "metadata": _metadata(request.idempotency_key, {}),
        }
        on = "charge" if request.charge_reference.startswith(("ch_", "py_")) else "payment_intent"
        params[on] = request.charge_reference
        if request.reason in REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            params["metadata"]["reason"] = request.reason[:500]
        return await self._act(
            request.idempotency_key,
            lambda options: self._client.v1.refunds.create(params, options),  # type: ignore[arg-type]
            refund_outcome,
        )

    async def lookup(self, request: LookupRequest) -> GatewayOutcome:
        """By reference when we have one (strongly consistent), else by our key in the
        metadata: Stripe's search, then a bounded list of recent objects, because search
        can lag behind writes (ADR 0037). `not_found` only when both say so."""
        try:
            if request.kind == "refund":
                found = await self._find_refund(request)
            else:
                found = await self._find_intent(request)
        except GatewayUnavailable as error:
            return GatewayOutcome(GatewayStatus.UNKNOWN, message=scrub(str(error)))
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return GatewayOutcome(GatewayStatus.NOT_FOUND, request.reference)
            return GatewayOutcome(GatewayStatus.UNKNOWN, message=scrub(str(error.user_message)))
        except stripe.StripeError as error:
            try:
                outcome = outcome_for(error, self.connection.timeout_s)
            except GatewayUnavailable as unavailable:
                return GatewayOutcome(GatewayStatus.UNKNOWN, message=scrub(str(unavailable)))
            # A lookup's own failure says nothing about the charge: still unknown.
            return GatewayOutcome(GatewayStatus.UNKNOWN, message=outcome.message)
        if found.outcome is None:
            return GatewayOutcome(GatewayStatus.NOT_FOUND, request.reference)
        return found.outcome

    def _ours(self, obj: Mapping[str, Any], key: str) -> bool:
        return (obj.get("metadata") or {}).get(KEY_FIELD) == key

    async def _find_intent(self, request: LookupRequest) -> _Found:
        key = request.idempotency_key
        if request.reference.startswith("pi_"):
            intent = await self._send(
                key, lambda o: self._client.v1.payment_intents.retrieve(request.reference, None, o)
            )
            return _Found(charge_outcome(_as_dict(intent)))
        query = f"metadata['{KEY_FIELD}']:'{key.replace(chr(39), '')}'"
        result = await self._send(
            key, lambda o: self._client.v1.payment_intents.search({"query": query}, o)
        )
        for intent in _as_dict(result).get("data") or []:
            if self._ours(intent, key):
                return _Found(charge_outcome(intent))
        listed = await self._scan(
            key,
            self._client.v1.payment_intents.list,  # type: ignore[arg-type]
        )
        return _Found(None if listed is None else charge_outcome(listed))

    async def _find_refund(self, request: LookupRequest) -> _Found:
        key = request.idempotency_key
        if request.reference.startswith("re_"):
            refund = await self._send(
                key, lambda o: self._client.v1.refunds.retrieve(request.reference, None, o)
            )
            return _Found(refund_outcome(_as_dict(refund)))
        narrow: dict[str, Any] = {}
        if request.reference.startswith("pi_"):
            narrow["payment_intent"] = request.reference
        elif request.reference.startswith(("ch_", "py_")):
            narrow["charge"] = request.reference
        listed = await self._scan(
            key,
            lambda params, o: self._client.v1.refunds.list({**params, **narrow}, o),  # type: ignore[arg-type]
        )
        return _Found(None if listed is None else refund_outcome(listed))

    async def _scan(
        self, key: str, page: Callable[[dict[str, Any], stripe.RequestOptions], Any]
    ) -> dict[str, Any] | None:
        """Our object among those created in the lookup window, newest first, at most
        `lookup_pages_max` pages. Raises when the window holds more than that: absence
        is then unproven, and `not_found` would let the core charge again."""
        since = int(time.time()) - self.settings.lookup_window_hours * 3600
        params: dict[str, Any] = {"created": {"gte": since}, "limit": LIST_PAGE}
        for _ in range(self.settings.lookup_pages_max):
            answer = _as_dict(await self._send(key, functools.partial(page, dict(params))))
            data = answer.get("data") or []
            for obj in data:
                if self._ours(obj, key):
                    return dict(obj)
            if not answer.get("has_more") or not data:
                return None
            params["starting_after"] = data[-1]["id"]
        raise GatewayUnavailable(
            f"more than {self.settings.lookup_pages_max * LIST_PAGE} objects in the last "
            f"{self.settings.lookup_window_hours} h: absence not proven"
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        return parse_event(
            headers, body, self._webhook_secret, self._api_key, self.settings.webhook_tolerance_s
        )
