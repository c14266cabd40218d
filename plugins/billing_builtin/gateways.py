"""Built-in gateway engine `sandbox`: deterministic outcomes by token, for tests, simulation
clocks and `make run` (like a card network's test numbers, but tokens only).

SEAM (ADR 0034): this first cut answers the success and decline tokens at once and keeps no
ledger; the full sandbox (timeouts, unknown outcomes, late success, 3-D Secure, a ledger of
what it really charged that outlives a SIGKILL of the server, webhooks) replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayEngine,
    GatewayEvent,
    GatewayOutcome,
    GatewayStatus,
    GatewayUnavailable,
    LookupRequest,
    PaymentGateway,
    RefundRequest,
    WebhookRejected,
)
from billing.plugins.hookspecs import hookimpl

# Token -> normalized decline code. Any other token succeeds.
DECLINE_TOKENS: Mapping[str, str] = {
    "tok_decline": "generic_decline",
    "tok_insufficient_funds": "insufficient_funds",
    "tok_do_not_honor": "do_not_honor",
    "tok_expired_card": "expired_card",
    "tok_stolen_card": "stolen_card",
    # SEAM: the rest of the shared vocabulary's declines, until the full sandbox lands.
    "tok_lost_card": "lost_card",
    "tok_incorrect_cvc": "incorrect_cvc",
    "tok_processing_error": "processing_error",
}


def _reference(prefix: str, key: str) -> str:
    return f"{prefix}_" + hashlib.sha256(key.encode()).hexdigest()[:20]


class SandboxGateway:
    def __init__(self, connection: GatewayConnection) -> None:
        self.connection = connection
        # SEAM: an in-memory ledger per connection (idempotency key -> what it really did),
        # until the full sandbox's SQLite ledger lands.
        self._charged: dict[str, GatewayOutcome] = {}
        self._late: dict[str, int] = {}  # tok_late_success: lookups seen

    async def purchase(self, request: ChargeRequest) -> GatewayOutcome:
        reference = _reference("ch", request.idempotency_key)
        done = self._charged.get(request.idempotency_key)
        if done is not None:  # the same key again: what it did the first time
            return done
        token = request.token
        if token == "tok_unavailable":
            raise GatewayUnavailable("the sandbox refuses connections for tok_unavailable")
        if token in {"tok_timeout_not_charged", "tok_server_error"}:
            return GatewayOutcome(GatewayStatus.UNKNOWN, message="no answer (sandbox)")
        decline = DECLINE_TOKENS.get(token)
        if decline is not None:
            return GatewayOutcome(
                GatewayStatus.FAILED,
                reference,
                decline_code=decline,
                gateway_code=decline,
                message=f"declined: {decline.replace('_', ' ')}",
            )
        if token == "tok_requires_action":
            return GatewayOutcome(
                GatewayStatus.REQUIRES_ACTION,
                reference,
                action_url=f"https://sandbox.invalid/3ds/{reference}",
            )
        succeeded = GatewayOutcome(
            GatewayStatus.SUCCEEDED, reference, amount_minor=request.amount_minor
        )
        self._charged[request.idempotency_key] = succeeded
        if token == "tok_timeout_charged":
            return GatewayOutcome(GatewayStatus.UNKNOWN, message="reply lost (sandbox)")
        if token == "tok_late_success":
            self._late[request.idempotency_key] = 0
            return GatewayOutcome(GatewayStatus.PENDING, reference)
        return succeeded

    async def authorize(self, request: ChargeRequest) -> GatewayOutcome:
        return await self.purchase(request)

    async def capture(
        self, idempotency_key: str, reference: str, amount_minor: int, currency: str
    ) -> GatewayOutcome:
        return GatewayOutcome(GatewayStatus.SUCCEEDED, reference, amount_minor=amount_minor)

    async def void(self, idempotency_key: str, reference: str) -> GatewayOutcome:
        return GatewayOutcome(GatewayStatus.SUCCEEDED, reference)

    async def refund(self, request: RefundRequest) -> GatewayOutcome:
        return GatewayOutcome(
            GatewayStatus.SUCCEEDED,
            _reference("re", request.idempotency_key),
            amount_minor=request.amount_minor,
        )

    async def lookup(self, request: LookupRequest) -> GatewayOutcome:
        charged = self._charged.get(request.idempotency_key)
        if charged is None:
            return GatewayOutcome(GatewayStatus.NOT_FOUND)
        if request.idempotency_key in self._late:
            self._late[request.idempotency_key] += 1
            if self._late[request.idempotency_key] < 2:
                return GatewayOutcome(GatewayStatus.PENDING, charged.reference)
        return charged

    @property
    def charged(self) -> dict[str, GatewayOutcome]:
        """SEAM: what this connection really charged, by idempotency key (tests)."""
        return dict(self._charged)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        raise WebhookRejected("the sandbox sends no webhooks yet")


class SandboxEngine:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return []

    def credential_names(self) -> tuple[str, ...]:
        return ()

    def connect(self, connection: GatewayConnection) -> PaymentGateway:
        return SandboxGateway(connection)


@hookimpl
def billing_register_payment_gateways(register: Callable[[str, GatewayEngine], None]) -> None:
    register("sandbox", SandboxEngine())
